// SPDX-License-Identifier: Apache-2.0
// Implementation of vllm_memory_log.hpp: the memory-line parser, the reconciliation with the
// plan, its finding and its presentation.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/impl/diagnose_rules_inl.hpp>
#include <dsdeploy/vllm_memory.hpp>
#include <dsdeploy/vllm_memory_log.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace memlog {

namespace d = detail::diag;

constexpr std::size_t max_record_chars = 4000;
constexpr double max_gib = 1.0e7;  // anything larger is not a GPU's memory

inline bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// A line that continues the previous one: a terminal or a copy cut the record ("Model loading \n
// took 7.12 GiB", "Available KV cache me\nmory: 11.03 GiB", "finished in 11\n secs, took 1.00 GiB").
// Not a continuation although it starts with a digit or a lower-case letter: a timestamp
// ("2026-12-03T07:00:00Z ...", "12-03 07:00:00 ...", "07:00:00 ..."), a Compose prefix
// ("vllm-1  | INFO ...") or an NCCL line ("gpu-a:1234:1300 [0] NCCL INFO ...").
// An NCCL line ("gpu-a:1234:1300 [0] NCCL INFO ...", also behind a Ray worker's prefix): it
// starts a record and never holds one of vLLM's memory figures.
inline bool nccl_line(std::string_view l) {
    const std::string_view head = l.substr(0, 120);
    return head.find(" NCCL INFO") != std::string_view::npos || head.find(" NCCL WARN") != std::string_view::npos;
}

inline bool starts_record(std::string_view l) {
    std::size_t i = 0;
    while (i < l.size() && i < 4 && is_digit(l[i])) ++i;
    if (i > 0 && i + 2 < l.size() && (l[i] == '-' || l[i] == '/' || l[i] == ':') && is_digit(l[i + 1])) {
        std::size_t j = i + 1;
        while (j < l.size() && j - i <= 2 && is_digit(l[j])) ++j;
        if (j < l.size() && (l[j] == '-' || l[j] == '/' || l[j] == ':' || l[j] == ' ' || l[j] == 'T')) return true;
    }
    const auto bar = l.find(" | ");
    if (bar != std::string_view::npos && bar < 80 && l.substr(0, bar).find_first_of("()[]") == std::string_view::npos) return true;
    // an NCCL line ("gpu-a:1234:1300 [0] NCCL INFO ...", host names are often lower case)
    return nccl_line(l);
}

inline bool continues(std::string_view l) {
    if (l.empty()) return false;
    const char c = l.front();
    return ((c >= 'a' && c <= 'z') || is_digit(c) || c == ' ' || c == '\t') && !starts_record(l);
}

// "**Weight memory:** 13.47 GiB" -> "Weight memory: 13.47 GiB"; "- x" -> "x" (Markdown restatements).
inline std::string normalise(std::string_view raw) {
    std::string s;
    s.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '`') continue;
        if (raw[i] == '*' && i + 1 < raw.size() && raw[i + 1] == '*') {
            ++i;
            continue;
        }
        s.push_back(raw[i]);
    }
    std::string_view t = trim(s);
    if (t.size() >= 2 && (t[0] == '-' || t[0] == '*') && t[1] == ' ') t.remove_prefix(2);
    return std::string(trim(t));
}

// A signed decimal at s[i] (i advanced past it).
inline std::optional<double> number_at(std::string_view s, std::size_t& i) {
    std::size_t j = i;
    if (j < s.size() && (s[j] == '-' || s[j] == '+')) ++j;
    std::size_t k = j;
    while (k < s.size() && k - j < 30 && (is_digit(s[k]) || s[k] == '.')) ++k;
    if (k == j || !is_digit(s[j])) return std::nullopt;
    auto v = d::parse_number(s.substr(i, k - i));
    if (!v) return std::nullopt;
    i = k;
    return v;
}

inline void skip(std::string_view s, std::size_t& i, std::string_view chars) {
    while (i < s.size() && chars.find(s[i]) != std::string_view::npos) ++i;
}

inline void skip_word(std::string_view s, std::size_t& i, std::string_view word) {
    if (s.substr(i, word.size()) == word && (i + word.size() == s.size() || s[i + word.size()] == ' ')) i += word.size();
}

// The unit after a number: GiB (vLLM's "GB" in "Loading model weights took ... GB" is GiB too), MiB.
inline std::optional<double> in_gib(double v, std::string_view s, std::size_t i, bool unit_required) {
    skip(s, i, " ");
    const std::string_view u = s.substr(i, 3);
    double g = v;
    if (u == "GiB" || s.substr(i, 2) == "GB") g = v;
    else if (u == "MiB" || s.substr(i, 2) == "MB") g = v / 1024.0;
    else if (unit_required) return std::nullopt;
    if (!(std::fabs(g) < max_gib)) return std::nullopt;
    return g;
}

// The GiB figure after `key`: "key: 14.96GiB", "key    1.79GiB", "key (23.58GiB)", "key=0.35GiB",
// "key takes 0.20GiB", "key is 1.57GiB".
inline std::optional<double> gib_after(std::string_view s, std::string_view key, bool unit_required = true) {
    const auto p = d::find_key(s, key);
    if (p == std::string_view::npos) return std::nullopt;
    std::size_t i = p + key.size();
    skip(s, i, " \t:=(");
    skip_word(s, i, "takes");
    skip_word(s, i, "take");
    skip_word(s, i, "is");
    skip(s, i, " \t:=(");
    auto v = number_at(s, i);
    if (!v) return std::nullopt;
    return in_gib(*v, s, i, unit_required);
}

