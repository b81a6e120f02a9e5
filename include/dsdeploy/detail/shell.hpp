// SPDX-License-Identifier: Apache-2.0
// POSIX shell quoting: every value dsdeploy places into a script goes through quote(), so
// no inventory value (spaces, quotes, $(...), backticks, ';', newlines) can become code.
// Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>

#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {
namespace shell {

// Characters that never need quoting in any POSIX shell word position (after the first
// character; '=' and '~' are excluded at the start, see quote()).
inline bool is_safe_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
           c == '/' || c == ',' || c == ':' || c == '@' || c == '%' || c == '+' || c == '=';
}

// One shell word that the shell reads back as exactly `s`: plain when every character is
// safe, otherwise single-quoted ('it'\''s'). Newlines stay literal inside single quotes.
// A NUL byte cannot be passed through argv at all; callers reject it before quoting.
inline std::string quote(std::string_view s) {
    bool plain = !s.empty() && s.front() != '=' && s.front() != '~';
    for (unsigned char c : s)
        if (!is_safe_char(c)) {
            plain = false;
            break;
        }
    if (plain) return std::string(s);
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    out += "'";
    return out;
}

// Quoted words joined by single spaces: a command line the shell splits back into `argv`.
inline std::string join(const std::vector<std::string>& argv) {
    std::string out;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (i) out += ' ';
        out += quote(argv[i]);
    }
    return out;
}

// The same, one word per line with backslash continuations (for long commands in scripts).
inline std::string join_lines(const std::vector<std::string>& argv, std::string_view indent = "    ") {
    std::string out;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        // Keep an option and its value on one line: "--port 8000".
        const bool option_value = i > 0 && argv[i - 1].size() > 1 && argv[i - 1][0] == '-' &&
                                  !(argv[i].size() > 1 && argv[i][0] == '-' && argv[i][1] == '-');
        if (i == 0) {
            out += quote(argv[i]);
        } else if (option_value || i < 2) {
            out += ' ';
            out += quote(argv[i]);
        } else {
            out += " \\\n";
            out += indent;
            out += quote(argv[i]);
        }
    }
    return out;
}

// `export NAME=value` with the value quoted; NAME must already be a valid variable name.
inline std::string export_line(std::string_view name, std::string_view value) {
    return "export " + std::string(name) + "=" + quote(value);
}

}  // namespace shell
}  // namespace detail
DSDEPLOY_NAMESPACE_END
