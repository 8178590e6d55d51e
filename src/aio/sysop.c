/* Plain-syscall forms of the kinds, and result rules shared by all backends. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sysop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* read(2) and friends never move more than this in one call on Linux. */
#define AIO_MAX_RW 0x7ffff000u

int aio_dirfd(int dirfd) { return dirfd == 0 ? AT_FDCWD : dirfd; }

int aio_op_fd(const struct aio_op *op, int *second)
{
    if (second) *second = -1;
    switch (op->kind) {
    case AIO_KIND_READ: return op->read.fd;
    case AIO_KIND_WRITE: return op->write.fd;
    case AIO_KIND_READV: return op->readv.fd;
    case AIO_KIND_WRITEV: return op->writev.fd;
    case AIO_KIND_FSYNC: return op->fsync.fd;
    case AIO_KIND_POLL: return op->poll.fd;
    case AIO_KIND_BIND: return op->bind.socket;
    case AIO_KIND_LISTEN: return op->listen.socket;
    case AIO_KIND_ACCEPT: return op->accept.socket;
    case AIO_KIND_CONNECT: return op->connect.socket;
    case AIO_KIND_RECV: return op->recv.socket;
    case AIO_KIND_SEND: return op->send.socket;
    case AIO_KIND_RECVMSG: return op->recvmsg.socket;
    case AIO_KIND_SENDMSG: return op->sendmsg.socket;
    case AIO_KIND_SHUTDOWN: return op->shutdown.socket;
    case AIO_KIND_SPLICE:
        if (second) *second = op->splice.fd_out;
        return op->splice.fd_in;
    default: return -1;
    }
}

static size_t clamp_len(size_t len) { return len > AIO_MAX_RW ? AIO_MAX_RW : len; }

static int ret(ssize_t r) { return r < 0 ? -errno : (int)r; }