// The number right before `key` ("14.99 GiB for weight": key " GiB for weight").
inline std::optional<double> number_before(std::string_view s, std::string_view key) {
    const auto p = d::find_key(s, key);
    if (p == std::string_view::npos || p == 0) return std::nullopt;
    std::size_t k = p;
    while (k > 0 && p - k < 30 && (is_digit(s[k - 1]) || s[k - 1] == '.')) --k;
    if (k == p) return std::nullopt;
    if (k > 0 && s[k - 1] == '-') --k;
    auto v = d::parse_number(s.substr(k, p - k));
    if (!v || !(std::fabs(*v) < max_gib)) return std::nullopt;
    return v;
}

// A plain number after `key` (a utilization, "0.9"): skips " :=(" and "is".
inline std::optional<double> plain_after(std::string_view s, std::string_view key) {
    const auto p = d::find_key(s, key);
    if (p == std::string_view::npos) return std::nullopt;
    std::size_t i = p + key.size();
    skip(s, i, " \t:=('\"");
    skip_word(s, i, "is");
    skip(s, i, " \t:=(");
    return number_at(s, i);
}

// "(78.57/79.18 GiB)" within a few characters after `key`: {free, total}.
inline std::optional<std::pair<double, double>> ratio_after(std::string_view s, std::string_view key) {
    const auto p = d::find_key(s, key);
    if (p == std::string_view::npos) return std::nullopt;
    const std::string_view rest = s.substr(p + key.size(), 60);
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto a = number_before(rest, "/");
    std::size_t i = slash + 1;
    auto b = number_at(rest, i);
    if (!a || !b || !(*b > 0) || !(*b < max_gib)) return std::nullopt;
    return std::make_pair(*a, *b);
}

inline void note(std::optional<logged_figure>& slot, double v, std::size_t n, std::string_view line, bool keep_smallest = false) {
    if (!slot) {
        slot = logged_figure{v, d::make_line(n, line), 1, false};
        return;
    }
    ++slot->lines;
    if (std::fabs(slot->value - v) > 0.005) {
        slot->varies = true;
        if (keep_smallest ? v < slot->value : v > slot->value) {
            slot->value = v;
            slot->line = d::make_line(n, line);
        }
    }
}

inline std::string grouped(std::int64_t v) {
    std::string digits = std::to_string(v < 0 ? -v : v), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return (v < 0 ? "-" : "") + out;
}

inline bool starts(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Cells of a Markdown table row "| a | b |".
inline std::vector<std::string> cells(std::string_view s) {
    std::vector<std::string> out;
    s = trim(s);
    if (s.empty() || s.front() != '|') return out;
    s.remove_prefix(1);
    while (!s.empty()) {
        const auto bar = s.find('|');
        const std::string_view cell = trim(s.substr(0, bar));
        if (bar == std::string_view::npos) {
            if (!cell.empty()) out.emplace_back(cell);
            break;
        }
        out.emplace_back(cell);
        s.remove_prefix(bar + 1);
        if (out.size() > 64) break;
    }
    return out;
}

}  // namespace memlog
}  // namespace detail

