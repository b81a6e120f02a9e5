// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the openai room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/openai.hpp>
#include <dsdeploy/impl/openai_inl.hpp>
