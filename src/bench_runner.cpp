// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the bench_runner room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/bench_runner.hpp>
#include <dsdeploy/impl/bench_runner_inl.hpp>
