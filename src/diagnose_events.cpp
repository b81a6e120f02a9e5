// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the diagnose_events room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/diagnose_events.hpp>
#include <dsdeploy/impl/diagnose_events_inl.hpp>
