// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the diagnose_vllm room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/diagnose_vllm.hpp>
#include <dsdeploy/impl/diagnose_vllm_inl.hpp>
