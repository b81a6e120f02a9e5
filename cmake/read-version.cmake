# Reads the one version source, include/dsdeploy/version.hpp, into DSDEPLOY_VERSION_FROM_HEADER.
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../include/dsdeploy/version.hpp" _dsdeploy_version_line
     REGEX "^#define DSDEPLOY_VERSION \"[0-9]+\\.[0-9]+\\.[0-9]+\"")
string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" DSDEPLOY_VERSION_FROM_HEADER "${_dsdeploy_version_line}")
if(NOT DSDEPLOY_VERSION_FROM_HEADER)
  message(FATAL_ERROR "could not read DSDEPLOY_VERSION from include/dsdeploy/version.hpp")
endif()
