// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the timeline room (DSDEPLOY_PRECOMPILED). The
// collection over an executor (impl/timeline_probe_inl.hpp) builds on the orchestrate room's
// out-of-line helpers and is compiled with them, in src/orchestrate.cpp.
#include <dsdeploy/timeline.hpp>
#include <dsdeploy/impl/timeline_inl.hpp>
