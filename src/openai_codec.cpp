// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the openai_codec room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/openai_codec.hpp>
#include <dsdeploy/impl/openai_codec_inl.hpp>
