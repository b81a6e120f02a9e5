// SPDX-License-Identifier: Apache-2.0
// Small string helpers shared by the rooms. Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

// Digits at s[i..], at most `max` of them, as a number, with i moved past them; nullopt (i
// unchanged) when there are none.
inline std::optional<long long> read_digits(std::string_view s, std::size_t& i, std::size_t max = 12) {
    std::size_t j = i;
    long long v = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9' && j - i < max) v = v * 10 + (s[j++] - '0');
    if (j == i) return std::nullopt;
    i = j;
    return v;
}

inline std::string to_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

inline std::string_view trim(std::string_view s) {
    const char* ws = " \t\r\n\f\v";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

inline bool starts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        auto pos = s.find(sep, start);
        out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

inline std::vector<std::string_view> split_lines(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start < s.size()) {
        auto pos = s.find('\n', start);
        if (pos == std::string_view::npos) pos = s.size();
        auto line = s.substr(start, pos - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        out.push_back(line);
        start = pos + 1;
    }
    return out;
}

inline std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i) out += sep;
        out += parts[i];
    }
    return out;
}

// "a", "a or b", "a, b or c": for messages that list what would be right.
inline std::string one_of(const std::vector<std::string>& options) {
    std::string out;
    for (std::size_t i = 0; i < options.size(); ++i) {
        if (i && i + 1 == options.size()) out += " or ";
        else if (i) out += ", ";
        out += options[i];
    }
    return out;
}

// The last n lines of s (without a trailing empty line), at most max_bytes of them (the end).
inline std::string tail_lines(std::string_view s, std::size_t n, std::size_t max_bytes = std::string_view::npos) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    std::size_t pos = s.size(), count = 0;
    while (pos > 0) {
        const std::size_t nl = s.rfind('\n', pos - 1);
        ++count;
        if (count == n || nl == std::string_view::npos) {
            pos = count == n && nl != std::string_view::npos ? nl + 1 : 0;
            break;
        }
        pos = nl;
    }
    std::string_view t = s.substr(pos);
    if (t.size() > max_bytes) t = t.substr(t.size() - max_bytes);
    return std::string(t);
}

}  // namespace detail
DSDEPLOY_NAMESPACE_END
