/*
 * Plain-syscall forms of the operation kinds, and the rules every backend
 * shares about results. Used where an op runs without the kernel's async
 * machinery: io_uring's fallback for opcodes the kernel lacks, and the
 * readiness backends' "try the syscall first".
 */
#ifndef CAIO_SRC_AIO_SYSOP_H
#define CAIO_SRC_AIO_SYSOP_H

#include "ring.h"

/* Resolves the 0-means-current-directory convention of `dirfd` fields. */
int aio_dirfd(int dirfd);

/* The descriptor an op works on (for close-cancels-the-fd's-ops), or -1. A
 * SPLICE has two; `second` receives fd_out (else -1). */
int aio_op_fd(const struct aio_op *op, int *second);

/* Runs `op` once with plain syscalls; sockets are driven with MSG_DONTWAIT /
 * non-blocking flags, so the result may be -EAGAIN. Returns the syscall-style
 * result (count, descriptor, mask) or -errno. Kinds that are waits rather than
 * syscalls (TIMEOUT, LINK_TIMEOUT, CANCEL, POLL, CHILD_EXIT) return -ENOTSUP. */
int aio_sysop_run(const struct aio_op *op);

/* Whether a completed op stops a SOFT chain: any error, and, as io_uring does,
 * a READ/WRITE/READV/WRITEV or SPLICE that moved fewer bytes than asked, and a
 * RECV/SEND/RECVMSG/SENDMSG with MSG_WAITALL that did. */
bool aio_result_breaks_chain(const struct aio_op *op, int result);

/* Lower-case kind name ("recv", "link_timeout"), or NULL. */
const char *aio_kind_name(enum aio_kind kind);

/* A waitpid(2)-style status from a waitid(2) siginfo code and status. */
int aio_wait_status(int code, int status);

#endif
