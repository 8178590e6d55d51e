/* An outside program: includes caio's installed header the documented way
 * and runs one op. Exit status 0 only if the NOP really ran. */
#include <aio/aio.h>
#include <stdio.h>

int main(void)
{
    int err = 1;
    aio_id id = 0;
    int rc = aio_single(AIO_NOP(.out_error = &err, .out_id = &id));
    printf("caio consumer: aio_single(AIO_NOP()) = %d (%s), out_error %d\n", rc, aio_strerror(rc), err);
    return rc == 0 && err == 0 && id != 0 ? 0 : 1;
}
