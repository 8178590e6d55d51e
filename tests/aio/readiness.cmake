# test_fallback: AUTO under a seccomp filter that refuses io_uring_setup. It
# sets its own backend choice (AUTO), so it runs once, not once per backend.
add_executable(test_fallback ${CMAKE_CURRENT_SOURCE_DIR}/test_fallback.c)
target_include_directories(test_fallback PRIVATE ${CRITERION_INCLUDE} ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(test_fallback PRIVATE _GNU_SOURCE)
target_link_libraries(test_fallback PRIVATE caio::aio ${CRITERION_LIB})
add_test(NAME test_fallback COMMAND test_fallback --jobs 2)
set_tests_properties(test_fallback PROPERTIES LABELS "aio;fallback" TIMEOUT 60)
list(APPEND CAIO_SPECIAL_TESTS test_fallback)

# test_readiness runs on every backend like the others; it also runs threads
# (the worker pool, two rings at once), so TSan runs it ("threads" label).
caio_aio_test(test_readiness ${CMAKE_CURRENT_SOURCE_DIR}/test_readiness.c)
foreach(b IN LISTS CAIO_TEST_BACKENDS)
  set_tests_properties(test_readiness.${b} PROPERTIES LABELS "aio;${b};threads")
endforeach()
list(APPEND CAIO_SPECIAL_TESTS test_readiness)
