// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the openai_types room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/openai_types.hpp>
#include <dsdeploy/impl/openai_types_inl.hpp>
