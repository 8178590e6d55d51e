/* Builds without a readiness backend (until one exists for this platform). */
#include "../aio/ring.h"

const struct aio_backend_ops *aio_backend_epoll(void) { return 0; }
const struct aio_backend_ops *aio_backend_poll(void) { return 0; }
