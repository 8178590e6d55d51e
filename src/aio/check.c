/*
 * Argument checking, shared by every backend, so that bad input is refused the
 * same way everywhere and before anything is queued.
 */
#include "ring.h"

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* A buffer pointer may be NULL only when it covers zero bytes. */
static bool buf_ok(const void *buf, size_t len) { return buf != NULL || len == 0; }

static bool iov_ok(const struct iovec *iov, int iovcnt)
{
    return iovcnt >= 0 && iovcnt <= IOV_MAX && (iov != NULL || iovcnt == 0);
}

static bool link_ok(enum aio_link link)
{
    return link == AIO_LINK_NONE || link == AIO_LINK_SOFT || link == AIO_LINK_HARD;
}

/* Checks one op's own fields. */
static int check_op(const struct aio_op *op)
{
    switch (op->kind) {
    case AIO_KIND_NOP:
        return 0;
    case AIO_KIND_READ:
        return buf_ok(op->read.buf, op->read.len) && op->read.offset >= -1 ? 0 : -EINVAL;
    case AIO_KIND_WRITE:
        return buf_ok(op->write.buf, op->write.len) && op->write.offset >= -1 ? 0 : -EINVAL;
    case AIO_KIND_READV:
        return iov_ok(op->readv.iov, op->readv.iovcnt) && op->readv.offset >= -1 ? 0 : -EINVAL;
    case AIO_KIND_WRITEV:
        return iov_ok(op->writev.iov, op->writev.iovcnt) && op->writev.offset >= -1 ? 0 : -EINVAL;
    case AIO_KIND_FSYNC:
        return (op->fsync.flags & ~AIO_FSYNC_DATASYNC) == 0 ? 0 : -EINVAL;
    case AIO_KIND_POLL:
        return op->poll.events != 0 ? 0 : -EINVAL;
    case AIO_KIND_OPENAT:
        return op->openat.path ? 0 : -EINVAL;
    case AIO_KIND_CLOSE:
        return 0;
    case AIO_KIND_RENAMEAT:
        return op->renameat.old_path && op->renameat.new_path ? 0 : -EINVAL;
    case AIO_KIND_UNLINKAT:
        return op->unlinkat.path ? 0 : -EINVAL;
    case AIO_KIND_MKDIRAT:
        return op->mkdirat.path ? 0 : -EINVAL;
    case AIO_KIND_SYMLINKAT:
        return op->symlinkat.target && op->symlinkat.linkpath ? 0 : -EINVAL;
    case AIO_KIND_SOCKET:
        return 0;
    case AIO_KIND_BIND:
        return op->bind.addr && op->bind.addrlen > 0 ? 0 : -EINVAL;
    case AIO_KIND_LISTEN:
        return op->listen.backlog >= 0 ? 0 : -EINVAL;
    case AIO_KIND_ACCEPT:
        /* addr and addrlen go together: both or neither */
        return (op->accept.addr == NULL) == (op->accept.addrlen == NULL) ? 0 : -EINVAL;
    case AIO_KIND_CONNECT:
        return op->connect.addr && op->connect.addrlen > 0 ? 0 : -EINVAL;
    case AIO_KIND_RECV:
        return buf_ok(op->recv.buf, op->recv.len) ? 0 : -EINVAL;
    case AIO_KIND_SEND:
        return buf_ok(op->send.buf, op->send.len) ? 0 : -EINVAL;
    case AIO_KIND_RECVMSG:
        return op->recvmsg.msg ? 0 : -EINVAL;
    case AIO_KIND_SENDMSG:
        return op->sendmsg.msg ? 0 : -EINVAL;
    case AIO_KIND_SHUTDOWN:
        return op->shutdown.how == SHUT_RD || op->shutdown.how == SHUT_WR ||
                       op->shutdown.how == SHUT_RDWR
                   ? 0 : -EINVAL;
    case AIO_KIND_SPLICE:
        return op->splice.len <= INT_MAX ? 0 : -EINVAL;
    case AIO_KIND_TIMEOUT:
    case AIO_KIND_LINK_TIMEOUT:
        return 0;
    case AIO_KIND_CANCEL:
        return op->cancel.id != 0 ? 0 : -EINVAL;
    case AIO_KIND_CHILD_EXIT:
        return op->child_exit.pid > 0 ? 0 : -EINVAL;
    case AIO_KIND_EVENT_NOTIFY:
        return op->event_notify.source ? 0 : -EINVAL;
    case AIO_KIND_EVENT_WAIT:
        return op->event_wait.source ? 0 : -EINVAL;
    case AIO_KIND_COUNT_:
        break;
    }
    return -EINVAL;
}

int aio_check_batch(const struct aio_op *ops, size_t n)
{
    if (!ops || n == 0) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        const struct aio_op *op = &ops[i];
        int rc = check_op(op);
        if (rc) return rc;
        if (!link_ok(op->common.link)) return -EINVAL;
        if (op->kind == AIO_KIND_LINK_TIMEOUT) {
            /* it bounds the op before it, which must be a linked, non-timeout op */
            if (i == 0 || ops[i - 1].common.link == AIO_LINK_NONE ||
                ops[i - 1].kind == AIO_KIND_LINK_TIMEOUT)
                return -EINVAL;
        }
    }
    if (ops[n - 1].common.link != AIO_LINK_NONE) return -EINVAL;
    return 0;
}