namespace detail {
namespace memlog {


// "(Worker_PP1_TP0 pid=12) INFO ..." -> 1 (the mp executor's worker prefix, vllm/v1/executor/
// multiproc_executor.py setup_proc_title_and_log_prefix, 0.11+); -1 when the prefix names no stage
// (the Ray executor's "(RayWorkerWrapper pid=..., ip=...)", the engine core, a single stage).
inline int pp_rank_of(std::string_view s) {
    const std::string_view head = s.substr(0, 160);
    std::size_t from = 0;
    while (true) {
        const auto w = head.find("Worker", from);
        if (w == std::string_view::npos) return -1;
        const auto close = head.find_first_of(" )", w);
        const std::string_view name = head.substr(w, close == std::string_view::npos ? std::string_view::npos : close - w);
        const auto pp = name.find("_PP");
        if (pp != std::string_view::npos) {
            std::size_t i = pp + 3;
            int v = 0, digits = 0;
            while (i < name.size() && is_digit(name[i]) && digits < 6) v = v * 10 + (name[i++] - '0'), ++digits;
            if (digits > 0) return v;
        }
        from = w + 6;
    }
}

DSDEPLOY_INLINE void record_parser::add(const record& rec) {
    namespace m = detail::memlog;
    vllm_memory_log& r = r_;
    const std::string s = m::normalise(rec.text);
    const d::key_filter filter(s);
    const std::size_t number = rec.number;
    if (s.empty()) return;
    auto put = [&](std::optional<logged_figure>& slot, std::optional<double> v, bool smallest = false) {
        if (!v) return false;
        m::note(slot, *v, number, s, smallest);
        return true;
    };
    // version
    if (auto v = d::after(s, "vLLM API server version "); !v.empty()) {
        auto t = d::tokens(v);
        if (!t.empty()) r.version = std::string(t[0].substr(0, 40));
    }
    if (auto v = d::after(s, "LLM engine (v"); !v.empty() && r.version.empty())
        r.version = std::string(d::take_while(v.substr(0, 40), [](char c) { return c != ')' && c != ' '; }));
    if (auto v = d::after(s, "vLLM version: "); !v.empty() && r.version.empty()) {
        auto t = d::tokens(v);
        if (!t.empty()) r.version = std::string(t[0].substr(0, 40));
    }
    // configuration
    for (std::string_view key : {"Desired GPU memory utilization is", "desired GPU memory utilization", "Desired GPU utilization:",
                                 "Requested memory:", "gpu_memory_utilization", "--gpu-memory-utilization", "gpu-memory-utilization:"}) {
        auto u = m::plain_after(s, key);
        if (u && *u > 0 && *u <= 1.0) {
            m::note(r.utilization, *u, number, s);
            break;
        }
    }
    for (std::string_view key : {"'tensor_parallel_size': ", "tensor_parallel_size=", "tensor-parallel-size: ", " -tp "})
        if (auto v = d::small_int(d::count_after(s, key)); v && *v > 0) {
            m::note(r.tensor_parallel_size, *v, number, s);
            break;
        }
    for (std::string_view key : {"'max_model_len': ", "max_seq_len=", "max-model-len: ", "--max-model-len ", "Using max model len "})
        if (auto v = d::count_after(s, key); v && *v > 0 && *v < (std::int64_t{1} << 40)) {
            m::note(r.max_model_len, double(*v), number, s);
            break;
        }
    for (std::string_view key : {"max_num_batched_tokens=", "'max_num_batched_tokens': "})
        if (auto v = d::count_after(s, key); v && *v > 0 && *v < (std::int64_t{1} << 40)) {
            m::note(r.max_num_batched_tokens, double(*v), number, s);
            break;
        }
    for (std::string_view key : {"block_size=", "'block_size': ", "block-size: "})
        if (auto v = d::count_after(s, key); v && *v > 0 && *v <= 65536) {
            block_size_ = double(*v);
            break;
        }
    // the budget
    put(r.total_gib, m::gib_after(s, "total_gpu_memory"));
    for (std::string_view key : {"Free memory on device", "Free memory on device:"})
        if (auto fr = m::ratio_after(s, key)) {
            m::note(r.free_at_start_gib, fr->first, number, s);
            m::note(r.total_gib, fr->second, number, s);
            break;
        }
    put(r.free_at_start_gib, m::gib_after(s, "Initial free memory:"));
    if (d::has(s, "the current vLLM instance can use")) {
        auto v = m::gib_after(s, "the current vLLM instance can use");
        if (!v) v = m::gib_after(s, ") = ");
        put(r.requested_gib, v);
    }
    for (std::string_view key : {"Desired GPU memory utilization is", "desired GPU memory utilization", "Desired GPU utilization:",
                                 "Requested memory:"}) {
        const auto p = d::find_key(s, key);
        if (p == std::string::npos) continue;
        const std::string_view rest = std::string_view(s).substr(p, 80);
        if (put(r.requested_gib, m::number_before(rest, " GiB"))) break;
    }
    // weights
    for (std::string_view key : {"Model loading took", "model weights took", "model weights take", "Weight memory:", "weights memory:"})
        if (put(r.weights_gib, m::gib_after(s, key))) break;
    put(r.weights_gib, m::number_before(s, " GiB for weight"));
    // non-torch memory
    // "non_torch_memory" of the V0 lines; a MemorySnapshot's repr ("torch_memory=..., non_torch_memory=...", DEBUG) is
    // an absolute figure, not the profile's increase.
    if (d::has(s, "Memory profiling results")) put(r.non_torch_gib, m::gib_after(s, "non_torch_memory="));
    else if (!d::has(s, "torch_memory=")) put(r.non_torch_gib, m::gib_after(s, "non_torch_memory"));
    put(r.non_torch_gib, m::gib_after(s, "Non-torch memory:"));
    put(r.non_torch_gib, m::gib_after(s, "non-torch forward increase memory:"));
    put(r.non_torch_gib, m::number_before(s, " GiB for non-torch memory"));
    // activation peak
    put(r.activation_gib, m::gib_after(s, "PyTorch activation peak memory"));
    put(r.activation_gib, m::gib_after(s, "Peak activation memory:"));
    put(r.activation_gib, m::gib_after(s, "torch peak memory increase:"));
    put(r.activation_gib, m::number_before(s, " GiB for peak activation"));
    put(r.activation_gib, m::number_before(s, " GiB allocated at peak"));
    if (d::has(s, "Memory profiling results")) put(peak_torch_, m::gib_after(s, "peak_torch_memory="));
    // CUDA graphs
    put(r.cuda_graph_estimate_gib, m::gib_after(s, "Estimated CUDA graph memory:"));
    if (const auto p = s.find("Graph capturing finished"); p != std::string::npos)
        put(r.cuda_graph_gib, m::gib_after(std::string_view(s).substr(p), "took "));
    put(pool_actual_, m::gib_after(s, "CUDA graph pool memory:"));
    put(r.cuda_graph_delta_gib, m::gib_after(s, "CUDAGraph memory:"));
    put(r.cuda_graph_delta_gib, m::number_before(s, " GiB for CUDAGraph memory"));
    // the KV cache
    const bool kv_found = put(r.available_kv_gib, m::gib_after(s, "Available KV cache memory"), true) ||
                          put(r.available_kv_gib, m::gib_after(s, "reserved for KV Cache is"), true) ||
                          put(r.available_kv_gib, m::gib_after(s, "available_kv_cache_memory"), true) ||
                          put(r.available_kv_gib, m::gib_after(s, "than the available KV cache memory"), true) ||
                          put(r.available_kv_gib, m::gib_after(s, "Current kv cache memory in use is"), true);
    if (!kv_found && d::has(s, "Memory profiling results")) put(r.available_kv_gib, m::gib_after(s, "kv_cache_size="), true);
    if (!kv_found && m::starts(s, "KV cache memory:")) put(r.available_kv_gib, m::gib_after(s, "KV cache memory:"), true);
    put(r.kv_committed_gib, m::number_before(s, " GiB committed to the KV cache"), true);
    if (auto v = d::count_after(s, " KV cache size: "); v && *v < (std::int64_t{1} << 50)) m::note(r.kv_tokens, double(*v), number, s, true);
    else if (auto v0 = d::count_after(s, "that can be stored in KV cache ("); v0 && *v0 < (std::int64_t{1} << 50))
        m::note(r.kv_tokens, double(*v0), number, s, true);
    for (std::string_view key : {"# GPU blocks: ", "# cuda blocks: ", "GPU blocks: "})
        if (auto v = d::count_after(s, key); v && *v < (std::int64_t{1} << 40)) {
            m::note(blocks_, double(*v), number, s, true);
            break;
        }
    if (auto toks = d::count_after(s, "Maximum concurrency for "); toks && *toks < (std::int64_t{1} << 40)) {
        if (auto x = m::plain_after(s, "tokens per request:")) {
            m::note(r.concurrency_tokens, double(*toks), number, s, true);
            m::note(r.max_concurrency, *x, number, s, true);
        }
    }
    // A Markdown table of the terms (llm-d's capacity-planner write-up).
    const auto row = m::cells(s);
    if (row.empty()) table_header_.clear();
    if (!row.empty()) {
        bool header = false;
        for (const auto& c : row) header = header || c == "Weights" || c == "KV Cache";
        if (header) {
            table_header_ = row;
        } else if (!table_header_.empty()) {
            for (std::size_t k = 0; k < row.size() && k < table_header_.size(); ++k) {
                const std::string col = detail::to_lower(table_header_[k]);
                std::size_t i = 0;
                auto v = m::number_at(row[k], i);
                if (!v || i != row[k].size()) continue;
                if (col == "weights") put(r.weights_gib, v);
                else if (col == "activation") put(r.activation_gib, v);
                else if (col == "non-torch") put(r.non_torch_gib, v);
                else if (col == "cuda graph") put(r.cuda_graph_delta_gib, v);
                else if (col == "kv cache") put(r.available_kv_gib, v, true);
                else if (col == "tp" && *v >= 1 && *v < 1e6) put(r.tensor_parallel_size, v);
                else if (col == "util" && *v > 0 && *v <= 1) put(r.utilization, v);
                else if (col == "max-model-len" && *v >= 1 && *v < 1e12) put(r.max_model_len, v);
            }
        }
    }
}

DSDEPLOY_INLINE void record_parser::skip(const record& rec) {
    if (!trim(rec.text).empty()) table_header_.clear();  // what add() does with it (no table row, no key)
}

DSDEPLOY_INLINE vllm_memory_log record_parser::finish() {
    vllm_memory_log& r = r_;
    if (!r.kv_tokens && blocks_) {
        logged_figure t = *blocks_;
        t.value = blocks_->value * block_size_;
        r.kv_tokens = t;
    }
    if (!r.cuda_graph_gib && pool_actual_) r.cuda_graph_gib = pool_actual_;
    if (!r.activation_gib && peak_torch_ && r.weights_gib) {
        logged_figure a = *peak_torch_;
        a.value = peak_torch_->value - r.weights_gib->value;  // peak_torch_memory counted the weights
        r.activation_gib = a;
    }
    r.recognised = r.weights_gib || r.non_torch_gib || r.activation_gib || r.available_kv_gib || r.kv_tokens || r.max_concurrency ||
                   r.cuda_graph_gib || r.cuda_graph_estimate_gib || r.free_at_start_gib;
    vllm_memory_log out = std::move(r_);
    *this = record_parser{};
    return out;
}

}  // namespace memlog
}  // namespace detail

