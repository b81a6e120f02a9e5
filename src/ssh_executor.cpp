// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the ssh_executor room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/ssh_executor.hpp>
#include <dsdeploy/impl/ssh_executor_inl.hpp>
