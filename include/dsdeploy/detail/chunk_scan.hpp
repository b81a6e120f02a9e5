// SPDX-License-Identifier: Apache-2.0
// An exact, allocation-free reader of one OpenAI streaming chunk (the JSON text of one SSE data
// event), for the benchmark's hot path. It validates the whole text as JSON (RFC 8259: grammar,
// string escapes, surrogate pairs, UTF-8, no control characters in strings, only whitespace
// after the value), and picks out only what a benchmark needs:
//   - whether any choice carried output: a non-empty choices[i].delta.content,
//     .delta.reasoning_content, .delta.reasoning, a non-empty .delta.tool_calls array, or a
//     non-empty choices[i].text (completions);
//   - choices[i].finish_reason (the last non-null one);
//   - usage.prompt_tokens and usage.completion_tokens (integers);
//   - whether the object has an "error" member (vLLM's in-stream error).
// Duplicate keys follow nlohmann::json (the last one wins), and escaped keys ("\u0063ontent")
// are decoded, so the answer equals what the DOM would say; the fuzz target chunk_scan checks
// that. Nesting deeper than max_depth is rejected (a chunk is never that deep). Not part of the
// stable API.
#pragma once

#include <dsdeploy/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

struct chunk_info {
    bool valid = false;          // the text is one JSON value (whitespace around it allowed)
    bool is_object = false;      // ... and it is an object
    bool has_choices = false;    // "choices" is a non-empty array
    bool has_output = false;     // some choice carried output (see above)
    bool has_usage = false;      // "usage" is an object with integer prompt/completion tokens
    bool has_error = false;      // the object has an "error" member (any value but null)
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    // The last non-null finish_reason of a choice, as raw JSON string content (escapes are not
    // decoded; OpenAI's finish reasons have none). Points into the scanned text.
    std::string_view finish_reason;
};

class chunk_scanner {
public:
    static constexpr int max_depth = 128;

    static chunk_info scan(std::string_view text) noexcept {
        chunk_scanner s(text);
        chunk_info out;
        s.skip_ws();
        if (s.peek() == '{') {
            out.is_object = true;
            if (!s.root(out)) return chunk_info{};
        } else if (!s.skip_value(0)) {
            return chunk_info{};
        }
        s.skip_ws();
        if (s.p_ != s.end_) return chunk_info{};
        out.valid = true;
        return out;
    }

private:
    explicit chunk_scanner(std::string_view t) : p_(t.data()), end_(t.data() + t.size()) {}

    const char* p_;
    const char* end_;

    int peek() const noexcept { return p_ < end_ ? static_cast<unsigned char>(*p_) : -1; }
    void skip_ws() noexcept {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
    }
    bool eat(char c) noexcept {
        skip_ws();
        if (p_ < end_ && *p_ == c) {
            ++p_;
            return true;
        }
        return false;
    }
    bool literal(std::string_view word) noexcept {
        if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
        p_ += word.size();
        return true;
    }

