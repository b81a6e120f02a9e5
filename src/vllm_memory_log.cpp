// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the vllm_memory_log room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/vllm_memory_log.hpp>
#include <dsdeploy/impl/vllm_memory_log_inl.hpp>
