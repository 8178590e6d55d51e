# The coro benchmarks. They need caio::coro; those with a boost.context
# baseline need libboost_context (libboost-context-dev) and are skipped,
# with a message, when it is missing.
if(NOT TARGET caio_coro)
  return()
endif()
find_library(CAIO_BOOST_CONTEXT boost_context)

function(caio_coro_bench name)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.c)
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
  target_link_libraries(${name} PRIVATE caio::coro ${ARGN})
endfunction()

if(CAIO_BOOST_CONTEXT)
  caio_coro_bench(bench_coro_switch ${CAIO_BOOST_CONTEXT})
  caio_coro_bench(bench_coro_spawn ${CAIO_BOOST_CONTEXT})
else()
  message(STATUS "caio: libboost_context not found: bench_coro_switch and bench_coro_spawn (fcontext baselines) skipped")
endif()
caio_coro_bench(bench_coro_nops PkgConfig::URING)
caio_coro_bench(bench_coro_pingpong PkgConfig::URING)
