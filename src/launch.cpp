// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the launch room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/launch.hpp>
#include <dsdeploy/impl/launch_inl.hpp>
#include <dsdeploy/impl/launch_sglang_inl.hpp>
#include <dsdeploy/impl/launch_scripts_inl.hpp>
