/* Names of backends and of error results. */
#include <aio/aio.h>

#include <errno.h>
#include <string.h>

const char *aio_backend_name(enum aio_backend backend)
{
    switch (backend) {
    case AIO_BACKEND_AUTO: return "auto";
    case AIO_BACKEND_IO_URING: return "io_uring";
    case AIO_BACKEND_EPOLL: return "epoll";
    case AIO_BACKEND_POLL: return "poll";
    case AIO_BACKEND_KQUEUE: return "kqueue";
    case AIO_BACKEND_IOCP: return "iocp";
    }
    return "unknown";
}

/* The symbolic names of the errno values caio reports, so messages read the
 * same on every platform whatever the C library's wording. */
static const char *errno_name(int e)
{
    switch (e) {
#define N(x) case x: return #x;
    N(EPERM) N(ENOENT) N(ESRCH) N(EINTR) N(EIO) N(ENXIO) N(E2BIG) N(EBADF) N(ECHILD) N(EAGAIN)
    N(ENOMEM) N(EACCES) N(EFAULT) N(EBUSY) N(EEXIST) N(EXDEV) N(ENODEV) N(ENOTDIR) N(EISDIR)
    N(EINVAL) N(ENFILE) N(EMFILE) N(ENOTTY) N(EFBIG) N(ENOSPC) N(ESPIPE) N(EROFS) N(EMLINK)
    N(EPIPE) N(ERANGE) N(ENAMETOOLONG) N(ENOSYS) N(ENOTEMPTY) N(ELOOP) N(ENOTSOCK)
    N(EDESTADDRREQ) N(EMSGSIZE) N(EPROTOTYPE) N(ENOPROTOOPT) N(EPROTONOSUPPORT) N(EOPNOTSUPP)
    N(EAFNOSUPPORT) N(EADDRINUSE) N(EADDRNOTAVAIL) N(ENETDOWN) N(ENETUNREACH) N(ECONNABORTED)
    N(ECONNRESET) N(ENOBUFS) N(EISCONN) N(ENOTCONN) N(ETIMEDOUT) N(ECONNREFUSED) N(EHOSTUNREACH)
    N(EALREADY) N(EINPROGRESS) N(ECANCELED) N(EOVERFLOW)
#undef N
    default: return NULL;
    }
}

const char *aio_strerror(int err)
{
    if (err == 0) return "success";
    /* -INT_MIN does not fit an int: widen before negating */
    long long wide = err < 0 ? -(long long)err : err;
    int e = wide <= 4095 ? (int)wide : 0;
    const char *name = e ? errno_name(e) : NULL;
    if (!name) return "unknown error";
    /* "ECONNRESET: Connection reset by peer", built in a per-thread buffer so
     * the name reads the same on every platform and the call is thread-safe. */
    static _Thread_local char buf[160];
    const char *text = strerror(e);
    size_t nl = strlen(name), tl = strlen(text);
    if (nl + 2 + tl >= sizeof buf) tl = sizeof buf - nl - 3;
    memcpy(buf, name, nl);
    memcpy(buf + nl, ": ", 2);
    memcpy(buf + nl + 2, text, tl);
    buf[nl + 2 + tl] = '\0';
    return buf;
}
