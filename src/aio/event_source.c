/*
 * Event sources: a counter with semaphore semantics (each notify releases one
 * wait). An eventfd in EFD_SEMAPHORE mode on Linux; a pipe elsewhere, where one
 * byte is one notification.
 */
#include <aio/aio.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

int aio_event_source_init(struct aio_event_source *source)
{
    if (!source) return -EINVAL;
#ifdef __linux__
    /* Non-blocking, so a readiness backend can try the read without ever
     * blocking its loop; io_uring still waits for it through poll. */
    int fd = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return -errno;
    source->handle_[0] = fd;
    source->handle_[1] = fd;
#else
    int p[2];
    if (pipe(p) != 0) return -errno;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
    }
    source->handle_[0] = p[0];
    source->handle_[1] = p[1];
#endif
    return 0;
}

void aio_event_source_destroy(struct aio_event_source *source)
{
    if (!source) return;
    if (source->handle_[1] != source->handle_[0] && source->handle_[1] >= 0) close((int)source->handle_[1]);
    if (source->handle_[0] >= 0) close((int)source->handle_[0]);
    source->handle_[0] = source->handle_[1] = -1;
}
