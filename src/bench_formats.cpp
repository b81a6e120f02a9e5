// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the bench_formats room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/bench_formats.hpp>
#include <dsdeploy/impl/bench_formats_inl.hpp>
