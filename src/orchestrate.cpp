// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the orchestrate room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/orchestrate.hpp>
#include <dsdeploy/impl/orchestrate_inl.hpp>
#include <dsdeploy/impl/orchestrate_status_down_logs_inl.hpp>
#include <dsdeploy/impl/orchestrate_up_inl.hpp>
