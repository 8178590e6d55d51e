add_executable(bench_aio_nops ${CMAKE_CURRENT_LIST_DIR}/aio_nops.c)
target_link_libraries(bench_aio_nops PRIVATE caio::aio PkgConfig::URING)
