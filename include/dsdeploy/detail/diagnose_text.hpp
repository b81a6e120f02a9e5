// SPDX-License-Identifier: Apache-2.0
// What every tool-output parser and rule set of the diagnose rooms shares: terminal colour
// codes removed, lines cleaned to valid UTF-8 and cut, tokens, counts and quantities read without
// throwing ("1,024", "14.85GiB"), "node:<ip>" resource names, and numbers and byte sizes printed
// for messages. Internal (detail::diag); not API.
#pragma once

#include <dsdeploy/cluster.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/detail/line_splitter.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/log_line.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace diag {

constexpr std::size_t max_line_chars = 400;

// A quick "certainly not there" for the many fixed strings the parsers look for in each line:
// while a key_filter is in scope on a line, every search in that line (or a part of it) first
// checks that the pairs of adjacent bytes of the key (ASCII letters in lower case) occur in the
// line, from a 4096-bit table filled once per line; a search the table rules out costs a few
// bit tests instead of a scan. Answers are the same with or without it.
class key_filter {
public:
    explicit key_filter(std::string_view line) : begin_(line.data()), end_(line.data() + line.size()), prev_(current()) {
        for (auto& w : bits_) w = 0;
        const auto* p = reinterpret_cast<const unsigned char*>(line.data());
        if (line.size() >= 2) {
            unsigned a = fold(p[0]);
            for (std::size_t i = 1; i < line.size(); ++i) {
                const unsigned b = fold(p[i]);
                set(pair(a, b));
                a = b;
            }
        }
        current() = this;
    }
    ~key_filter() { current() = prev_; }
    key_filter(const key_filter&) = delete;
    key_filter& operator=(const key_filter&) = delete;

    // False when `key` cannot occur in the line: its first or last pair of bytes is not there.
    bool may_contain(std::string_view key) const {
        const std::size_t n = key.size();
        if (n < 2) return true;
        const auto* k = reinterpret_cast<const unsigned char*>(key.data());
        return test(pair(fold(k[0]), fold(k[1]))) && test(pair(fold(k[n - 2]), fold(k[n - 1])));
    }
    // The filter in scope for s (s lies within its line), or nullptr.
    static const key_filter* covering(std::string_view s) {
        const key_filter* f = current();
        if (f && !s.empty() && !std::less<const char*>()(s.data(), f->begin_) && !std::less<const char*>()(f->end_, s.data() + s.size())) return f;
        return nullptr;
    }

private:
    static const key_filter*& current() {
        static thread_local const key_filter* f = nullptr;
        return f;
    }
    static unsigned fold(unsigned char c) { return fold_table().v[c]; }
    struct folds {
        unsigned char v[256];
    };
    static constexpr folds make_folds() {
        folds t{};
        for (unsigned i = 0; i < 256; ++i) t.v[i] = static_cast<unsigned char>(i - 65u < 26u ? (i | 0x20u) : i);  // ASCII letters in lower case
        return t;
    }
    static const folds& fold_table() {
        static constexpr folds t = make_folds();
        return t;
    }
    static unsigned pair(unsigned a, unsigned b) { return ((a << 4) ^ b ^ (a >> 4)) & 4095u; }
    void set(unsigned h) { bits_[h >> 6] |= std::uint64_t{1} << (h & 63u); }
    bool test(unsigned h) const { return (bits_[h >> 6] >> (h & 63u)) & 1u; }

    const char* begin_;
    const char* end_;
    const key_filter* prev_;
    std::uint64_t bits_[64];
};

// s.find(key), ruled out quickly by the key_filter in scope.
inline std::size_t find_key(std::string_view s, std::string_view key) {
    if (const key_filter* f = key_filter::covering(s); f && !f->may_contain(key)) return std::string_view::npos;
    return s.find(key);
}

inline bool has(std::string_view s, std::string_view needle) { return find_key(s, needle) != std::string_view::npos; }

// Removes terminal escape sequences (ESC [ ... final byte, and two-byte ESC x).
inline std::string strip_ansi(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c != '\x1b') {
            out.push_back(c);
            continue;
        }
        if (i + 1 < s.size() && s[i + 1] == '[') {
            std::size_t j = i + 2;
            while (j < s.size() && !(static_cast<unsigned char>(s[j]) >= 0x40 && static_cast<unsigned char>(s[j]) <= 0x7e)) ++j;
            i = j;  // skip the final byte too
        } else if (i + 1 < s.size()) {
            ++i;
        }
    }
    return out;
}

