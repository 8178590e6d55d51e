# leakcheck: a plain program (not Criterion, which ignores LeakSanitizer in
# its test processes) run on every backend; under ASan a leak fails it.
add_executable(leakcheck ${CMAKE_CURRENT_LIST_DIR}/leakcheck.c)
target_compile_definitions(leakcheck PRIVATE _GNU_SOURCE)
target_link_libraries(leakcheck PRIVATE caio::aio Threads::Threads)
foreach(b IN LISTS CAIO_TEST_BACKENDS)
  add_test(NAME leakcheck.${b} COMMAND leakcheck)
  set_tests_properties(leakcheck.${b} PROPERTIES ENVIRONMENT "AIO_BACKEND=${b}" LABELS "aio;${b};threads" TIMEOUT 120)
endforeach()
