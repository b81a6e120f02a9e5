// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the network room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/network.hpp>
#include <dsdeploy/impl/network_inl.hpp>