// Valid UTF-8 without control characters (other than tab, and newline when keep_newlines), cut
// to `max` bytes (then "..." is appended).
inline std::string clean_text(std::string_view s, std::size_t max = max_line_chars, bool keep_newlines = false) {
    std::string out;
    out.reserve(std::min(s.size(), max + 3));
    std::size_t i = 0;
    while (i < s.size()) {
        if (out.size() >= max) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            const bool keep = c == '\t' || (keep_newlines && c == '\n');
            out.push_back((c < 0x20 && !keep) || c == 0x7f ? '?' : static_cast<char>(c));
            ++i;
            continue;
        }
        std::size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        bool ok = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
        if (ok && len == 2 && c < 0xc2) ok = false;  // overlong
        if (ok && len == 3) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0)) ok = false;  // overlong, surrogates
        }
        if (ok && len == 4) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            if ((c == 0xf0 && c1 < 0x90) || c > 0xf4 || (c == 0xf4 && c1 >= 0x90)) ok = false;
        }
        if (!ok) {
            out.push_back('?');
            ++i;
            continue;
        }
        out.append(s.data() + i, len);
        i += len;
    }
    return out;
}

inline log_line make_line(std::size_t number, std::string_view clean) { return log_line{number, clean_text(trim(clean))}; }

// A colour code whose ESC was lost on the way (a paste): "[36m(RayWorkerWrapper ...)" -> "(RayWorkerWrapper ...)".
inline std::string strip_colour_remnant(std::string s) {
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    while (i < s.size() && s[i] == '[') {
        std::size_t j = i + 1;
        while (j < s.size() && j - i <= 8 && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == ';')) ++j;
        if (j == i + 1 || j >= s.size() || s[j] != 'm') break;
        s.erase(i, j + 1 - i);
    }
    return s;
}

// One line as the parsers read it: escape sequences (and colour codes that lost their ESC)
// removed. Returns `raw` itself when there is nothing to remove (most lines), else `buf`.
inline std::string_view clean_log_line(std::string_view raw, std::string& buf) {
    std::size_t i = 0;
    while (i < raw.size() && (raw[i] == ' ' || raw[i] == '\t')) ++i;
    bool remnant = false;  // "[36m" without its ESC (strip_colour_remnant)
    if (i < raw.size() && raw[i] == '[') {
        std::size_t j = i + 1;
        while (j < raw.size() && j - i <= 8 && ((raw[j] >= '0' && raw[j] <= '9') || raw[j] == ';')) ++j;
        remnant = j > i + 1 && j < raw.size() && raw[j] == 'm';
    }
    if (!remnant && raw.find('\x1b') == std::string_view::npos) return raw;
    buf = strip_colour_remnant(strip_ansi(raw));
    return buf;
}

// Calls on_line(number, line) for every line of `text` (1-based numbers), split and cleaned as
// doctor reads a file: LF, CRLF and bare CR end lines, a leading BOM is dropped, colour removed
// (line_splitter.hpp, clean_log_line).
template <class F>
inline void for_each_clean_line(std::string_view text, F&& on_line) {
    line_splitter split;
    std::string buf;
    std::size_t number = 0;
    auto one = [&](std::string_view raw) {
        const std::string_view l = clean_log_line(raw, buf);
        const key_filter filter(l);
        on_line(++number, l);
    };
    split.feed(text, one);
    split.finish(one);
}

// The input's lines, cleaned (for_each_clean_line).
inline std::vector<std::string> clean_lines(std::string_view text) {
    std::vector<std::string> out;
    for_each_clean_line(text, [&out](std::size_t, std::string_view l) { out.emplace_back(l); });
    return out;
}