    static int hex(int c) noexcept {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }
    bool read_u16(unsigned& v) noexcept {
        if (end_ - p_ < 4) return false;
        v = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex(static_cast<unsigned char>(p_[i]));
            if (h < 0) return false;
            v = v * 16 + static_cast<unsigned>(h);
        }
        p_ += 4;
        return true;
    }

    // A string at p_ (which is at the opening quote). raw: the bytes between the quotes.
    // escaped: whether there was a backslash. Empty means "" (no characters at all).
    bool string(std::string_view& raw, bool& escaped) noexcept {
        if (p_ >= end_ || *p_ != '"') return false;
        ++p_;
        const char* start = p_;
        escaped = false;
        while (p_ < end_) {
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                raw = std::string_view(start, static_cast<std::size_t>(p_ - start));
                ++p_;
                return true;
            }
            if (c < 0x20) return false;
            if (c == '\\') {
                escaped = true;
                ++p_;
                if (p_ >= end_) return false;
                const char e = *p_++;
                switch (e) {
                    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': break;
                    case 'u': {
                        unsigned v = 0;
                        if (!read_u16(v)) return false;
                        if (v >= 0xDC00 && v <= 0xDFFF) return false;  // a lone low surrogate
                        if (v >= 0xD800 && v <= 0xDBFF) {               // must be followed by a low one
                            if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') return false;
                            p_ += 2;
                            unsigned lo = 0;
                            if (!read_u16(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
                        }
                        break;
                    }
                    default: return false;
                }
                continue;
            }
            if (c < 0x80) {
                ++p_;
                continue;
            }
            if (!utf8(c)) return false;
        }
        return false;
    }

    // One multi-byte UTF-8 sequence starting at p_ (lead byte c), well-formed per RFC 3629.
    bool utf8(unsigned char c) noexcept {
        int n = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) { n = 2; lo = 0xA0; }
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) n = 2;
        else if (c == 0xED) { n = 2; hi = 0x9F; }
        else if (c == 0xF0) { n = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) { n = 3; hi = 0x8F; }
        else return false;
        if (end_ - p_ < n + 1) return false;
        const auto b1 = static_cast<unsigned char>(p_[1]);
        if (b1 < lo || b1 > hi) return false;
        for (int i = 2; i <= n; ++i) {
            const auto b = static_cast<unsigned char>(p_[i]);
            if (b < 0x80 || b > 0xBF) return false;
        }
        p_ += n + 1;
        return true;
    }

    // Decodes the key's escapes (only ASCII keys can match what we look for) and compares.
    static bool key_is(std::string_view raw, bool escaped, std::string_view want) noexcept {
        if (!escaped) return raw == want;
        std::size_t i = 0, k = 0;
        while (i < raw.size()) {
            if (k >= want.size()) return false;
            char c = raw[i];
            if (c == '\\') {
                const char e = raw[i + 1];
                if (e == 'u') {
                    unsigned v = 0;
                    for (int d = 0; d < 4; ++d) v = v * 16 + static_cast<unsigned>(hex(static_cast<unsigned char>(raw[i + 2 + d])));
                    if (v >= 0x80) return false;
                    c = static_cast<char>(v);
                    i += 6;
                } else {
                    switch (e) {
                        case 'b': c = '\b'; break;
                        case 'f': c = '\f'; break;
                        case 'n': c = '\n'; break;
                        case 'r': c = '\r'; break;
                        case 't': c = '\t'; break;
                        default: c = e; break;
                    }
                    i += 2;
                }
            } else {
                ++i;
            }
            if (c != want[k++]) return false;
        }
        return k == want.size();
    }

    bool number(std::int64_t* out, bool& integral) noexcept {
        const char* s = p_;
        bool neg = false;
        if (p_ < end_ && *p_ == '-') {
            neg = true;
            ++p_;
        }
        if (p_ >= end_) return false;
        std::uint64_t v = 0;
        bool overflow = false;
        if (*p_ == '0') {
            ++p_;
        } else if (*p_ >= '1' && *p_ <= '9') {
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
                const auto d = static_cast<std::uint64_t>(*p_ - '0');
                if (v > (static_cast<std::uint64_t>(INT64_MAX) - d) / 10) overflow = true;
                else v = v * 10 + d;
                ++p_;
            }
        } else {
            return false;
        }
        integral = true;
        if (p_ < end_ && *p_ == '.') {
            integral = false;
            ++p_;
            if (p_ >= end_ || *p_ < '0' || *p_ > '9') return false;
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            integral = false;
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (p_ >= end_ || *p_ < '0' || *p_ > '9') return false;
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
        }
        // nlohmann keeps integers that fit in int64 (or uint64) as integers; "-0" is an integer 0.
        if (overflow) integral = false;
        if (out && integral) *out = neg ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
        (void)s;
        return true;
    }

    bool skip_value(int depth) noexcept {
        skip_ws();
        const int c = peek();
        if (c == '{' || c == '[') {
            if (depth >= max_depth) return false;
            const char close = c == '{' ? '}' : ']';
            ++p_;
            if (eat(close)) return true;
            for (;;) {
                if (c == '{') {
                    skip_ws();
                    std::string_view k;
                    bool esc = false;
                    if (!string(k, esc) || !eat(':')) return false;
                }
                if (!skip_value(depth + 1)) return false;
                if (eat(',')) continue;
                return eat(close);
            }
        }
        if (c == '"') {
            std::string_view s;
            bool esc = false;
            return string(s, esc);
        }
        if (c == 't') return literal("true");
        if (c == 'f') return literal("false");
        if (c == 'n') return literal("null");
        bool integral = false;
        return number(nullptr, integral);
    }

    // A member value that should be a string: sets `nonempty` when it is a string with at least
    // one character, clears it otherwise (last one wins).
    bool string_member(bool& nonempty, std::string_view* raw_out, int depth) noexcept {
        skip_ws();
        if (peek() == '"') {
            std::string_view s;
            bool esc = false;
            if (!string(s, esc)) return false;
            nonempty = !s.empty();
            if (raw_out) *raw_out = s;
            return true;
        }
        nonempty = false;
        if (raw_out) *raw_out = {};
        return skip_value(depth);
    }

    // Iterates an object's members; on_member(key_raw, escaped) parses the value.
    template <class OnMember>
    bool object(OnMember&& on_member) noexcept {
        skip_ws();
        if (peek() != '{') return false;
        ++p_;
        if (eat('}')) return true;
        for (;;) {
            skip_ws();
            std::string_view k;
            bool esc = false;
            if (!string(k, esc) || !eat(':')) return false;
            if (!on_member(k, esc)) return false;
            if (eat(',')) continue;
            return eat('}');
        }
    }

    struct delta_state {
        bool content = false, reasoning_content = false, reasoning = false, tool_calls = false;
        bool any() const noexcept { return content || reasoning_content || reasoning || tool_calls; }
    };
    struct choice_state {
        delta_state delta;
        bool text = false;
        bool has_finish = false;
        std::string_view finish;
    };

    bool delta(delta_state& d, int depth) noexcept {
        d = delta_state{};
        return object([&](std::string_view k, bool esc) {
            if (key_is(k, esc, "content")) return string_member(d.content, nullptr, depth + 1);
            if (key_is(k, esc, "reasoning_content")) return string_member(d.reasoning_content, nullptr, depth + 1);
            if (key_is(k, esc, "reasoning")) return string_member(d.reasoning, nullptr, depth + 1);
            if (key_is(k, esc, "tool_calls")) {
                skip_ws();
                if (peek() == '[') {
                    const char* before = p_;
                    if (!skip_value(depth + 1)) return false;
                    // non-empty when something other than whitespace sits between the brackets
                    const char* q = before + 1;
                    while (q < p_ && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) ++q;
                    d.tool_calls = *q != ']';
                    return true;
                }
                d.tool_calls = false;
                return skip_value(depth + 1);
            }
            return skip_value(depth + 1);
        });
    }

    bool choice(choice_state& ch, int depth) noexcept {
        return object([&](std::string_view k, bool esc) {
            if (key_is(k, esc, "delta")) {
                skip_ws();
                if (peek() == '{') return delta(ch.delta, depth + 1);
                ch.delta = delta_state{};
                return skip_value(depth + 1);
            }
            if (key_is(k, esc, "text")) return string_member(ch.text, nullptr, depth + 1);
            if (key_is(k, esc, "finish_reason")) {
                skip_ws();
                if (peek() == '"') {
                    bool ne = false;
                    if (!string_member(ne, &ch.finish, depth + 1)) return false;
                    ch.has_finish = true;
                    return true;
                }
                ch.has_finish = false;
                ch.finish = {};
                return skip_value(depth + 1);
            }
            return skip_value(depth + 1);
        });
    }

    bool choices(chunk_info& out, int depth) noexcept {
        out.has_choices = false;
        out.has_output = false;
        out.finish_reason = {};
        skip_ws();
        if (peek() != '[') return skip_value(depth);
        ++p_;
        if (eat(']')) return true;
        out.has_choices = true;
        for (;;) {
            skip_ws();
            if (peek() == '{') {
                choice_state ch;
                if (!choice(ch, depth + 1)) return false;
                if (ch.delta.any() || ch.text) out.has_output = true;
                if (ch.has_finish) out.finish_reason = ch.finish;
            } else if (!skip_value(depth + 1)) {
                return false;
            }
            if (eat(',')) continue;
            return eat(']');
        }
    }

    bool usage(chunk_info& out, int depth) noexcept {
        out.has_usage = false;
        skip_ws();
        if (peek() != '{') return skip_value(depth);
        bool have_prompt = false, have_completion = false;
        std::int64_t prompt = 0, completion = 0;
        const bool ok = object([&](std::string_view k, bool esc) {
            const bool is_prompt = key_is(k, esc, "prompt_tokens");
            const bool is_completion = !is_prompt && key_is(k, esc, "completion_tokens");
            if (!is_prompt && !is_completion) return skip_value(depth + 1);
            skip_ws();
            const int c = peek();
            bool& have = is_prompt ? have_prompt : have_completion;
            if (c == '-' || (c >= '0' && c <= '9')) {
                bool integral = false;
                std::int64_t v = 0;
                if (!number(&v, integral)) return false;
                have = integral;
                (is_prompt ? prompt : completion) = v;
                return true;
            }
            have = false;
            return skip_value(depth + 1);
        });
        if (!ok) return false;
        if (have_prompt && have_completion) {
            out.has_usage = true;
            out.prompt_tokens = prompt;
            out.completion_tokens = completion;
        }
        return true;
    }

    bool root(chunk_info& out) noexcept {
        return object([&](std::string_view k, bool esc) {
            if (key_is(k, esc, "choices")) return choices(out, 1);
            if (key_is(k, esc, "usage")) return usage(out, 1);
            if (key_is(k, esc, "error")) {
                skip_ws();
                out.has_error = peek() != 'n';  // null is "no error"
                return skip_value(1);
            }
            return skip_value(1);
        });
    }
};

inline chunk_info scan_chunk(std::string_view text) noexcept { return chunk_scanner::scan(text); }

}  // namespace detail
DSDEPLOY_NAMESPACE_END
