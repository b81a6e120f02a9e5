// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the netcheck room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/netcheck.hpp>
#include <dsdeploy/impl/netcheck_worker_inl.hpp>
#include <dsdeploy/impl/netcheck_inl.hpp>