inline std::vector<std::string_view> tokens(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        std::size_t j = i;
        while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

// "2,097,152" or "1478" -> the number; at most 18 digits.
inline std::optional<std::int64_t> parse_count(std::string_view s) {
    s = trim(s);
    std::int64_t v = 0;
    int digits = 0;
    for (char c : s) {
        if (c == ',' || c == '_') continue;
        if (c < '0' || c > '9') return std::nullopt;
        if (++digits > 18) return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (digits == 0) return std::nullopt;
    return v;
}

// A finite decimal number ("0.82", "2048.00", "-1", "1e3"); nullopt for anything else.
inline std::optional<double> parse_number(std::string_view s) {
    s = trim(s);
    if (s.empty() || s.size() > 40) return std::nullopt;
    for (char c : s)
        if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return std::nullopt;
    const std::string copy(s);
    char* end = nullptr;
    const double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// The text after `key`, or empty.
inline std::string_view after(std::string_view s, std::string_view key) {
    auto p = find_key(s, key);
    if (p == std::string_view::npos) return {};
    return s.substr(p + key.size());
}

// The leading run of characters of `s` accepted by `keep`.
template <class Pred>
inline std::string_view take_while(std::string_view s, Pred keep) {
    std::size_t i = 0;
    while (i < s.size() && keep(s[i])) ++i;
    return s.substr(0, i);
}

inline bool count_char(char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == ','; }
inline bool number_char(char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }

// The (comma-grouped) integer right after `key`.
inline std::optional<std::int64_t> count_after(std::string_view s, std::string_view key) {
    auto p = find_key(s, key);
    if (p == std::string_view::npos) return std::nullopt;
    auto rest = s.substr(p + key.size());
    return parse_count(take_while(rest, count_char));
}

inline std::optional<double> number_after(std::string_view s, std::string_view key) {
    auto p = find_key(s, key);
    if (p == std::string_view::npos) return std::nullopt;
    return parse_number(take_while(s.substr(p + key.size()), number_char));
}

inline std::optional<int> small_int(std::optional<std::int64_t> v) {
    if (!v || *v > 1000000000) return std::nullopt;
    return static_cast<int>(*v);
}

// Appends s unless it is empty, already there, or v holds `cap` entries (a linear search: for
// short lists; a growing set of values uses a hash set, see vllm_log_parser).
inline void add_unique(std::vector<std::string>& v, std::string s, std::size_t cap = 1024) {
    if (!s.empty() && v.size() < cap && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

// `needle` (lower-case) in s, ignoring the case of s.
inline bool has_nocase(std::string_view s, std::string_view needle) {
    if (needle.empty()) return true;
    if (s.size() < needle.size()) return false;
    if (const key_filter* f = key_filter::covering(s); f && !f->may_contain(needle)) return false;
    const auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
    for (std::size_t i = 0; i + needle.size() <= s.size(); ++i) {
        if (lower(s[i]) != needle[0]) continue;
        std::size_t k = 1;
        while (k < needle.size() && lower(s[i + k]) == needle[k]) ++k;
        if (k == needle.size()) return true;
    }
    return false;
}

// Every IP in "node:<ip>" resource names ('node:10.0.0.1': 0.001).
inline void collect_node_ips(std::string_view s, std::vector<std::string>& out) {
    std::size_t p = 0;
    while ((p = s.find("node:", p)) != std::string_view::npos) {
        p += 5;
        auto ip = take_while(s.substr(p), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':'; });
        // "node:10.0.0.1': 0.001" - the IP ends before the quote; IPv6 may run into ':' of the value
        std::string candidate(ip);
        while (!candidate.empty() && candidate.back() == ':') candidate.pop_back();
        if (is_ip_address(candidate)) add_unique(out, candidate);
    }
}

// Bytes in "14.85GiB", "0B", "1013.52MiB", or a plain count ("2.0").
inline std::optional<double> parse_quantity(std::string_view s, std::string_view unit = {}) {
    s = trim(s);
    std::string_view num = take_while(s, number_char);
    if (num.empty()) return std::nullopt;
    auto v = parse_number(num);
    if (!v) return std::nullopt;
    std::string_view u = unit.empty() ? s.substr(num.size()) : unit;
    double m = 1;
    if (u.empty()) m = 1;
    else if (u == "B") m = 1;
    else if (u == "KiB" || u == "KB") m = 1024.0;
    else if (u == "MiB" || u == "MB") m = 1024.0 * 1024;
    else if (u == "GiB" || u == "GB") m = 1024.0 * 1024 * 1024;
    else if (u == "TiB" || u == "TB") m = 1024.0 * 1024 * 1024 * 1024;
    else if (u == "PiB") m = 1024.0 * 1024 * 1024 * 1024 * 1024;
    else return std::nullopt;
    return *v * m;
}

inline bool is_unit(std::string_view u) {
    return u == "B" || u == "KiB" || u == "MiB" || u == "GiB" || u == "TiB" || u == "PiB" || u == "KB" || u == "MB" || u == "GB" ||
           u == "TB";
}


inline std::string fmt_number(double v) {
    char buf[64];
    if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
    else std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

inline std::string fmt_bytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        ++u;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return buf;
}

}  // namespace diag
}  // namespace detail

DSDEPLOY_NAMESPACE_END
