/*
 * File-system kinds on real files in a per-test temporary directory: every
 * op's effect is checked with plain syscalls afterwards.
 */
#include "helpers.h"

#include <limits.h>

static char dir[64];
static void fs_setup(void) { tmpdir_make(dir); }
static void fs_teardown(void) { tmpdir_remove(dir); }

TestSuite(fs, .init = fs_setup, .fini = fs_teardown, .timeout = 20);

static int dir_fd(void)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    return fd;
}

/* OPENAT creates, WRITE at offsets (a hole between), READ at offsets, CLOSE. */
Test(fs, openat_write_read_at_offsets_close)
{
    char path[128];
    path_in(path, sizeof path, dir, "f");
    int fd = -7, e = 1;
    cr_assert_eq(aio_single(AIO_OPENAT(.path = path, .flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, .mode = 0640,
                                       .out_fd = &fd, .out_error = &e)), 0);
    cr_assert_eq(e, 0);
    cr_assert_geq(fd, 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    mode_t um = umask(0);
    umask(um);
    cr_assert_eq(st.st_mode & 0777, 0640 & ~um, "OPENAT ignored its mode");

    size_t w1 = 0, w2 = 0;
    cr_assert_eq(AIO_MULTI(AIO_WRITE(.fd = fd, .buf = "hello", .len = 5, .offset = 0, .out_written = &w1),
                           AIO_WRITE(.fd = fd, .buf = "world", .len = 5, .offset = 10, .out_written = &w2)), 0);
    cr_assert_eq(w1, 5);
    cr_assert_eq(w2, 5);
    char buf[32];
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), 15);
    cr_assert_arr_eq(buf, "hello\0\0\0\0\0world", 15);

    size_t r1 = 0, r2 = 0, r3 = 99;
    char a[3], b[8], c[4];
    cr_assert_eq(AIO_MULTI(AIO_READ(.fd = fd, .buf = a, .len = 3, .offset = 2, .out_read = &r1),
                           AIO_READ(.fd = fd, .buf = b, .len = sizeof b, .offset = 10, .out_read = &r2),
                           AIO_READ(.fd = fd, .buf = c, .len = sizeof c, .offset = 15, .out_read = &r3)), 0);
    cr_assert_eq(r1, 3);
    cr_assert_arr_eq(a, "llo", 3);
    cr_assert_eq(r2, 5, "a read past the end is short, not an error");
    cr_assert_arr_eq(b, "world", 5);
    cr_assert_eq(r3, 0, "a read at the end reads 0 bytes");
    /* explicit offsets never move the file position */
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 0);

    cr_assert_eq(aio_single(AIO_CLOSE(.fd = fd)), 0);
    cr_assert_not(fd_open(fd));
    cr_assert_eq(aio_single(AIO_CLOSE(.fd = fd)), -EBADF, "closing a closed fd");
}

/* AIO_OFFSET_CURRENT uses and advances the file position, in chain order. */
Test(fs, offset_current_follows_the_position)
{
    char path[128];
    path_in(path, sizeof path, dir, "cur");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(AIO_MULTI(AIO_WRITE(.fd = fd, .buf = "abc", .len = 3, .offset = AIO_OFFSET_CURRENT, .link = AIO_LINK_SOFT),
                           AIO_WRITE(.fd = fd, .buf = "def", .len = 3, .offset = AIO_OFFSET_CURRENT, .link = AIO_LINK_SOFT),
                           AIO_WRITE(.fd = fd, .buf = "gh", .len = 2, .offset = AIO_OFFSET_CURRENT)), 0);
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 8, "the position did not advance");
    char buf[16];
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), 8);
    cr_assert_arr_eq(buf, "abcdefgh", 8);

    cr_assert_eq(lseek(fd, 2, SEEK_SET), 2);
    char x[3], y[3];
    size_t rx = 0, ry = 0;
    cr_assert_eq(AIO_MULTI(AIO_READ(.fd = fd, .buf = x, .len = 3, .offset = AIO_OFFSET_CURRENT, .out_read = &rx,
                                    .link = AIO_LINK_SOFT),
                           AIO_READ(.fd = fd, .buf = y, .len = 3, .offset = AIO_OFFSET_CURRENT, .out_read = &ry)), 0);
    cr_assert_eq(rx, 3);
    cr_assert_eq(ry, 3);
    cr_assert_arr_eq(x, "cde", 3);
    cr_assert_arr_eq(y, "fgh", 3);
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 8);

    /* offset 0 is an offset, not "current" */
    cr_assert_eq(aio_single(AIO_WRITE(.fd = fd, .buf = "Z", .len = 1, .offset = 0)), 0);
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 8);
    cr_assert_eq(pread(fd, buf, 1, 0), 1);
    cr_assert_eq(buf[0], 'Z');
    close(fd);
}

