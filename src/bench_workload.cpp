// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the bench_workload room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/bench_workload.hpp>
#include <dsdeploy/impl/bench_workload_inl.hpp>
