// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the diagnose_nccl room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/diagnose_nccl.hpp>
#include <dsdeploy/impl/diagnose_nccl_inl.hpp>
