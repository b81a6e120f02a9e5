include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

set(dsdeploy_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/dsdeploy"
    CACHE STRING "Where the CMake package files of dsdeploy are installed")
mark_as_advanced(dsdeploy_INSTALL_CMAKEDIR)

install(DIRECTORY include/ DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT dsdeploy_Development)
install(TARGETS dsdeploy_dsdeploy EXPORT dsdeployTargets
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT dsdeployTargets NAMESPACE dsdeploy::
        DESTINATION "${dsdeploy_INSTALL_CMAKEDIR}" COMPONENT dsdeploy_Development)

configure_package_config_file(cmake/dsdeployConfig.cmake.in
    "${PROJECT_BINARY_DIR}/dsdeployConfig.cmake"
    INSTALL_DESTINATION "${dsdeploy_INSTALL_CMAKEDIR}")
# A header-only package fits any architecture; 0.x releases are compatible within a minor.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/dsdeployConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/dsdeployConfig.cmake"
              "${PROJECT_BINARY_DIR}/dsdeployConfigVersion.cmake"
              cmake/dsdeploy-dependencies.cmake
        DESTINATION "${dsdeploy_INSTALL_CMAKEDIR}" COMPONENT dsdeploy_Development)
