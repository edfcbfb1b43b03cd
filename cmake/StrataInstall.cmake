# Install rules and the CMake package: find_package(strata) gives strata::strata (the
# library), strata::asio (the adapter that runs strata callbacks on an asio::io_context) and
# strata::net (the WebSocket/SSE/HTTP server, protocol handlers and client).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(STRATA_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/strata")

install(TARGETS strata strata_asio strata_net
  EXPORT strataTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/strata DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT strataTargets NAMESPACE strata:: DESTINATION ${STRATA_CMAKE_DIR})

configure_package_config_file(cmake/strataConfig.cmake.in
  "${PROJECT_BINARY_DIR}/strataConfig.cmake"
  INSTALL_DESTINATION ${STRATA_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/strataConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/strataConfig.cmake"
  "${PROJECT_BINARY_DIR}/strataConfigVersion.cmake"
  cmake/Findasio.cmake
  DESTINATION ${STRATA_CMAKE_DIR})
