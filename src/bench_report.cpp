// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the bench_report room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/bench_report.hpp>
#include <dsdeploy/impl/bench_report_inl.hpp>
