// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the bench room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/bench.hpp>
#include <dsdeploy/impl/bench_inl.hpp>
