// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the bench_stats room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/bench_stats.hpp>
#include <dsdeploy/impl/bench_stats_inl.hpp>