Test(fs, readv_writev)
{
    char path[128];
    path_in(path, sizeof path, dir, "vec");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    struct iovec out[3] = { { "0123", 4 }, { "45", 2 }, { "6789", 4 } };
    size_t w = 0;
    cr_assert_eq(aio_single(AIO_WRITEV(.fd = fd, .iov = out, .iovcnt = 3, .offset = 4, .out_written = &w)), 0);
    cr_assert_eq(w, 10);
    char all[16];
    cr_assert_eq(pread(fd, all, sizeof all, 0), 14);
    cr_assert_arr_eq(all, "\0\0\0\0" "0123456789", 14);

    char a[3], b[6];
    struct iovec in[2] = { { a, 3 }, { b, 6 } };
    size_t r = 0;
    cr_assert_eq(aio_single(AIO_READV(.fd = fd, .iov = in, .iovcnt = 2, .offset = 5, .out_read = &r)), 0);
    cr_assert_eq(r, 9);
    cr_assert_arr_eq(a, "123", 3);
    cr_assert_arr_eq(b, "456789", 6);

    /* at the current position, advancing it */
    cr_assert_eq(lseek(fd, 0, SEEK_END), 14);
    struct iovec more[2] = { { "AB", 2 }, { "C", 1 } };
    cr_assert_eq(aio_single(AIO_WRITEV(.fd = fd, .iov = more, .iovcnt = 2, .offset = AIO_OFFSET_CURRENT,
                                       .out_written = &w)), 0);
    cr_assert_eq(w, 3);
    cr_assert_eq(lseek(fd, 0, SEEK_CUR), 17);
    cr_assert_eq(lseek(fd, 12, SEEK_SET), 12);
    char c[5];
    struct iovec in2[1] = { { c, 5 } };
    cr_assert_eq(aio_single(AIO_READV(.fd = fd, .iov = in2, .iovcnt = 1, .offset = AIO_OFFSET_CURRENT, .out_read = &r)), 0);
    cr_assert_eq(r, 5);
    cr_assert_arr_eq(c, "89ABC", 5);
    close(fd);
}

Test(fs, fsync_and_datasync)
{
    char path[128];
    path_in(path, sizeof path, dir, "sync");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int e1 = 1, e2 = 1, e3 = 1;
    cr_assert_eq(AIO_MULTI(AIO_WRITE(.fd = fd, .buf = "durable", .len = 7, .link = AIO_LINK_SOFT, .out_error = &e1),
                           AIO_FSYNC(.fd = fd, .link = AIO_LINK_SOFT, .out_error = &e2),
                           AIO_FSYNC(.fd = fd, .flags = AIO_FSYNC_DATASYNC, .out_error = &e3)), 0);
    cr_assert_eq(e1, 0);
    cr_assert_eq(e2, 0);
    cr_assert_eq(e3, 0);
    char buf[8];
    cr_assert_eq(file_get(path, buf, sizeof buf), 7);
    cr_assert_arr_eq(buf, "durable", 7);
    close(fd);
    cr_assert_eq(aio_single(AIO_FSYNC(.fd = fd)), -EBADF);
    cr_assert_eq(aio_single(AIO_FSYNC(.fd = fd, .flags = AIO_FSYNC_DATASYNC)), -EBADF);
}

/* RENAMEAT, both relative to a directory fd and with absolute paths and dirfd
 * left out (0: the current directory, ignored for absolute paths). */
Test(fs, renameat)
{
    char a[128], b[128];
    file_put(path_in(a, sizeof a, dir, "old"), "data", 4);
    int dfd = dir_fd();
    cr_assert_eq(aio_single(AIO_RENAMEAT(.old_dirfd = dfd, .old_path = "old", .new_dirfd = dfd, .new_path = "new")), 0);
    cr_assert_not(path_exists(a));
    char buf[8];
    cr_assert_eq(file_get(path_in(b, sizeof b, dir, "new"), buf, sizeof buf), 4);
    cr_assert_arr_eq(buf, "data", 4);
    cr_assert_eq(aio_single(AIO_RENAMEAT(.old_path = b, .new_path = a)), 0);
    cr_assert(path_exists(a));
    cr_assert_not(path_exists(b));
    cr_assert_eq(aio_single(AIO_RENAMEAT(.old_path = b, .new_path = a)), -ENOENT);
    /* flags reach renameat2: RENAME_NOREPLACE refuses to overwrite */
    file_put(b, "x", 1);
    cr_assert_eq(aio_single(AIO_RENAMEAT(.old_path = b, .new_path = a, .flags = RENAME_NOREPLACE)), -EEXIST);
    cr_assert(path_exists(b));
    close(dfd);
}

