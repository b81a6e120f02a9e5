// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the gpu room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/gpu.hpp>
#include <dsdeploy/impl/gpu_inl.hpp>
