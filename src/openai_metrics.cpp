// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the openai_metrics room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/openai_metrics.hpp>
#include <dsdeploy/impl/openai_metrics_inl.hpp>