Test(fs, mkdirat_unlinkat_removedir)
{
    char d[128], f[128];
    path_in(d, sizeof d, dir, "sub");
    int dfd = dir_fd();
    cr_assert_eq(aio_single(AIO_MKDIRAT(.dirfd = dfd, .path = "sub", .mode = 0710)), 0);
    struct stat st;
    cr_assert_eq(stat(d, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_mode & 0700, 0700);
    cr_assert_eq(aio_single(AIO_MKDIRAT(.path = d, .mode = 0700)), -EEXIST);

    file_put(path_in(f, sizeof f, d, "file"), "x", 1);
    cr_assert_eq(aio_single(AIO_UNLINKAT(.dirfd = dfd, .path = "sub", .flags = AT_REMOVEDIR)), -ENOTEMPTY);
    cr_assert_eq(aio_single(AIO_UNLINKAT(.dirfd = dfd, .path = "sub")), -EISDIR, "unlink of a directory");
    cr_assert_eq(aio_single(AIO_UNLINKAT(.path = f, .flags = AT_REMOVEDIR)), -ENOTDIR);
    cr_assert_eq(aio_single(AIO_UNLINKAT(.path = f)), 0);
    cr_assert_not(path_exists(f));
    cr_assert_eq(aio_single(AIO_UNLINKAT(.path = f)), -ENOENT);
    cr_assert_eq(aio_single(AIO_UNLINKAT(.dirfd = dfd, .path = "sub", .flags = AT_REMOVEDIR)), 0);
    cr_assert_not(path_exists(d));
    close(dfd);
}

Test(fs, symlinkat_then_readlink)
{
    char l[128], t[128];
    path_in(t, sizeof t, dir, "target");
    file_put(t, "via link", 8);
    int dfd = dir_fd();
    cr_assert_eq(aio_single(AIO_SYMLINKAT(.target = "target", .dirfd = dfd, .linkpath = "link")), 0);
    char buf[64];
    ssize_t n = readlink(path_in(l, sizeof l, dir, "link"), buf, sizeof buf);
    cr_assert_eq(n, 6);
    cr_assert_arr_eq(buf, "target", 6);
    struct stat st;
    cr_assert_eq(lstat(l, &st), 0);
    cr_assert(S_ISLNK(st.st_mode));
    cr_assert_eq(file_get(l, buf, sizeof buf), 8, "the link does not lead to its target");
    cr_assert_arr_eq(buf, "via link", 8);
    cr_assert_eq(aio_single(AIO_SYMLINKAT(.target = "elsewhere", .linkpath = l)), -EEXIST);
    close(dfd);
}

/* dirfd left out (0) and AIO_AT_CWD both mean the current directory. */
Test(fs, dirfd_zero_is_cwd)
{
    char old[PATH_MAX];
    cr_assert_not_null(getcwd(old, sizeof old));
    cr_assert_eq(chdir(dir), 0);
    int fd = -1, fd2 = -1;
    cr_assert_eq(aio_single(AIO_OPENAT(.path = "rel", .flags = O_WRONLY | O_CREAT | O_CLOEXEC, .mode = 0600,
                                       .out_fd = &fd)), 0);
    cr_assert_eq(aio_single(AIO_OPENAT(.dirfd = AIO_AT_CWD, .path = "rel", .flags = O_RDONLY | O_CLOEXEC,
                                       .out_fd = &fd2)), 0);
    cr_assert_eq(AIO_MULTI(AIO_MKDIRAT(.path = "d", .mode = 0700, .link = AIO_LINK_SOFT),
                           AIO_RENAMEAT(.old_path = "rel", .new_path = "d/moved", .link = AIO_LINK_SOFT),
                           AIO_SYMLINKAT(.target = "moved", .linkpath = "d/ln")), 0);
    cr_assert_eq(chdir(old), 0);
    char p[128];
    cr_assert(path_exists(path_in(p, sizeof p, dir, "d/moved")));
    cr_assert(path_exists(path_in(p, sizeof p, dir, "d/ln")));
    close(fd);
    close(fd2);
}

Test(fs, openat_failure_outputs)
{
    char path[128];
    path_in(path, sizeof path, dir, "missing/file");
    int fd = 1234, e = 0;
    cr_assert_eq(aio_single(AIO_OPENAT(.path = path, .flags = O_RDONLY, .out_fd = &fd, .out_error = &e)), -ENOENT);
    cr_assert_eq(fd, -1, "out_fd is -1 on failure");
    cr_assert_eq(e, -ENOENT);
    size_t r = 55;
    char b[4];
    cr_assert_eq(aio_single(AIO_READ(.fd = -1, .buf = b, .len = 4, .out_read = &r)), -EBADF);
    cr_assert_eq(r, 0, "out_read is 0 on failure");
}

/* SPLICE file -> pipe at an offset, then pipe -> file at an offset; the
 * offsets the op points at are not updated. */
Test(fs, splice_file_pipe_file)
{
    char src[128], dst[128];
    file_put(path_in(src, sizeof src, dir, "src"), "0123456789abcdef", 16);
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int out = open(path_in(dst, sizeof dst, dir, "dst"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int p[2];
    make_pipe(p);
    int64_t off_in = 4, off_out = 3;
    size_t w1 = 0, w2 = 0;
    cr_assert_eq(AIO_MULTI(AIO_SPLICE(.fd_in = in, .off_in = &off_in, .fd_out = p[1], .len = 6, .out_written = &w1,
                                      .link = AIO_LINK_SOFT),
                           AIO_SPLICE(.fd_in = p[0], .fd_out = out, .off_out = &off_out, .len = 6, .out_written = &w2)), 0);
    cr_assert_eq(w1, 6);
    cr_assert_eq(w2, 6);
    cr_assert_eq(off_in, 4);
    cr_assert_eq(off_out, 3);
    char buf[16];
    cr_assert_eq(pread(out, buf, sizeof buf, 0), 9);
    cr_assert_arr_eq(buf, "\0\0\0" "456789", 9);
    cr_assert_eq(lseek(in, 0, SEEK_CUR), 0, "the input's position moved despite an offset");

    /* without offsets: the file positions are used */
    cr_assert_eq(lseek(in, 10, SEEK_SET), 10);
    cr_assert_eq(aio_single(AIO_SPLICE(.fd_in = in, .fd_out = p[1], .len = 100, .out_written = &w1)), 0);
    cr_assert_eq(w1, 6, "splice stops at the end of the file");
    cr_assert_eq(read(p[0], buf, sizeof buf), 6);
    cr_assert_arr_eq(buf, "abcdef", 6);
    close(p[0]);
    close(p[1]);
    close(in);
    close(out);
}

/* MKDIRAT then OPENAT inside the new directory, chained; a failed MKDIRAT
 * means the OPENAT never runs. */
Test(fs, chain_mkdir_open_write)
{
    char d[128], f[128];
    path_in(d, sizeof d, dir, "nd");
    path_in(f, sizeof f, d, "file");
    int fd = 99;
    cr_assert_eq(AIO_MULTI(AIO_MKDIRAT(.path = d, .mode = 0700, .link = AIO_LINK_SOFT),
                           AIO_OPENAT(.path = f, .flags = O_WRONLY | O_CREAT | O_CLOEXEC, .mode = 0600, .out_fd = &fd)), 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(aio_single(AIO_WRITE(.fd = fd, .buf = "ok", .len = 2)), 0);
    close(fd);
    char buf[4];
    cr_assert_eq(file_get(f, buf, sizeof buf), 2);

    cr_assert_eq(unlink(f), 0);
    int e1 = 0, e2 = 0;
    fd = 99;
    cr_assert_eq(AIO_MULTI(AIO_MKDIRAT(.path = d, .mode = 0700, .link = AIO_LINK_SOFT, .out_error = &e1),
                           AIO_OPENAT(.path = f, .flags = O_WRONLY | O_CREAT | O_CLOEXEC, .mode = 0600, .out_fd = &fd,
                                      .out_error = &e2)), -EEXIST);
    cr_assert_eq(e1, -EEXIST);
    cr_assert_eq(e2, -ECANCELED);
    cr_assert_eq(fd, -1);
    cr_assert_not(path_exists(f), "the cancelled OPENAT ran");
}
