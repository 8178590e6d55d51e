# bench_pingpong: TCP ping-pong through caio (io_uring, epoll) against
# hand-written liburing and epoll loops; counts syscalls with strace if present.
add_executable(bench_pingpong ${CMAKE_CURRENT_LIST_DIR}/pingpong.c)
target_link_libraries(bench_pingpong PRIVATE caio::aio PkgConfig::URING)
