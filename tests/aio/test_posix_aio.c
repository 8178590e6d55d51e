/*
 * POSIX <aio.h> and caio's <aio/aio.h> in one translation unit, linked with
 * -lrt, both really used: no name of caio may clash with POSIX AIO.
 */
#include <aio.h>
#include <aio/aio.h>

#include "helpers.h"

TestSuite(posix_aio, .timeout = 20);

Test(posix_aio, both_in_one_unit)
{
    char dir[64], path[128];
    tmpdir_make(dir);
    path_in(path, sizeof path, dir, "shared");
    int fd = -1;
    size_t w = 0;
    /* caio writes the file ... */
    cr_assert_eq(aio_single(AIO_OPENAT(.path = path, .flags = O_RDWR | O_CREAT | O_CLOEXEC, .mode = 0600,
                                       .out_fd = &fd)), 0);
    cr_assert_eq(aio_single(AIO_WRITE(.fd = fd, .buf = "written by caio", .len = 15, .offset = 0,
                                      .out_written = &w)), 0);
    cr_assert_eq(w, 15);

    /* ... POSIX AIO reads it back */
    char buf[32] = { 0 };
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = sizeof buf;
    cb.aio_offset = 8;
    cr_assert_eq(aio_read(&cb), 0, "aio_read: %s", strerror(errno));
    const struct aiocb *list[1] = { &cb };
    while (aio_error(&cb) == EINPROGRESS) aio_suspend(list, 1, NULL);
    cr_assert_eq(aio_error(&cb), 0);
    cr_assert_eq(aio_return(&cb), 7);
    cr_assert_arr_eq(buf, "by caio", 7);

    /* POSIX AIO writes, caio reads */
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = (void *)"POSIX";
    cb.aio_nbytes = 5;
    cb.aio_offset = 0;
    cr_assert_eq(aio_write(&cb), 0);
    while (aio_error(&cb) == EINPROGRESS) aio_suspend(list, 1, NULL);
    cr_assert_eq(aio_return(&cb), 5);
    size_t r = 0;
    cr_assert_eq(aio_single(AIO_READ(.fd = fd, .buf = buf, .len = sizeof buf, .offset = 0, .out_read = &r)), 0);
    cr_assert_eq(r, 15);
    cr_assert_arr_eq(buf, "POSIXen by caio", 15);
    cr_assert_eq(aio_single(AIO_CLOSE(.fd = fd)), 0);
    tmpdir_remove(dir);
}
