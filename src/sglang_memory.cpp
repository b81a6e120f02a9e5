// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the sglang_memory room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/sglang_memory.hpp>
#include <dsdeploy/impl/sglang_memory_inl.hpp>
