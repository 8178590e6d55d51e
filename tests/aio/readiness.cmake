# test_fallback: AUTO under a seccomp filter that refuses io_uring_setup. It
# sets its own backend choice (AUTO), so it runs once, not once per backend.
add_executable(test_fallback ${CMAKE_CURRENT_SOURCE_DIR}/test_fallback.c)
target_include_directories(test_fallback PRIVATE ${CRITERION_INCLUDE} ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(test_fallback PRIVATE _GNU_SOURCE)
target_link_libraries(test_fallback PRIVATE caio::aio ${CRITERION_LIB})
add_test(NAME test_fallback COMMAND test_fallback ${CAIO_TEST_ARGS})
set_tests_properties(test_fallback PROPERTIES ENVIRONMENT "${CAIO_TEST_ENV}" LABELS "aio;fallback" TIMEOUT 60)
list(APPEND CAIO_SPECIAL_TESTS test_fallback)

# threads_pool: the worker pool's hand-overs, on every backend, as a plain
# program (Criterion cannot start under TSan); labelled "threads" so the TSan
# run takes it.
caio_test(threads_pool LINK caio::aio LABELS aio threads SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/threads_pool.c)
