// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the bundle room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/bundle.hpp>
#include <dsdeploy/impl/bundle_inl.hpp>
