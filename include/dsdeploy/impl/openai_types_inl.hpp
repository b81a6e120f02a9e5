// SPDX-License-Identifier: Apache-2.0
// The definitions of openai_types.hpp: included by it in header-only mode, compiled once by
// src/openai_types.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/openai_types.hpp>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

DSDEPLOY_INLINE std::string chat_completion::text() const {
    return choices.empty() || !choices.front().message.content ? std::string() : *choices.front().message.content;
}

DSDEPLOY_INLINE std::string completion::text() const { return choices.empty() ? std::string() : choices.front().text; }

DSDEPLOY_INLINE int structured_outputs::constraints() const {
    return int(json_schema.has_value()) + int(regex.has_value()) + int(choice.has_value()) + int(grammar.has_value()) +
           int(json_object);
}

}  // namespace openai
DSDEPLOY_NAMESPACE_END
