// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the deployment_state room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/deployment_state.hpp>
#include <dsdeploy/impl/deployment_state_inl.hpp>
