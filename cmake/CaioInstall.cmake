# Installs headers, both libraries, the CMake package (caio::aio, caio::aio_static,
# and caio::coro when built) and the pkg-config modules.
include(CMakePackageConfigHelpers)

set(CAIO_INSTALL_TARGETS caio_aio caio_aio_static)
get_property(_caio_more GLOBAL PROPERTY CAIO_EXTRA_INSTALL_TARGETS)
list(APPEND CAIO_INSTALL_TARGETS ${_caio_more})

install(TARGETS ${CAIO_INSTALL_TARGETS} EXPORT caioTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/aio DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(EXISTS ${PROJECT_SOURCE_DIR}/include/coro/coro.h)
  install(DIRECTORY include/coro DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()

set(CAIO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/caio)
install(EXPORT caioTargets NAMESPACE caio:: DESTINATION ${CAIO_CMAKE_DIR})
configure_package_config_file(cmake/caioConfig.cmake.in ${PROJECT_BINARY_DIR}/caioConfig.cmake
  INSTALL_DESTINATION ${CAIO_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/caioConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/caioConfig.cmake ${PROJECT_BINARY_DIR}/caioConfigVersion.cmake
  DESTINATION ${CAIO_CMAKE_DIR})

# The pkg-config modules find the prefix from where they lie (${pcfiledir}),
# so an install made with `cmake --install --prefix <dir>`, or moved, still
# points at its own headers and libraries rather than at CMAKE_INSTALL_PREFIX.
# The .pc.in files use @CAIO_PC_PREFIX@, @CAIO_PC_LIBDIR@, @CAIO_PC_INCLUDEDIR@.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(CAIO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _caio_pc_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" _caio_pc_up "${_caio_pc_up}")
  set(CAIO_PC_PREFIX "\${pcfiledir}/${_caio_pc_up}")
endif()
foreach(_d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_d}}")
    set(CAIO_PC_${_d} "${CMAKE_INSTALL_${_d}}")
  else()
    set(CAIO_PC_${_d} "\${prefix}/${CMAKE_INSTALL_${_d}}")
  endif()
endforeach()

foreach(pc caio caio-coro)
  if(EXISTS ${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in)
    configure_file(cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
    install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  endif()
endforeach()
