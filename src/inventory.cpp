// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the inventory room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/impl/inventory_inl.hpp>
#include <dsdeploy/impl/inventory_read_inl.hpp>
#include <dsdeploy/impl/inventory_write_inl.hpp>
