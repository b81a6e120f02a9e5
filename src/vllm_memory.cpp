// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the vllm_memory room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/vllm_memory.hpp>
#include <dsdeploy/impl/vllm_memory_inl.hpp>
