// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the engine_version room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/engine_version.hpp>
#include <dsdeploy/impl/engine_version_inl.hpp>
