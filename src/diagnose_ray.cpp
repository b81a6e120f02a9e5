// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the diagnose_ray room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/diagnose_ray.hpp>
#include <dsdeploy/impl/diagnose_ray_inl.hpp>
