// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the validated-inventory room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/validated_inventory.hpp>
#include <dsdeploy/impl/validated_inventory_inl.hpp>
