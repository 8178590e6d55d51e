# test_kinds_misc notifies an event source from a second thread: it also runs
# under TSan (label "threads").
list(APPEND CAIO_SPECIAL_TESTS test_kinds_misc)
caio_aio_test(test_kinds_misc ${CMAKE_CURRENT_LIST_DIR}/test_kinds_misc.c)
foreach(b IN LISTS CAIO_TEST_BACKENDS)
  set_tests_properties(test_kinds_misc.${b} PROPERTIES LABELS "aio;${b};threads")
endforeach()
