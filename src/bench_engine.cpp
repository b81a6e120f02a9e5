// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the bench_engine room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/bench_engine.hpp>
#include <dsdeploy/impl/bench_engine_inl.hpp>
