// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the compose room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/compose.hpp>
#include <dsdeploy/impl/compose_inl.hpp>