namespace detail {
namespace memlog {
// Whether a one-line record can hold anything record_parser::add reads: every key it looks for
// contains one of these words, and Markdown (tables, backticks, bold) is always read.
inline bool may_matter(std::string_view line) {
    for (char c : {'|', '`', '*'})
        if (std::memchr(line.data(), c, line.size())) return true;
    for (std::string_view w : {"GiB", "emory", "cache", "Cache", "block", "max", "tensor", "-tp ", "utilization", "capturing", "LLM engine",
                               "concurrency", "per request", "took", "take", "instance can use", "version", ") = "})
        if (d::has(line, w)) return true;
    return false;
}
}  // namespace memlog
}  // namespace detail

DSDEPLOY_INLINE void vllm_memory_log_parser::line(std::size_t number, std::string_view text) {
    namespace m = detail::memlog;
    if (has_record_ && m::continues(text) && record_.text.size() < m::max_record_chars) {
        if (!record_matters_) {
            // a word cut in two by the join: look across the seam too (the longest word has 16 characters)
            const std::string_view before = std::string_view(record_.text).substr(record_.text.size() - std::min<std::size_t>(record_.text.size(), 15));
            std::string seam(before);
            seam.append(text.data(), std::min<std::size_t>(text.size(), 15));
            record_matters_ = m::may_matter(text) || m::may_matter(seam);
        }
        record_.text.append(text.data(), text.size());
        return;
    }
    flush();
    record_.number = number;
    record_.text.assign(text.data(), text.size());
    record_matters_ = !m::nccl_line(text) && m::may_matter(text);  // NCCL's lines: nothing to read
    has_record_ = true;
}

