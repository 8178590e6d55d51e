# The readiness backends: the emulation core (src/aio/emul.*, timers, worker
# pool) and its pollers. epoll is Linux-only; poll(2) is everywhere POSIX.
list(APPEND CAIO_AIO_SOURCES
  aio/emul.c
  aio/timers.c
  aio/workers.c
  backends/poll.c
)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  list(APPEND CAIO_AIO_SOURCES backends/epoll.c)
else()
  list(APPEND CAIO_AIO_SOURCES backends/epoll_none.c)
endif()
