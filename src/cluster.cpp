// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the cluster room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/cluster.hpp>
#include <dsdeploy/impl/cluster_inl.hpp>
