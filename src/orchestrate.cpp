// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the orchestrate room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/orchestrate.hpp>
#include <dsdeploy/impl/orchestrate_inl.hpp>
#include <dsdeploy/impl/orchestrate_status_down_logs_inl.hpp>
#include <dsdeploy/impl/orchestrate_up_inl.hpp>
// timeline()'s probe over the executor (timeline.hpp) shares orchestrate_inl.hpp's helpers.
#include <dsdeploy/impl/timeline_probe_inl.hpp>
