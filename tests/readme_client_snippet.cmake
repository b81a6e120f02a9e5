# Compiles the C++ snippet of docs/client.md's "The OpenAI client" section (as the body of main,
# with <dsdeploy/openai.hpp> and <iostream>), so the docs never show code that does not build.
#   cmake -D DOC=docs/client.md -D CXX=... -D INCLUDE=include -D OUT=... -D DEFINES=... -P readme_client_snippet.cmake
file(READ "${DOC}" doc)
string(FIND "${doc}" "# The OpenAI client" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${DOC} has no \"# The OpenAI client\" section")
endif()
string(SUBSTRING "${doc}" ${at} -1 section)
string(FIND "${section}" "```cpp\n" start)
string(FIND "${section}" "\n```\n" stop)
if(start EQUAL -1 OR stop LESS start)
  message(FATAL_ERROR "the client section of ${DOC} has no ```cpp block")
endif()
math(EXPR start "${start} + 7")
math(EXPR len "${stop} - ${start}")
string(SUBSTRING "${section}" ${start} ${len} code)
file(WRITE "${OUT}" "#include <dsdeploy/openai.hpp>\n#include <iostream>\nint main() {\n${code}\n}\n")
execute_process(COMMAND "${CXX}" -std=c++17 -fsyntax-only -Wall -Wextra -Werror ${DEFINES} "-I${INCLUDE}" "${OUT}"
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the client snippet of ${DOC} does not compile:\n${err}")
endif()
