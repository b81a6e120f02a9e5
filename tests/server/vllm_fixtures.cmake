# CTest fixtures that start a real vLLM server (tests/server/vllm_server.sh) once for every
# test that needs it, and stop it after the last one.
#
#   dsdeploy_vllm_fixture(<name> [vllm_server.sh start options] [-- vllm serve arguments])
#
# defines the tests <name>_start (FIXTURES_SETUP <name>) and <name>_stop (FIXTURES_CLEANUP
# <name>), and sets <name>_STATE in the caller's scope: the folder where the running server is
# described (base_url, model, port, pid, log). A test that needs the server declares
#
#   set_tests_properties(t PROPERTIES FIXTURES_REQUIRED <name> RESOURCE_LOCK vllm_cpu
#       ENVIRONMENT "DSDEPLOY_VLLM_STATE=${<name>_STATE}" LABELS integration)
#
# RESOURCE_LOCK vllm_cpu keeps vLLM tests (and start-ups) from running at the same time on a
# small machine. A missing Python environment fails <name>_start with a message that points
# at scripts/python-env.sh, and CTest then reports every test that needs it as not run.
set(DSDEPLOY_TEST_PORTS "18100-18149" CACHE STRING "Port range for the vLLM servers of the integration tests")
set(DSDEPLOY_VLLM_SERVERS_DIR "${PROJECT_BINARY_DIR}/vllm-servers")

function(dsdeploy_vllm_fixture name)
  set(state "${DSDEPLOY_VLLM_SERVERS_DIR}/${name}")
  set(script "${PROJECT_SOURCE_DIR}/tests/server/vllm_server.sh")
  add_test(NAME ${name}_start COMMAND "${script}" start "${state}" --ports "${DSDEPLOY_TEST_PORTS}" ${ARGN})
  set_tests_properties(${name}_start PROPERTIES
      FIXTURES_SETUP ${name} LABELS integration TIMEOUT 900 RESOURCE_LOCK vllm_cpu
      ENVIRONMENT "DSDEPLOY_VENV=${DSDEPLOY_VENV};DSDEPLOY_MODEL_CACHE=${DSDEPLOY_VLLM_SERVERS_DIR}/tiny-models")
  add_test(NAME ${name}_stop COMMAND "${script}" stop "${state}")
  set_tests_properties(${name}_stop PROPERTIES FIXTURES_CLEANUP ${name} LABELS integration TIMEOUT 60)
  set(${name}_STATE "${state}" PARENT_SCOPE)
endfunction()
