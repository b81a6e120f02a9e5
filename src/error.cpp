// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the error room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/error.hpp>
#include <dsdeploy/impl/error_inl.hpp>
