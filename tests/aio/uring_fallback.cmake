# test_uring_fallback: the io_uring backend's synchronous fallback. Runs on
# io_uring only, with opcodes hidden through AIO_URING_HIDE_OPS so that those
# kinds run in the library on a kernel that has them all. The binary also
# carries the generic kind, link, timeout, cancel, ring and bad-input tests:
# they must pass unchanged across the fallback.
list(APPEND CAIO_SPECIAL_TESTS test_uring_fallback)
if("io_uring" IN_LIST CAIO_TEST_BACKENDS)
  add_executable(test_uring_fallback
    ${CMAKE_CURRENT_SOURCE_DIR}/test_uring_fallback.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_kinds_net.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_kinds_fs.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_kinds_misc.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_links.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_timeouts.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_cancel.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_ring.c
    ${CMAKE_CURRENT_SOURCE_DIR}/test_invalid.c)
  target_include_directories(test_uring_fallback PRIVATE ${CRITERION_INCLUDE} ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_definitions(test_uring_fallback PRIVATE _GNU_SOURCE)
  target_link_libraries(test_uring_fallback PRIVATE caio::aio ${CRITERION_LIB})
  # the set issue #2 names, and every kind that has a synchronous form
  set(_hide_issue "socket,bind,listen,shutdown,close,openat,mkdirat")
  set(_hide_all "socket,bind,listen,shutdown,close,openat,mkdirat,renameat,unlinkat,symlinkat,child_exit")
  foreach(variant issue all)
    add_test(NAME test_uring_fallback_${variant}.io_uring COMMAND test_uring_fallback ${CAIO_TEST_ARGS})
    set(_env "AIO_BACKEND=io_uring" "AIO_URING_HIDE_OPS=${_hide_${variant}}" ${CAIO_TEST_ENV})
    set_tests_properties(test_uring_fallback_${variant}.io_uring PROPERTIES
      ENVIRONMENT "${_env}"
      LABELS "aio;io_uring;fallback" TIMEOUT 120)
  endforeach()
endif()
