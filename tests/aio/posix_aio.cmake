# test_posix_aio includes POSIX <aio.h> beside <aio/aio.h> and links librt.
caio_aio_test(test_posix_aio ${CMAKE_CURRENT_SOURCE_DIR}/test_posix_aio.c)
target_link_libraries(test_posix_aio PRIVATE rt)
list(APPEND CAIO_SPECIAL_TESTS test_posix_aio)
