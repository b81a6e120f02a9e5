// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the openai_errors room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/openai_errors.hpp>
#include <dsdeploy/impl/openai_errors_inl.hpp>
