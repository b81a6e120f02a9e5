# Fails when the first ```cpp block of the README differs from examples/readme.cpp (minus its
# two comment lines), so the README's example is always the one that is built and run.
file(READ "${README}" readme)
string(REGEX MATCH "```cpp\n([^`]*)```" _ "${readme}")
set(block "${CMAKE_MATCH_1}")
file(READ "${EXAMPLE}" example)
string(REGEX REPLACE "^// SPDX[^\n]*\n//[^\n]*\n" "" example "${example}")
if(NOT block STREQUAL example)
  message(FATAL_ERROR "README.md's C++ example differs from examples/readme.cpp; update one to match the other")
endif()
