/* Systems without epoll: AIO_BACKEND_EPOLL is not built there. */
#include "../aio/ring.h"

const struct aio_backend_ops *aio_backend_epoll(void) { return 0; }