DSDEPLOY_INLINE void vllm_memory_log_parser::flush() {
    if (!has_record_) return;
    has_record_ = false;
    if (!record_matters_) {
        // none of the keys' words: nothing to read, but it ends a Markdown table (all_, and its stage's)
        all_.skip(record_);
        if (stage_tables_ > 0) {
            auto it = stages_.find(detail::memlog::pp_rank_of(record_.text));
            if (it != stages_.end()) {
                const bool had = it->second.in_table();
                it->second.skip(record_);
                if (had && !it->second.in_table()) --stage_tables_;
            }
        }
        return;
    }
    record_.pp_rank = detail::memlog::pp_rank_of(record_.text);
    all_.add(record_);
    // The lines each pipeline stage's workers printed, read on their own too (the first
    // max_stages stages whose lines hold a key's word).
    if (record_.pp_rank >= 0) {
        auto it = stages_.find(record_.pp_rank);
        if (it == stages_.end() && stages_.size() < max_stages) it = stages_.emplace(record_.pp_rank, detail::memlog::record_parser{}).first;
        if (it != stages_.end()) {
            const bool had = it->second.in_table();
            it->second.add(record_);
            const bool has_now = it->second.in_table();
            if (had && !has_now) --stage_tables_;
            if (!had && has_now) ++stage_tables_;
        }
    }
}

DSDEPLOY_INLINE vllm_memory_log vllm_memory_log_parser::finish() {
    flush();
    vllm_memory_log r = all_.finish();
    for (auto& [rank, parser] : stages_) {
        vllm_memory_log st = parser.finish();
        if (!st.recognised) continue;
        st.pp_rank = rank;
        st.version = r.version;
        r.stages.push_back(std::move(st));
    }
    *this = vllm_memory_log_parser{};
    return r;
}

DSDEPLOY_INLINE vllm_memory_log parse_vllm_memory_log(std::string_view text) {
    vllm_memory_log_parser p;
    detail::diag::for_each_clean_line(text, [&p](std::size_t n, std::string_view l) { p.line(n, l); });
    return p.finish();
}

// --- reconciliation ------------------------------------------------------------------------------

namespace detail {
namespace memlog {

inline const memory_term* term_named(const std::vector<memory_term>& terms, std::string_view name) {
    for (const auto& t : terms)
        if (t.name == name) return &t;
    return nullptr;
}

inline const memory_comparison* row_named(const std::vector<memory_comparison>& rows, std::string_view name) {
    for (const auto& c : rows)
        if (c.name == name) return &c;
    return nullptr;
}

inline std::string from(const std::optional<logged_figure>& f) {
    if (!f) return {};
    std::string s = fmt::format("line {}: {}", f->line.number, f->line.text);
    if (f->lines > 1) s += fmt::format(" ({} lines{})", f->lines, f->varies ? ", different values: the one vLLM goes by" : "");
    return s;
}

inline std::optional<double> value(const std::optional<logged_figure>& f) {
    if (!f) return std::nullopt;
    return f->value;
}

inline std::string term_fix(const std::string& name) {
    if (name == "weights")
        return "Check that the inventory's serving.model is the checkpoint vLLM loaded (its quantization and dtype) and that TP x PP match "
               "the server's; the plan's weights come from the model's config and safetensors index.";
    if (name == "cuda_graphs")
        return "Check runtime.vllm_version (CUDA graphs are outside the budget before 0.20, estimated and subtracted from 0.20) and "
               "--enforce-eager / --max-num-seqs in serving.extra_args as the server runs them.";
    if (name == "pre_snapshot")
        return "Memory was in use before vLLM's init snapshot: other processes on the GPU (nvidia-smi), or larger communicators than "
               "modelled; lower serving.gpu_memory_utilization to leave it room outside the budget.";
    return "Put the server's --max-num-batched-tokens and --max-num-seqs in serving.extra_args (the activation peak follows them) and "
           "check runtime.vllm_version; if the inventory matches what ran, raise serving.headroom_gib by the difference.";
}

}  // namespace memlog
}  // namespace detail

