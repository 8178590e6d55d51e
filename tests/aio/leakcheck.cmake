# leakcheck: a plain program (not Criterion, which ignores LeakSanitizer in
# its test processes) run on every backend; under ASan a leak fails it.
# Not labelled "threads": under TSan, rings created one after another by
# different threads reuse the addresses of the SQ/CQ mappings, which liburing
# maps and unmaps with raw syscalls TSan never sees, so it reports the SQE
# writes of two unrelated rings as a data race.
add_executable(leakcheck ${CMAKE_CURRENT_LIST_DIR}/leakcheck.c)
target_compile_definitions(leakcheck PRIVATE _GNU_SOURCE)
target_link_libraries(leakcheck PRIVATE caio::aio Threads::Threads)
foreach(b IN LISTS CAIO_TEST_BACKENDS)
  add_test(NAME leakcheck.${b} COMMAND leakcheck)
  set_tests_properties(leakcheck.${b} PROPERTIES ENVIRONMENT "AIO_BACKEND=${b}" LABELS "aio;${b}" TIMEOUT 120)
endforeach()
