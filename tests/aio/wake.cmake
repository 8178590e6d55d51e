# test_wake starts threads: it also runs under TSan (label "threads").
list(APPEND CAIO_SPECIAL_TESTS test_wake)
caio_aio_test(test_wake ${CMAKE_CURRENT_LIST_DIR}/test_wake.c)
foreach(b IN LISTS CAIO_TEST_BACKENDS)
  set_tests_properties(test_wake.${b} PROPERTIES LABELS "aio;${b};threads")
endforeach()
