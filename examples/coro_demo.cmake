# coro_demo: zig-aio's README example in C; the README's first command.
if(TARGET caio_coro)
  add_executable(coro_demo ${CMAKE_CURRENT_LIST_DIR}/coro_demo.c)
  target_compile_definitions(coro_demo PRIVATE _GNU_SOURCE)
  target_link_libraries(coro_demo PRIVATE caio::coro)
endif()
