// SPDX-License-Identifier: Apache-2.0
// Escaping text for HTML element content and quoted attribute values (the benchmark's report
// and the reconciliation fragment). Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>

#include <string>
#include <string_view>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

inline std::string html_escape(std::string_view s) {
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&#39;"; break;
            default: o += c;
        }
    }
    return o;
}

}  // namespace detail
DSDEPLOY_NAMESPACE_END
