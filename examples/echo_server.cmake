if(TARGET caio_coro)
  add_executable(echo_server ${CMAKE_CURRENT_LIST_DIR}/echo_server.c)
  target_link_libraries(echo_server PRIVATE caio::coro)
endif()