DSDEPLOY_INLINE vllm_memory_reconciliation reconcile_vllm_memory(const vllm_memory_log& log, const plan& p) {
    namespace m = detail::memlog;
    vllm_memory_reconciliation r;
    r.logged_version = log.version;
    const memory_account& a = p.memory;
    r.planned_version = a.vllm_version;
    if (!p.memory_checked || a.stages.empty()) {
        r.notes.push_back("the plan has no GPU memory account (a CPU-only cluster): nothing to compare");
        return r;
    }
    r.stage = a.limiting_stage;
    r.stages = a.stages.size();
    const stage_memory& st = a.stages[r.stage];
    // With pipeline parallelism, the lines of the compared stage's own workers when they say which they are.
    const vllm_memory_log* own = nullptr;
    if (r.stages > 1)
        for (const auto& sl : log.stages)
            if (sl.pp_rank == static_cast<int>(r.stage)) own = &sl;
    const vllm_memory_log& src = own ? *own : log;
    const vllm_era log_era = log.version.empty() ? a.era : vllm_era_of(log.version);
    auto predicted_term = [&](std::string_view name) -> const memory_term* { return m::term_named(st.terms, name); };
    auto add = [&](std::string name, std::string unit, bool term, const std::optional<logged_figure>& logged, std::optional<double> predicted,
                   std::string predicted_from) {
        memory_comparison c;
        c.name = std::move(name);
        c.unit = std::move(unit);
        c.term = term;
        c.logged = m::value(logged);
        c.logged_from = m::from(logged);
        c.predicted = predicted;
        c.predicted_from = std::move(predicted_from);
        r.rows.push_back(std::move(c));
        return &r.rows.back();
    };
    auto term_row = [&](const std::string& name, const std::optional<logged_figure>& logged) {
        const memory_term* t = predicted_term(name);
        add(name, "GiB", true, logged, t ? std::optional<double>(t->gib) : std::nullopt, t ? t->source : std::string());
    };

    term_row("weights", src.weights_gib);
    const memory_term* nt = predicted_term("non_torch");
    const memory_term* act = predicted_term("activation");
    const memory_term* cg = predicted_term("cuda_graphs");
    if (src.non_torch_gib || src.activation_gib) {
        term_row("non_torch", src.non_torch_gib);
        term_row("activation", src.activation_gib);
    } else {
        // V1 prints neither at INFO: only their sum is observable, as requested - weights - available KV (- the CUDA-graph
        // estimate where the release subtracts it).
        std::optional<double> derived;
        std::string how;
        const bool v1_budget = log_era == vllm_era::v1 || log_era == vllm_era::v1_cudagraph;
        if (v1_budget && src.weights_gib && src.available_kv_gib) {
            double requested = 0;
            std::string req_from;
            if (log.requested_gib) {
                requested = log.requested_gib->value;
                req_from = fmt::format("requested {:.2f} GiB (line {})", requested, log.requested_gib->line.number);
            } else {
                const double total = log.total_gib ? log.total_gib->value : a.usable_gib;
                const double util = log.utilization ? log.utilization->value : a.utilization;
                requested = total * util;
                req_from = fmt::format("requested {:.2f} x {:.4g} = {:.2f} GiB ({} total, {} utilization)", total, util, requested,
                                       log.total_gib ? "logged" : "the plan's GPU", log.utilization ? "logged" : "the plan's");
            }
            double cg_applied = 0;
            if (log_era == vllm_era::v1_cudagraph && !a.enforce_eager)
                cg_applied = src.cuda_graph_estimate_gib ? src.cuda_graph_estimate_gib->value : (cg ? cg->gib : 0.0);
            derived = requested - src.weights_gib->value - src.available_kv_gib->value - cg_applied;
            how = fmt::format("derived: {} - weights {:.2f} - available KV {:.2f}{}", req_from, src.weights_gib->value,
                              src.available_kv_gib->value, cg_applied > 0 ? fmt::format(" - CUDA-graph estimate {:.2f}", cg_applied) : std::string());
        }
        memory_comparison c;
        c.name = "non_torch_and_activation";
        c.unit = "GiB";
        c.term = true;
        c.logged = derived;
        c.logged_from = how;
        if (nt && act) {
            c.predicted = nt->gib + act->gib;
            c.predicted_from = "non_torch: " + nt->source + "; activation: " + act->source;
        }
        r.rows.push_back(std::move(c));
    }
    {
        const auto& graphs = src.cuda_graph_gib ? src.cuda_graph_gib : src.cuda_graph_estimate_gib;
        term_row("cuda_graphs", graphs);
    }
    {
        std::optional<logged_figure> pre;
        if (log.total_gib && log.free_at_start_gib) {
            pre = *log.free_at_start_gib;
            pre->value = log.total_gib->value - log.free_at_start_gib->value;
        }
        const memory_term* t = predicted_term("pre_snapshot");
        if (t || pre) {
            auto* row = add("pre_snapshot", "GiB", true, pre, t ? std::optional<double>(t->gib) : std::nullopt, t ? t->source : std::string());
            if (pre) row->logged_from = "total - free at the init snapshot, " + row->logged_from;
        }
    }
    add("available_kv", "GiB", false, src.available_kv_gib, st.available_gib,
        "budget - in-budget terms (vllm_rank_account), before serving.headroom_gib");
    // vLLM's pool: the fewest blocks over all ranks, before dsdeploy's headroom.
    std::int64_t tokens = -1;
    for (const auto& s : a.stages) {
        const std::int64_t t = vllm_kv_tokens(s.available_gib, s.kv_bytes_per_token, a.block_size);
        tokens = tokens < 0 ? t : std::min(tokens, t);
    }
    add("kv_tokens", "tokens", false, log.kv_tokens, double(std::max<std::int64_t>(tokens, 0)),
        fmt::format("floor(available / ({} x bytes per token)) x {}, fewest over the stages (kv_cache_utils get_num_blocks)", a.block_size,
                    a.block_size));
    const int len = log.concurrency_tokens ? static_cast<int>(std::min(log.concurrency_tokens->value, 2.0e9)) : a.max_model_len;
    add("max_concurrency", "x", false, log.max_concurrency, vllm_max_concurrency(std::max<std::int64_t>(tokens, 0), len, a.block_size),
        fmt::format("blocks / ceil({} / {}) (get_max_concurrency_for_kv_cache_config)", len, a.block_size));

    // the term that differed most, in GiB
    double worst = -1;
    for (std::size_t i = 0; i < r.rows.size(); ++i) {
        const auto dlt = r.rows[i].difference();
        if (!r.rows[i].term || !dlt) continue;
        if (std::fabs(*dlt) > worst) {
            worst = std::fabs(*dlt);
            r.largest = i;
        }
    }
    const auto& avail = *detail::memlog::row_named(r.rows, "available_kv");
    r.tolerance_gib = std::max(a.uncertainty_gib, avail.logged ? 0.03 * std::fabs(*avail.logged) : 0.0);
    r.differs = (avail.difference() && std::fabs(*avail.difference()) > r.tolerance_gib) || worst > a.uncertainty_gib;

    // where the log's configuration is not the plan's
    if (!log.version.empty() && log_era != a.era)
        r.notes.push_back(fmt::format("the log is vLLM {} ({}), the plan accounts for {} ({}): set runtime.vllm_version = \"{}\"", log.version,
                                      to_string(log_era), a.vllm_version, to_string(a.era), log.version));
    if (log.utilization && std::fabs(log.utilization->value - a.utilization) > 0.0005)
        r.notes.push_back(fmt::format("the server ran at gpu_memory_utilization {:.4g}, the plan at {:.4g} (line {})", log.utilization->value,
                                      a.utilization, log.utilization->line.number));
    if (log.tensor_parallel_size && static_cast<int>(log.tensor_parallel_size->value) != p.parallel.tp)
        r.notes.push_back(fmt::format("the server ran with tensor_parallel_size {}, the plan with {} (line {})",
                                      static_cast<long long>(log.tensor_parallel_size->value), p.parallel.tp,
                                      log.tensor_parallel_size->line.number));
    if (log.max_num_batched_tokens && static_cast<int>(log.max_num_batched_tokens->value) != a.max_num_batched_tokens)
        r.notes.push_back(fmt::format("the server ran with max_num_batched_tokens {}, the plan assumes {}: put --max-num-batched-tokens in "
                                      "serving.extra_args",
                                      static_cast<long long>(log.max_num_batched_tokens->value), a.max_num_batched_tokens));
    if (log.max_model_len && static_cast<int>(std::min(log.max_model_len->value, 2.0e9)) != a.max_model_len)
        r.notes.push_back(fmt::format("the server ran with max_model_len {}, the plan with {}", static_cast<long long>(log.max_model_len->value),
                                      a.max_model_len));
    if (log.total_gib && std::fabs(log.total_gib->value - a.usable_gib) > 0.5)
        r.notes.push_back(fmt::format("the GPU's CUDA total is {:.2f} GiB, the plan's {} has {:.2f} GiB", log.total_gib->value, p.gpu.name,
                                      a.usable_gib));
    if (r.stages > 1 && own) {
        r.notes.push_back(fmt::format("compared with stage {} of {} (the one with the fewest KV tokens), from the lines of its own workers "
                                      "(Worker_PP{}_...)",
                                      r.stage + 1, r.stages, r.stage));
        for (const auto& sl : log.stages) {
            if (sl.pp_rank < 0 || static_cast<std::size_t>(sl.pp_rank) >= a.stages.size() || &sl == own || !sl.available_kv_gib) continue;
            const stage_memory& other = a.stages[static_cast<std::size_t>(sl.pp_rank)];
            r.notes.push_back(fmt::format("stage {}: available KV {:.2f} GiB logged, {:.2f} GiB planned ({:+.2f} GiB){}", sl.pp_rank + 1,
                                          sl.available_kv_gib->value, other.available_gib, sl.available_kv_gib->value - other.available_gib,
                                          sl.weights_gib ? fmt::format("; weights {:.2f} logged, {:.2f} planned", sl.weights_gib->value,
                                                                       other.weights_gib)
                                                         : std::string()));
        }
    } else if (r.stages > 1) {
        r.notes.push_back(fmt::format("compared with stage {} of {} (the one with the fewest KV tokens); the log's lines do not say which "
                                      "stage printed them (the Ray executor), so the figures above are the heaviest rank's and the smallest KV",
                                      r.stage + 1, r.stages));
    }
    return r;
}

