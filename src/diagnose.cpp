// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the diagnose room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/impl/diagnose_inl.hpp>
