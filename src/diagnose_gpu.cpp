// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the diagnose_gpu room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/diagnose_gpu.hpp>
#include <dsdeploy/impl/diagnose_gpu_inl.hpp>