DSDEPLOY_INLINE std::optional<finding> memory_finding(const vllm_memory_reconciliation& r, const std::string& node) {
    if (!r.differs || !r.largest) return std::nullopt;
    const memory_comparison& t = r.rows[*r.largest];
    const memory_comparison& avail = *detail::memlog::row_named(r.rows, "available_kv");
    std::string message;
    if (avail.difference())
        message = fmt::format("vLLM logged {:.2f} GiB of KV cache memory where the plan predicted {:.2f} GiB ({:+.2f} GiB, beyond the model's "
                              "{:.2f} GiB); ",
                              *avail.logged, *avail.predicted, *avail.difference(), r.tolerance_gib);
    message += fmt::format("the term that differed most is {}: logged {:.2f} GiB, predicted {:.2f} GiB ({:+.2f} GiB)", t.name, *t.logged,
                           *t.predicted, *t.difference());
    detail::diag::finder f;
    f.add("vllm.memory_differs_from_plan", severity::warning, node, "vllm_log", message, t.logged_from, detail::memlog::term_fix(t.name));
    if (f.out.empty()) return std::nullopt;
    return f.out.front();
}

// --- presentation ---------------------------------------------------------------------------------

namespace detail {
namespace memlog {

inline std::string fmt_value(const std::optional<double>& v, const std::string& unit) {
    if (!v) return "-";
    if (unit == "tokens") return grouped(static_cast<std::int64_t>(std::llround(*v)));
    if (unit == "x") return fmt::format("{:.2f}x", *v);
    return fmt::format("{:.2f} GiB", *v);
}

inline std::string fmt_diff(std::optional<double> v, const std::string& unit) {
    if (!v) return "-";
    if (std::fabs(*v) < 0.005) v = 0.0;  // no "-0.00"
    if (unit == "tokens") return (*v >= 0 ? "+" : "-") + grouped(std::llabs(std::llround(*v)));
    if (unit == "x") return fmt::format("{:+.2f}x", *v);
    return fmt::format("{:+.2f} GiB", *v);
}

inline nlohmann::json figure_json(const std::optional<logged_figure>& f) {
    if (!f) return nullptr;
    return {{"value", f->value}, {"line", f->line.number}, {"text", f->line.text}, {"lines", f->lines}, {"varies", f->varies}};
}

struct named_figure {
    const char* name;
    const char* unit;
    const std::optional<logged_figure> vllm_memory_log::*slot;
};

inline const std::vector<named_figure>& figures() {
    static const std::vector<named_figure> all = {
        {"total", "GiB", &vllm_memory_log::total_gib},
        {"free_at_start", "GiB", &vllm_memory_log::free_at_start_gib},
        {"utilization", "", &vllm_memory_log::utilization},
        {"requested", "GiB", &vllm_memory_log::requested_gib},
        {"weights", "GiB", &vllm_memory_log::weights_gib},
        {"non_torch", "GiB", &vllm_memory_log::non_torch_gib},
        {"activation", "GiB", &vllm_memory_log::activation_gib},
        {"cuda_graph_estimate", "GiB", &vllm_memory_log::cuda_graph_estimate_gib},
        {"cuda_graphs", "GiB", &vllm_memory_log::cuda_graph_gib},
        {"cuda_graph_delta", "GiB", &vllm_memory_log::cuda_graph_delta_gib},
        {"available_kv", "GiB", &vllm_memory_log::available_kv_gib},
        {"kv_committed", "GiB", &vllm_memory_log::kv_committed_gib},
        {"kv_tokens", "tokens", &vllm_memory_log::kv_tokens},
        {"concurrency_tokens", "tokens", &vllm_memory_log::concurrency_tokens},
        {"max_concurrency", "x", &vllm_memory_log::max_concurrency},
        {"tensor_parallel_size", "", &vllm_memory_log::tensor_parallel_size},
        {"max_model_len", "tokens", &vllm_memory_log::max_model_len},
        {"max_num_batched_tokens", "tokens", &vllm_memory_log::max_num_batched_tokens},
    };
    return all;
}

}  // namespace memlog
}  // namespace detail

