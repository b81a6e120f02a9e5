// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the performance-model room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/perf.hpp>
#include <dsdeploy/impl/perf_inl.hpp>
#include <dsdeploy/impl/perf_rank_inl.hpp>