int aio_sysop_run(const struct aio_op *op)
{
    switch (op->kind) {
    case AIO_KIND_NOP:
        return 0;
    case AIO_KIND_READ: {
        const struct aio_read *o = &op->read;
        ssize_t r = o->offset == AIO_OFFSET_CURRENT ? read(o->fd, o->buf, clamp_len(o->len))
                                                    : pread(o->fd, o->buf, clamp_len(o->len), o->offset);
        if (r < 0 && errno == ESPIPE) r = read(o->fd, o->buf, clamp_len(o->len));
        return ret(r);
    }
    case AIO_KIND_WRITE: {
        const struct aio_write *o = &op->write;
        ssize_t r = o->offset == AIO_OFFSET_CURRENT ? write(o->fd, o->buf, clamp_len(o->len))
                                                    : pwrite(o->fd, o->buf, clamp_len(o->len), o->offset);
        if (r < 0 && errno == ESPIPE) r = write(o->fd, o->buf, clamp_len(o->len));
        return ret(r);
    }
    case AIO_KIND_READV: {
        const struct aio_readv *o = &op->readv;
        ssize_t r = o->offset == AIO_OFFSET_CURRENT ? readv(o->fd, o->iov, o->iovcnt)
                                                    : preadv(o->fd, o->iov, o->iovcnt, o->offset);
        if (r < 0 && errno == ESPIPE) r = readv(o->fd, o->iov, o->iovcnt);
        return ret(r);
    }
    case AIO_KIND_WRITEV: {
        const struct aio_writev *o = &op->writev;
        ssize_t r = o->offset == AIO_OFFSET_CURRENT ? writev(o->fd, o->iov, o->iovcnt)
                                                    : pwritev(o->fd, o->iov, o->iovcnt, o->offset);
        if (r < 0 && errno == ESPIPE) r = writev(o->fd, o->iov, o->iovcnt);
        return ret(r);
    }
    case AIO_KIND_FSYNC:
        return ret(op->fsync.flags & AIO_FSYNC_DATASYNC ? fdatasync(op->fsync.fd) : fsync(op->fsync.fd));
    case AIO_KIND_OPENAT:
        return ret(openat(aio_dirfd(op->openat.dirfd), op->openat.path, op->openat.flags, (mode_t)op->openat.mode));
    case AIO_KIND_CLOSE:
        return ret(close(op->close.fd));
    case AIO_KIND_RENAMEAT: {
        const struct aio_renameat *o = &op->renameat;
        return ret(renameat2(aio_dirfd(o->old_dirfd), o->old_path, aio_dirfd(o->new_dirfd), o->new_path, o->flags));
    }
    case AIO_KIND_UNLINKAT:
        return ret(unlinkat(aio_dirfd(op->unlinkat.dirfd), op->unlinkat.path, op->unlinkat.flags));
    case AIO_KIND_MKDIRAT:
        return ret(mkdirat(aio_dirfd(op->mkdirat.dirfd), op->mkdirat.path, (mode_t)op->mkdirat.mode));
    case AIO_KIND_SYMLINKAT:
        return ret(symlinkat(op->symlinkat.target, aio_dirfd(op->symlinkat.dirfd), op->symlinkat.linkpath));
    case AIO_KIND_SOCKET:
        return ret(socket(op->socket.domain, op->socket.type, op->socket.protocol));
    case AIO_KIND_BIND:
        return ret(bind(op->bind.socket, op->bind.addr, op->bind.addrlen));
    case AIO_KIND_LISTEN:
        return ret(listen(op->listen.socket, op->listen.backlog ? op->listen.backlog : SOMAXCONN));
    case AIO_KIND_ACCEPT:
        return ret(accept4(op->accept.socket, op->accept.addr, op->accept.addrlen, op->accept.flags));
    case AIO_KIND_CONNECT:
        return ret(connect(op->connect.socket, op->connect.addr, op->connect.addrlen));
    case AIO_KIND_RECV:
        return ret(recv(op->recv.socket, op->recv.buf, clamp_len(op->recv.len), op->recv.flags | MSG_DONTWAIT));
    case AIO_KIND_SEND:
        return ret(send(op->send.socket, op->send.buf, clamp_len(op->send.len),
                        op->send.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
    case AIO_KIND_RECVMSG:
        return ret(recvmsg(op->recvmsg.socket, op->recvmsg.msg, op->recvmsg.flags | MSG_DONTWAIT));
    case AIO_KIND_SENDMSG:
        return ret(sendmsg(op->sendmsg.socket, op->sendmsg.msg, op->sendmsg.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
    case AIO_KIND_SHUTDOWN:
        return ret(shutdown(op->shutdown.socket, op->shutdown.how));
    case AIO_KIND_SPLICE: {
        const struct aio_splice *o = &op->splice;
        loff_t in = o->off_in ? *o->off_in : 0, out = o->off_out ? *o->off_out : 0;
        return ret(splice(o->fd_in, o->off_in ? &in : NULL, o->fd_out, o->off_out ? &out : NULL,
                          o->len, o->flags | SPLICE_F_NONBLOCK));
    }
    case AIO_KIND_EVENT_NOTIFY: {
        int fd = (int)op->event_notify.source->handle_[1];
#ifdef __linux__
        uint64_t one = 1;
        ssize_t r = write(fd, &one, sizeof one);
        return r < 0 ? -errno : 0;
#else
        ssize_t r = write(fd, "", 1);
        return r < 0 ? -errno : 0;
#endif
    }
    case AIO_KIND_EVENT_WAIT: {
        int fd = (int)op->event_wait.source->handle_[0];
#ifdef __linux__
        uint64_t v;
        ssize_t r = read(fd, &v, sizeof v);
#else
        char v;
        ssize_t r = read(fd, &v, 1);
#endif
        return r < 0 ? -errno : 0;
    }
    case AIO_KIND_POLL:
    case AIO_KIND_TIMEOUT:
    case AIO_KIND_LINK_TIMEOUT:
    case AIO_KIND_CANCEL:
    case AIO_KIND_CHILD_EXIT:
    case AIO_KIND_COUNT_:
        break;
    }
    return -ENOTSUP;
}

static size_t iov_total(const struct iovec *iov, int n)
{
    size_t t = 0;
    for (int i = 0; i < n; i++) t += iov[i].iov_len;
    return t;
}

bool aio_result_breaks_chain(const struct aio_op *op, int result)
{
    if (result < 0) return true;
    size_t want;
    switch (op->kind) {
    case AIO_KIND_READ: want = clamp_len(op->read.len); break;
    case AIO_KIND_WRITE: want = clamp_len(op->write.len); break;
    case AIO_KIND_READV: want = iov_total(op->readv.iov, op->readv.iovcnt); break;
    case AIO_KIND_WRITEV: want = iov_total(op->writev.iov, op->writev.iovcnt); break;
    /* io_uring also fails the links of a SPLICE that moved less than `len`,
     * and of a socket op asked for MSG_WAITALL that came back short */
    case AIO_KIND_SPLICE: want = op->splice.len; break;
    case AIO_KIND_RECV:
        if (!(op->recv.flags & MSG_WAITALL)) return false;
        want = clamp_len(op->recv.len);
        break;
    case AIO_KIND_SEND:
        if (!(op->send.flags & MSG_WAITALL)) return false;
        want = clamp_len(op->send.len);
        break;
    case AIO_KIND_RECVMSG:
        if (!(op->recvmsg.flags & MSG_WAITALL)) return false;
        want = iov_total(op->recvmsg.msg->msg_iov, (int)op->recvmsg.msg->msg_iovlen);
        break;
    case AIO_KIND_SENDMSG:
        if (!(op->sendmsg.flags & MSG_WAITALL)) return false;
        want = iov_total(op->sendmsg.msg->msg_iov, (int)op->sendmsg.msg->msg_iovlen);
        break;
    default: return false;
    }
    return (size_t)result < want;
}

const char *aio_kind_name(enum aio_kind kind)
{
    static const char *const names[AIO_KIND_COUNT_] = {
        [AIO_KIND_NOP] = "nop", [AIO_KIND_READ] = "read", [AIO_KIND_WRITE] = "write",
        [AIO_KIND_READV] = "readv", [AIO_KIND_WRITEV] = "writev", [AIO_KIND_FSYNC] = "fsync",
        [AIO_KIND_POLL] = "poll", [AIO_KIND_OPENAT] = "openat", [AIO_KIND_CLOSE] = "close",
        [AIO_KIND_RENAMEAT] = "renameat", [AIO_KIND_UNLINKAT] = "unlinkat", [AIO_KIND_MKDIRAT] = "mkdirat",
        [AIO_KIND_SYMLINKAT] = "symlinkat", [AIO_KIND_SOCKET] = "socket", [AIO_KIND_BIND] = "bind",
        [AIO_KIND_LISTEN] = "listen", [AIO_KIND_ACCEPT] = "accept", [AIO_KIND_CONNECT] = "connect",
        [AIO_KIND_RECV] = "recv", [AIO_KIND_SEND] = "send", [AIO_KIND_RECVMSG] = "recvmsg",
        [AIO_KIND_SENDMSG] = "sendmsg", [AIO_KIND_SHUTDOWN] = "shutdown", [AIO_KIND_SPLICE] = "splice",
        [AIO_KIND_TIMEOUT] = "timeout", [AIO_KIND_LINK_TIMEOUT] = "link_timeout", [AIO_KIND_CANCEL] = "cancel",
        [AIO_KIND_CHILD_EXIT] = "child_exit", [AIO_KIND_EVENT_NOTIFY] = "event_notify",
        [AIO_KIND_EVENT_WAIT] = "event_wait",
    };
    return kind > 0 && kind < AIO_KIND_COUNT_ ? names[kind] : NULL;
}

int aio_wait_status(int code, int status)
{
    switch (code) {
    case CLD_EXITED: return (status & 0xff) << 8;
    case CLD_KILLED: return status & 0x7f;
    case CLD_DUMPED: return (status & 0x7f) | 0x80;
    default: return 0;
    }
}
