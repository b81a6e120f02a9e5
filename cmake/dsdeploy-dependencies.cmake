# The packages dsdeploy's public headers need. Used by the build and shipped with the
# installed package, so a consumer's find_package(dsdeploy) finds exactly the same set.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(nlohmann_json 3.10)
find_dependency(fmt 9)
find_dependency(tomlplusplus 3)

# Debian's libcpp-httplib-dev is a compiled library (OpenSSL, zlib, brotli) that ships a
# pkg-config file but no CMake package; upstream cpp-httplib ships httplibConfig.cmake.
if(NOT TARGET httplib::httplib)
  find_package(httplib CONFIG QUIET)
endif()
if(NOT TARGET httplib::httplib)
  find_dependency(PkgConfig)
  pkg_check_modules(DSDEPLOY_HTTPLIB QUIET IMPORTED_TARGET GLOBAL cpp-httplib)
  if(TARGET PkgConfig::DSDEPLOY_HTTPLIB)
    add_library(httplib::httplib ALIAS PkgConfig::DSDEPLOY_HTTPLIB)
  else()
    set(${CMAKE_FIND_PACKAGE_NAME}_FOUND FALSE)
    set(${CMAKE_FIND_PACKAGE_NAME}_NOT_FOUND_MESSAGE
        "cpp-httplib not found: install libcpp-httplib-dev (Debian) or cpp-httplib's CMake package")
    return()
  endif()
endif()
