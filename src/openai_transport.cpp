// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the openai_transport room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/openai_transport.hpp>
#include <dsdeploy/impl/openai_transport_inl.hpp>
