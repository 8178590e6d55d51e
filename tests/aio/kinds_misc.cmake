# test_kinds_misc notifies an event source from a second thread: it also runs
# under TSan (label "threads").
list(APPEND CAIO_SPECIAL_TESTS test_kinds_misc)
caio_test(test_kinds_misc CRITERION LINK caio::aio LABELS aio threads
          SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_kinds_misc.c)
