// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the plan room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/plan.hpp>
#include <dsdeploy/impl/plan_inl.hpp>
