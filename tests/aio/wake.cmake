# test_wake starts threads: it also runs under TSan (label "threads").
list(APPEND CAIO_SPECIAL_TESTS test_wake)
caio_test(test_wake CRITERION LINK caio::aio LABELS aio threads SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_wake.c)
