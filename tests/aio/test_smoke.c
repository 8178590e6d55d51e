#include <aio/aio.h>
#include <criterion/criterion.h>
#include <errno.h>

Test(smoke, nop) {
    cr_assert_eq(aio_single(AIO_NOP()), 0);
    int e1 = 1, e2 = 1;
    cr_assert_eq(AIO_MULTI(AIO_NOP(.out_error = &e1, .link = AIO_LINK_SOFT), AIO_NOP(.out_error = &e2)), 0);
    cr_assert_eq(e1, 0);
    cr_assert_eq(e2, 0);
    cr_assert_eq(aio_single(AIO_TIMEOUT(.ns = 1000000)), 0);
}
