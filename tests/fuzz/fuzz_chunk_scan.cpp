// SPDX-License-Identifier: Apache-2.0
// The benchmark's allocation-free chunk scanner reads a server's stream events (outside input).
// It must never crash, and whenever it accepts a text, nlohmann::json must accept it too and
// agree on what the benchmark reads (output, usage, error); whenever nlohmann accepts a text
// of modest nesting, the scanner must accept it.
#include <dsdeploy/detail/chunk_scan.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>

namespace {

bool nonempty_string(const nlohmann::json& o, const char* k) {
    return o.is_object() && o.contains(k) && o[k].is_string() && !o[k].get_ref<const std::string&>().empty();
}

bool fits_int64(const nlohmann::json& v) {
    if (!v.is_number_integer()) return false;
    if (v.is_number_unsigned()) return v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    return true;
}

int nesting(std::string_view s) {
    int depth = 0, most = 0;
    for (char c : s) {
        if (c == '[' || c == '{') most = std::max(most, ++depth);
        if (c == ']' || c == '}') --depth;
    }
    return most;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto c = dsdeploy::detail::scan_chunk(text);
    // nlohmann::json ends its input at a NUL byte ("1\0junk" parses as 1), so it is no oracle
    // for texts that hold one; the scanner must only survive them.
    if (text.find('\0') != std::string_view::npos) return 0;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::out_of_range&) {
        // nlohmann::json also refuses grammatical numbers beyond double's range (17e93893848, or
        // 400 digits); the scanner skips numbers it does not read, so these are no counter-example.
        return 0;
    } catch (const nlohmann::json::exception&) {
        if (c.valid) std::abort();  // the scanner accepted what JSON does not
        return 0;
    }
    if (!c.valid) {
        if (nesting(text) < 100) std::abort();  // the scanner rejected valid JSON
        return 0;
    }
    if (c.is_object != j.is_object()) std::abort();
    if (!j.is_object()) return 0;
    bool output = false;
    if (j.contains("choices") && j["choices"].is_array()) {
        if (c.has_choices != !j["choices"].empty()) std::abort();
        for (const auto& ch : j["choices"]) {
            if (!ch.is_object()) continue;
            const auto& d = ch.contains("delta") ? ch["delta"] : nlohmann::json();
            if (nonempty_string(d, "content") || nonempty_string(d, "reasoning_content") || nonempty_string(d, "reasoning") ||
                nonempty_string(ch, "text"))
                output = true;
            if (d.is_object() && d.contains("tool_calls") && d["tool_calls"].is_array() && !d["tool_calls"].empty()) output = true;
        }
    } else if (c.has_choices) {
        std::abort();
    }
    if (output != c.has_output) std::abort();
    const bool usage = j.contains("usage") && j["usage"].is_object() && j["usage"].contains("prompt_tokens") &&
                       j["usage"].contains("completion_tokens") && fits_int64(j["usage"]["prompt_tokens"]) &&
                       fits_int64(j["usage"]["completion_tokens"]);
    if (usage != c.has_usage) std::abort();
    if (usage && (c.prompt_tokens != j["usage"]["prompt_tokens"].get<std::int64_t>() ||
                  c.completion_tokens != j["usage"]["completion_tokens"].get<std::int64_t>()))
        std::abort();
    const bool error = j.contains("error") && !j["error"].is_null();
    if (error != c.has_error) std::abort();
    return 0;
}
