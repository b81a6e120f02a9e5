// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the executor room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/executor.hpp>
#include <dsdeploy/impl/executor_inl.hpp>
