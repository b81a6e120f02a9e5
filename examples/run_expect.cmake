# SPDX-License-Identifier: Apache-2.0
# Runs COMMAND (a ;-list) and checks its exit status (EXPECT_RC, when given) and that its
# stdout+stderr match EXPECT_REGEX.
#   cmake -D "COMMAND=prog;arg;..." -D EXPECT_RC=1 -D "EXPECT_REGEX=..." -P run_expect.cmake
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(DEFINED EXPECT_RC AND NOT "${EXPECT_RC}" STREQUAL "" AND NOT rc EQUAL EXPECT_RC)
  message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT_RC}\n${all}")
endif()
if(NOT all MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "output does not match \"${EXPECT_REGEX}\":\n${all}")
endif()
message(STATUS "exit status ${rc}; output matches")