DSDEPLOY_INLINE std::string to_text(const vllm_memory_log& log) {
    namespace m = detail::memlog;
    std::string out = fmt::format("vLLM memory lines{}:\n", log.version.empty() ? std::string() : " (vLLM " + log.version + ")");
    if (!log.recognised) return out + "  none found\n";
    for (const auto& f : m::figures()) {
        const auto& v = log.*(f.slot);
        if (!v) continue;
        const std::string shown = std::string(f.unit).empty() ? fmt::format("{:.4g}", v->value) : m::fmt_value(v->value, f.unit);
        out += fmt::format("  {:<22} {:>14}  line {}{}\n", f.name, shown, v->line.number,
                           v->varies ? fmt::format(" ({} lines, values differ)", v->lines) : std::string());
    }
    for (const auto& st : log.stages) {
        out += fmt::format("  pipeline stage {} (Worker_PP{}):", st.pp_rank + 1, st.pp_rank);
        if (st.weights_gib) out += fmt::format(" weights {}", m::fmt_value(st.weights_gib->value, "GiB"));
        if (st.available_kv_gib) out += fmt::format(", available_kv {}", m::fmt_value(st.available_kv_gib->value, "GiB"));
        if (st.cuda_graph_gib) out += fmt::format(", cuda_graphs {}", m::fmt_value(st.cuda_graph_gib->value, "GiB"));
        out += "\n";
    }
    return out;
}

DSDEPLOY_INLINE std::string to_text(const vllm_memory_reconciliation& r) {
    namespace m = detail::memlog;
    std::string out = fmt::format("vLLM's start-up beside the plan ({}, vLLM {} planned; stage {} of {}):\n",
                                  r.logged_version.empty() ? std::string("the log names no version") : "vLLM " + r.logged_version + " logged",
                                  r.planned_version, r.stage + 1, r.stages);
    out += fmt::format("  {:<26} {:>14} {:>14} {:>14}\n", "", "logged", "plan", "difference");
    for (std::size_t i = 0; i < r.rows.size(); ++i) {
        const auto& c = r.rows[i];
        out += fmt::format("  {:<26} {:>14} {:>14} {:>14}{}\n", c.name, m::fmt_value(c.logged, c.unit), m::fmt_value(c.predicted, c.unit),
                           m::fmt_diff(c.difference(), c.unit), r.largest && *r.largest == i ? "  <- differed most" : "");
    }
    for (const auto& c : r.rows)
        if (c.logged && !c.logged_from.empty()) out += fmt::format("  {}: {}\n", c.name, c.logged_from);
    if (r.largest) {
        const auto& t = r.rows[*r.largest];
        out += fmt::format("  largest difference: {} ({}); {} the model's uncertainty ({:.2f} GiB)\n", t.name, m::fmt_diff(t.difference(), t.unit),
                           r.differs ? "beyond" : "within", r.tolerance_gib);
    } else {
        out += "  largest difference: none (no term is both logged and predicted)\n";
    }
    for (const auto& n : r.notes) out += "  note: " + n + "\n";
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const vllm_memory_log& log) {
    namespace m = detail::memlog;
    j = nlohmann::json::object();
    j["recognised"] = log.recognised;
    j["version"] = log.version;
    for (const auto& f : m::figures()) j[f.name] = m::figure_json(log.*(f.slot));
    if (log.pp_rank >= 0) j["pp_rank"] = log.pp_rank;
    else {
        j["stages"] = nlohmann::json::array();
        for (const auto& st : log.stages) {
            nlohmann::json sj;
            to_json(sj, st);
            j["stages"].push_back(std::move(sj));
        }
    }
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const vllm_memory_reconciliation& r) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& c : r.rows) {
        auto opt = [](const std::optional<double>& v) -> nlohmann::json { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
        rows.push_back({{"name", c.name},
                        {"unit", c.unit},
                        {"term", c.term},
                        {"logged", opt(c.logged)},
                        {"predicted", opt(c.predicted)},
                        {"difference", opt(c.difference())},
                        {"logged_from", c.logged_from},
                        {"predicted_from", c.predicted_from}});
    }
    j = {{"logged_version", r.logged_version},
         {"planned_version", r.planned_version},
         {"stage", r.stage},
         {"stages", r.stages},
         {"rows", rows},
         {"largest", r.largest ? nlohmann::json(r.rows[*r.largest].name) : nlohmann::json(nullptr)},
         {"tolerance_gib", r.tolerance_gib},
         {"differs", r.differs},
         {"notes", r.notes}};
}

DSDEPLOY_NAMESPACE_END
