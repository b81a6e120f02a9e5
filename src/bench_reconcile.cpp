// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the bench_reconcile room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/bench_reconcile.hpp>
#include <dsdeploy/impl/bench_reconcile_inl.hpp>
