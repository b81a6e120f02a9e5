// SPDX-License-Identifier: Apache-2.0
// Implementation of timeline.hpp: vLLM's log lines into stage events, per-process tracks, the
// judgement (which rank is stuck, stopped or gone) and its text and JSON. The probe that
// collects the logs from a deployment is in impl/timeline_probe_inl.hpp.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/timeline.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(timeline_stage s) {
    switch (s) {
        case timeline_stage::process_start: return "process_start";
        case timeline_stage::distributed_init: return "distributed_init";
        case timeline_stage::weight_loading: return "weight_loading";
        case timeline_stage::compile: return "compile";
        case timeline_stage::kv_cache: return "kv_cache";
        case timeline_stage::api_ready: return "api_ready";
        case timeline_stage::first_request: return "first_request";
    }
    return "process_start";
}

namespace detail {
namespace tl {

namespace d = detail::diag;

// For people: "weight loading", "compile / warm-up / CUDA graphs", ...
inline std::string stage_words(timeline_stage s) {
    switch (s) {
        case timeline_stage::process_start: return "process start";
        case timeline_stage::distributed_init: return "distributed init (NCCL/Gloo)";
        case timeline_stage::weight_loading: return "weight loading";
        case timeline_stage::compile: return "compile / warm-up / CUDA graphs";
        case timeline_stage::kv_cache: return "KV-cache sizing";
        case timeline_stage::api_ready: return "API ready";
        case timeline_stage::first_request: return "first request";
    }
    return "process start";
}

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The number after `key` in s ("rank=" -> 1), nullopt when absent.
inline std::optional<long long> int_after(std::string_view s, std::string_view key) {
    const auto p = s.find(key);
    if (p == std::string_view::npos) return std::nullopt;
    std::size_t i = p + key.size();
    return read_digits(s, i);
}

// The word after `key` up to a blank or comma.
inline std::string word_after(std::string_view s, std::string_view key) {
    const auto p = s.find(key);
    if (p == std::string_view::npos) return {};
    std::size_t i = p + key.size(), j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != ',' && s[j] != ')') ++j;
    return std::string(s.substr(i, j - i));
}

// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
inline std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned dd) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

inline int year_of(std::int64_t unix_s) {
    // civil_from_days, year only
    const std::int64_t z = (unix_s >= 0 ? unix_s / 86400 : (unix_s - 86399) / 86400) + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return static_cast<int>(y + (m <= 2));
}

// The clock of one node: turns "12-03 10:18:14" into Unix seconds.
struct clock {
    int year = 1970;
    int utc_offset = 0;
    std::optional<std::int64_t> now;
    std::optional<std::int64_t> to_unix(int mon, int day, int h, int mi, int s) const {
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
        auto at = [&](int y) {
            return days_from_civil(y, static_cast<unsigned>(mon), static_cast<unsigned>(day)) * 86400 + h * 3600 + mi * 60 + s - utc_offset;
        };
        std::int64_t t = at(year);
        // A log of late December read in early January: last year's.
        if (now && t > *now + 86400) t = at(year - 1);
        return t;
    }
};

// What one line says: its process (the innermost "(Name pid=N[, ip=X])" prefix), its timestamp
// and the message after vLLM's "[file.py:N] ".
struct parsed_line {
    std::string process, pid, ip;
    bool prefixed = false;
    std::optional<std::int64_t> time;
    std::string message;  // the last segment of a line a progress bar rewrote with \r
};

// vLLM's prefixes: vllm/utils/system_utils.py _add_prefix ("(Worker_PP1 pid=31990) ", v0.20.0);
// Ray's: "(RayWorkerWrapper pid=343, ip=10.42.9.224) " after the engine core's.
inline parsed_line parse_line(std::string_view raw, const clock& c) {
    parsed_line p;
    std::string text = d::strip_ansi(raw);
    while (!text.empty() && (text.back() == '\r' || text.back() == '\n')) text.pop_back();
    std::string_view s = text;
    while (!s.empty() && s.front() == '(') {
        const auto close = s.find(')');
        if (close == std::string_view::npos || close > 160) break;
        const std::string_view in = s.substr(1, close - 1);
        const auto pp = in.find(" pid=");
        if (pp == std::string_view::npos) break;
        p.process = std::string(detail::trim(in.substr(0, pp)));
        std::size_t i = pp + 5;
        const auto pid = read_digits(in, i);
        p.pid = pid ? std::to_string(*pid) : std::string();
        p.ip = word_after(in, "ip=");
        p.prefixed = true;
        s.remove_prefix(close + 1);
        while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    }
    // A progress bar rewritten with \r: its last non-empty segment is what it shows now.
    std::string_view msg = s;
    for (;;) {
        const auto cr = msg.rfind('\r');
        if (cr == std::string_view::npos) break;
        const auto tail = detail::trim(msg.substr(cr + 1));
        if (!tail.empty()) {
            msg = tail;
            break;
        }
        msg = msg.substr(0, cr);
    }
    // "INFO 12-03 10:18:14 [file.py:101] message" (vllm/logger.py: _FORMAT, _DATE_FORMAT "%m-%d %H:%M:%S")
    static constexpr std::string_view levels[] = {"DEBUG ", "INFO ", "WARNING ", "ERROR ", "CRITICAL "};
    for (auto lv : levels) {
        if (!detail::starts_with(msg, lv)) continue;
        const std::string_view t = msg.substr(lv.size());
        if (t.size() >= 14 && t[2] == '-' && t[5] == ' ' && t[8] == ':' && t[11] == ':') {
            std::size_t i = 0;
            const auto mon = read_digits(t, i, 2);
            i = 3;
            const auto day = read_digits(t, i, 2);
            i = 6;
            const auto h = read_digits(t, i, 2);
            i = 9;
            const auto mi = read_digits(t, i, 2);
            i = 12;
            const auto se = read_digits(t, i, 2);
            if (mon && day && h && mi && se)
                p.time = c.to_unix(static_cast<int>(*mon), static_cast<int>(*day), static_cast<int>(*h), static_cast<int>(*mi), static_cast<int>(*se));
            const auto close = t.find("] ");
            msg = close != std::string_view::npos && close < 80 ? t.substr(close + 2) : t.substr(14);
        }
        break;
    }
    // c10/glog: "[W1203 10:18:14.171235303 utils.cpp:68] ..." (PyTorch's C++ warnings)
    if (!p.time && msg.size() > 16 && msg[0] == '[' && std::isupper(static_cast<unsigned char>(msg[1])) && msg[6] == ' ' && msg[9] == ':' &&
        msg[12] == ':') {
        std::size_t i = 2;
        const auto md = read_digits(msg, i, 4);
        i = 7;
        const auto h = read_digits(msg, i, 2);
        i = 10;
        const auto mi = read_digits(msg, i, 2);
        i = 13;
        const auto se = read_digits(msg, i, 2);
        if (md && h && mi && se)
            p.time = c.to_unix(static_cast<int>(*md / 100), static_cast<int>(*md % 100), static_cast<int>(*h), static_cast<int>(*mi), static_cast<int>(*se));
    }
    p.message = d::clean_text(msg, 300);
    return p;
}

// One milestone: what a line says about the start-up, if anything.
struct milestone {
    timeline_stage stage = timeline_stage::process_start;
    int order = 0;
    bool done = false;
    std::string detail;
    std::optional<int> rank;  // the line names the process's global rank
};

inline bool has(std::string_view s, std::string_view n) { return s.find(n) != std::string_view::npos; }

// The percentage and "a/b" of a tqdm bar ("Loading safetensors checkpoint shards:  50% Completed | 1/2 [...]").
inline std::string progress_of(std::string_view m) {
    const auto pct = m.find('%');
    std::string out;
    if (pct != std::string_view::npos) {
        std::size_t b = pct;
        while (b > 0 && is_digit(m[b - 1])) --b;
        if (b < pct) out = std::string(m.substr(b, pct - b)) + "%";
    }
    const auto bar = m.find("| ", pct == std::string_view::npos ? 0 : pct);
    if (bar != std::string_view::npos) {
        std::size_t i = bar + 2;
        const auto a = read_digits(m, i);
        if (a && i < m.size() && m[i] == '/') {
            ++i;
            if (const auto b = read_digits(m, i)) out += (out.empty() ? "" : " ") + fmt::format("({}/{})", *a, *b);
        }
    }
    return out;
}

// The stage patterns, from vLLM v0.20.0's sources (file:line of the logger call, in the PyPI
// wheel of scripts/python/requirements-e2e.lock, laid out as vllm-project/vllm at tag v0.20.0)
// and older releases where the wording differed; the order numbers follow the v1 engine's start-up:
// Worker.init_device -> load_model -> determine_available_memory (profile run: torch.compile, the
// CPU warm-up) -> KV cache -> compile_or_warm_up_model (CUDA graphs) -> engine ready -> API.
inline std::optional<milestone> classify(std::string_view m) {
    using S = timeline_stage;
    // vllm/distributed/parallel_state.py init_distributed_environment: "world_size=%d rank=%d
    // local_rank=%d distributed_init_method=%s backend=%s" (INFO before the group exists, 0.20)
    if (has(m, "world_size=") && has(m, " rank=") && has(m, "backend=")) {
        milestone r{S::distributed_init, 20, false, "", std::nullopt};
        const auto ws = int_after(m, "world_size=");
        const auto rk = int_after(m, " rank=");
        r.detail = fmt::format("backend {}, world size {}, init {}", word_after(m, "backend="), ws ? *ws : 0,
                               word_after(m, "distributed_init_method="));
        if (rk) r.rank = static_cast<int>(*rk);
        return r;
    }
    // vllm/v1/executor/multiproc_executor.py:139 (engine core): "DP group leader: node_rank=0 ... world_size=2"
    if (has(m, "DP group leader:")) return milestone{S::distributed_init, 15, false, "executor: world size " + word_after(m, "world_size="), {}};
    // vllm/distributed/device_communicators/pynccl.py:111 "vLLM is using nccl==%s"
    if (has(m, "vLLM is using nccl==")) return milestone{S::distributed_init, 22, false, "NCCL " + word_after(m, "nccl=="), {}};
    // NCCL's own INFO lines (NCCL_DEBUG=INFO): "... NCCL INFO ncclCommInitRank comm ... Init START / COMPLETE"
    if (has(m, "NCCL INFO") && has(m, "Init START")) return milestone{S::distributed_init, 22, false, "NCCL communicator init", {}};
    if (has(m, "NCCL INFO") && has(m, "Init COMPLETE")) return milestone{S::distributed_init, 24, false, "NCCL communicator ready", {}};
    // vllm/distributed/parallel_state.py:1715 "rank %s in world size %s is assigned as DP rank %s, PP rank %s, ..., TP rank %s"
    if (has(m, " in world size ") && has(m, "is assigned as")) {
        milestone r{S::distributed_init, 25, true, "", std::nullopt};
        if (const auto rk = int_after(m, "rank ")) r.rank = static_cast<int>(*rk);
        r.detail = fmt::format("PP rank {}, TP rank {}", word_after(m, "PP rank "), word_after(m, "TP rank "));
        return r;
    }
    // vllm/v1/worker/gpu_model_runner.py:4778 and cpu_model_runner.py:101 "Starting to load model %s..."
    if (has(m, "Starting to load model")) return milestone{S::weight_loading, 30, false, "started", {}};
    // vllm/v1/worker/gpu/model_runner.py:269 (model runner v2) "Loading model from scratch..."
    if (has(m, "Loading model from scratch")) return milestone{S::weight_loading, 30, false, "started", {}};
    // vllm/model_executor/model_loader/weight_utils.py:890 tqdm "Loading safetensors checkpoint shards: 50% Completed | 1/2"
    // (also "Loading pt checkpoint shards", "Loading ... checkpoint shards")
    if (has(m, "checkpoint shards")) {
        const auto pr = progress_of(m);
        return milestone{S::weight_loading, 32, false, "shards " + (pr.empty() ? std::string("in progress") : pr), {}};
    }
    // vllm/model_executor/model_loader/default_loader.py:385 "Loading weights took %.2f seconds"
    if (has(m, "Loading weights took")) return milestone{S::weight_loading, 36, false, "weights read in " + word_after(m, "took ") + " s", {}};
    // vllm/v1/worker/gpu_model_runner.py:4880 "Model loading took %s GiB memory and %.6f seconds"
    if (has(m, "Model loading took")) return milestone{S::weight_loading, 38, true, "done: " + word_after(m, "took ") + " GiB", {}};
    // vllm/v1/worker/cpu_model_runner.py:116/120, called from cpu_worker.py:154 (determine_available_memory)
    if (has(m, "Warming up model for the compilation")) return milestone{S::compile, 40, false, "CPU warm-up run", {}};
    if (has(m, "Warming up done")) return milestone{S::compile, 45, true, "CPU warm-up done", {}};
    // vllm/compilation/backends.py:1129 "Dynamo bytecode transform time: %.2f s"; :392 "Compiling a graph for ... takes"
    if (has(m, "Dynamo bytecode transform time")) return milestone{S::compile, 40, false, "torch.compile: Dynamo", {}};
    if (has(m, "Compiling a graph for")) return milestone{S::compile, 42, false, "torch.compile: Inductor", {}};
    // vllm/compilation/monitor.py:20 "torch.compile took %.2f s in total" (older: "takes")
    if (has(m, "torch.compile t") && has(m, "in total")) return milestone{S::compile, 45, true, "torch.compile done", {}};
    // vllm/v1/worker/gpu_worker.py:441 "Available KV cache memory: %s GiB"
    if (has(m, "Available KV cache memory")) return milestone{S::kv_cache, 50, true, word_after(m, "memory: ") + " GiB available", {}};
    // vllm/v1/worker/cpu_worker.py:178 "Explicitly set (1.0/23.54) GiB for KV cache on node 0."
    if (has(m, "for KV cache")) {
        std::string det = "KV cache set";
        const auto open = m.find("set (");
        const auto slash = open == std::string_view::npos ? open : m.find('/', open);
        const auto close = slash == std::string_view::npos ? slash : m.find(')', slash);
        if (close != std::string_view::npos)
            det = fmt::format("KV cache {} GiB of {} GiB", m.substr(open + 5, slash - open - 5), m.substr(slash + 1, close - slash - 1));
        return milestone{S::kv_cache, 50, true, det, {}};
    }
    // vllm/v1/core/kv_cache_utils.py:1711/1717 (engine core) "GPU KV cache size: %s tokens", "Maximum concurrency ..."
    if (has(m, "KV cache size:")) return milestone{S::kv_cache, 52, true, word_after(m, "size: ") + " tokens", {}};
    if (has(m, "Maximum concurrency for")) return milestone{S::kv_cache, 52, true, "concurrency " + word_after(m, "request: "), {}};
    // vllm/v1/worker/gpu_model_runner.py:6195 tqdm "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE): 50%|..."
    if (has(m, "Capturing CUDA graph")) {
        const auto pr = progress_of(m);
        return milestone{S::compile, 60, false, "CUDA graphs " + (pr.empty() ? std::string("capturing") : pr), {}};
    }
    // vllm/v1/worker/gpu_model_runner.py:6134 "Graph capturing finished in %.0f secs, took %.2f GiB"
    if (has(m, "Graph capturing finished")) return milestone{S::compile, 65, true, "CUDA graphs captured in " + word_after(m, "finished in ") + " s", {}};
    // vllm/v1/engine/core.py:306 "init engine (profile, create kv cache, warmup model) took %.2f s"
    if (has(m, "init engine (profile, create kv cache")) return milestone{S::kv_cache, 70, true, "engine ready after " + word_after(m, ") took ") + " s", {}};
    // vllm/entrypoints/openai/api_server.py:602 "Starting vLLM server on %s"; older "Starting vLLM API server"
    if (has(m, "Starting vLLM server on") || has(m, "Starting vLLM API server")) return milestone{S::api_ready, 80, false, "API server starting", {}};
    // uvicorn's "Application startup complete." (no timestamp)
    if (has(m, "Application startup complete")) return milestone{S::api_ready, 85, true, "API listening", {}};
    // uvicorn's access log ('10.81.0.254:33372 - "POST /v1/chat/completions HTTP/1.1" 200 OK');
    // vllm/entrypoints/logger.py:64 "Received request"; vllm/v1/engine/async_llm.py:412 "Added request"
    if (has(m, "\"POST /")) return milestone{S::first_request, 90, true, "first request: " + word_after(m, "\"POST "), {}};
    if (has(m, "Received request ") || has(m, "Added request ")) return milestone{S::first_request, 90, true, "first request", {}};
    return std::nullopt;
}

// The global rank a worker's name gives: "Worker_PP1_TP0" (multiproc_executor.py:991-1004),
// "Worker_3" (the mp process name before the groups exist), "VllmWorker TP0" / "VllmWorker
// rank=0" (0.8-0.10). nullopt: not a worker, or no number in its name.
inline bool is_worker(std::string_view name) {
    return detail::starts_with(name, "Worker") || detail::starts_with(name, "VllmWorker") || detail::starts_with(name, "RayWorkerWrapper");
}
inline std::optional<int> rank_from_name(std::string_view name, int tp_size) {
    auto part = [&](std::string_view key) -> std::optional<int> {
        const auto p = name.find(key);
        if (p == std::string_view::npos) return std::nullopt;
        std::size_t i = p + key.size();
        const auto v = read_digits(name, i, 6);
        if (!v) return std::nullopt;
        return static_cast<int>(*v);
    };
    if (detail::starts_with(name, "Worker_") && name.size() > 7 && is_digit(name[7])) return part("Worker_");
    if (detail::starts_with(name, "VllmWorker")) {
        if (const auto r = part("rank=")) return r;
        if (const auto t = part("TP")) return t;
        return std::nullopt;
    }
    if (!detail::starts_with(name, "Worker")) return std::nullopt;
    const auto pp = part("_PP"), tp = part("_TP");
    if (!pp && !tp) return std::nullopt;
    return pp.value_or(0) * std::max(1, tp_size) + tp.value_or(0);
}

inline std::string short_time(std::int64_t t, int utc_offset) {
    if (t <= 0) return "--:--:--";
    const std::int64_t local = t + utc_offset;
    const std::int64_t sod = ((local % 86400) + 86400) % 86400;
    return fmt::format("{:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60);
}

inline std::string duration(std::int64_t s) {
    if (s < 0) s = 0;
    if (s < 120) return fmt::format("{} s", s);
    if (s < 7200) return fmt::format("{} min {} s", s / 60, s % 60);
    return fmt::format("{} h {} min", s / 3600, (s / 60) % 60);
}

// A Ray actor's line ("(RayWorkerWrapper pid=343, ip=10.42.9.224)") reaches the driver's log
// from wherever Ray placed it, and its process is raylet's child, not under the PID files: its
// state is unknown here.
inline std::string state_of(const timeline_node_input& n, const std::string& pid, const std::string& process) {
    if (detail::starts_with(process, "RayWorkerWrapper") || process.find(" ip=") != std::string::npos) return "";
    if (n.processes) {
        if (pid.empty()) return "";
        for (const auto& p : *n.processes) {
            if (p.pid != pid) continue;
            if (p.state.empty()) return "alive";
            const char c = p.state[0];
            if (c == 'T' || c == 't') return "stopped";
            if (c == 'Z' || c == 'X') return "zombie";
            return "alive";
        }
        return "gone";
    }
    if (n.vllm_alive && !*n.vllm_alive) return "gone";
    return "";
}

}  // namespace tl
}  // namespace detail

DSDEPLOY_INLINE int timeline_track::progress() const {
    int p = 0;
    for (const auto& e : events) p = std::max(p, e.order);
    return p;
}

DSDEPLOY_INLINE const timeline_event* timeline_track::last_event() const { return events.empty() ? nullptr : &events.back(); }

DSDEPLOY_INLINE int timeline_report::exit_code() const {
    if (std::any_of(nodes.begin(), nodes.end(), [](const timeline_node_input& n) { return !n.reachable; })) return 3;
    return std::any_of(findings.begin(), findings.end(), [](const finding& f) { return f.level == severity::error; }) ? 1 : 0;
}

DSDEPLOY_INLINE std::vector<timeline_track> parse_timeline_log(const timeline_node_input& node, const timeline_options& o) {
    namespace t = detail::tl;
    t::clock c;
    c.utc_offset = node.utc_offset_seconds;
    c.now = node.now;
    c.year = node.year ? *node.year : node.now ? t::year_of(*node.now + node.utc_offset_seconds) : 1970;
    std::vector<timeline_track> tracks;
    std::map<std::string, std::size_t> by_key;  // pid + ip ("" for the unprefixed main process)
    std::int64_t last_time = 0;                  // of the file: lines without a timestamp take it
    std::size_t last_number = 0;
    for (const auto& l : node.lines) {
        if (l.number != 0 && l.number <= last_number) continue;  // the probe's sections overlap
        last_number = l.number;
        const auto p = t::parse_line(l.text, c);
        if (p.time) last_time = *p.time;
        // An earlier run's line (the log is appended to by every start; 2 s: the timestamps' resolution).
        if (node.run_started && (last_time == 0 || last_time < *node.run_started - 2)) continue;
        const std::string key = p.prefixed ? p.pid + "@" + p.ip : std::string();
        auto it = by_key.find(key);
        if (it == by_key.end()) {
            timeline_track tr;
            tr.node = node.name;
            tr.process = p.process;
            tr.pid = p.pid;
            it = by_key.emplace(key, tracks.size()).first;
            tracks.push_back(std::move(tr));
        }
        timeline_track& tr = tracks[it->second];
        log_line cleaned{l.number, detail::diag::clean_text(detail::diag::strip_ansi(l.text), detail::diag::max_line_chars)};
        const bool first = tr.first_line.number == 0 && tr.first_line.text.empty();
        if (!p.process.empty()) tr.process = p.process + (p.ip.empty() ? "" : " ip=" + p.ip);
        tr.last_line = cleaned;
        tr.last_time = last_time;
        auto add = [&](timeline_stage st, int order, bool done, std::string det) {
            timeline_event e;
            e.time = last_time;
            e.time_inferred = !p.time;
            e.node = node.name;
            e.process = tr.process;
            e.pid = tr.pid;
            e.stage = st;
            e.order = order;
            e.done = done;
            e.detail = std::move(det);
            e.line = cleaned;
            tr.events.push_back(std::move(e));
        };
        if (first) {
            tr.first_line = cleaned;
            tr.first_time = last_time;
            add(timeline_stage::process_start, 10, true, p.process.empty() ? "main process" : tr.process);
        }
        if (auto m = t::classify(p.message)) {
            if (m->rank) tr.rank = *m->rank;
            // one event per request would drown the rest: only the first
            if (m->stage == timeline_stage::first_request &&
                std::any_of(tr.events.begin(), tr.events.end(), [](const timeline_event& e) { return e.stage == timeline_stage::first_request; }))
                continue;
            // a progress bar: keep its latest state only
            if (!tr.events.empty() && tr.events.back().order == m->order && (m->order == 32 || m->order == 60)) tr.events.pop_back();
            add(m->stage, m->order, m->done, std::move(m->detail));
        }
    }
    // A progress bar has no timestamps: a process whose line is the log's last has written as late as the file.
    const std::size_t file_last = node.total_lines ? node.total_lines : last_number;
    // The unprefixed lines are the main process's when no prefixed process has its pid.
    if (!node.main_pid.empty() && std::none_of(tracks.begin(), tracks.end(), [&](const timeline_track& x) { return x.pid == node.main_pid; }))
        for (auto& tr : tracks)
            if (tr.pid.empty() && tr.process.empty()) tr.pid = node.main_pid;
    for (auto& tr : tracks) {
        if (tr.rank < 0 && t::is_worker(tr.process)) {
            if (const auto r = t::rank_from_name(tr.process, o.tensor_parallel_size)) tr.rank = *r;
        }
        if (node.log_mtime && tr.last_line.number == file_last) tr.last_time = std::max(tr.last_time, *node.log_mtime);
        for (auto& e : tr.events) e.rank = tr.rank;
        tr.state = t::state_of(node, tr.pid, tr.process);
    }
    return tracks;
}

namespace detail {
namespace tl {

struct finder {
    std::vector<finding> out;
    void add(std::string id, severity level, std::string node, std::string message, std::string evidence, std::string fix) {
        out.push_back({std::move(id), level, std::move(node), "timeline", std::move(message), std::move(evidence), std::move(fix)});
    }
};

inline std::string who(const timeline_track& t) {
    std::string s = t.rank >= 0 ? fmt::format("rank {} on {}", t.rank, t.node) : fmt::format("{} on {}", t.process.empty() ? "the main process" : t.process, t.node);
    std::string proc = t.rank >= 0 ? t.process : std::string();
    if (!t.pid.empty()) proc += (proc.empty() ? "" : ", ") + std::string("pid ") + t.pid;
    return proc.empty() ? s : s + " (" + proc + ")";
}

inline std::string evidence(const timeline_track& t) {
    const timeline_event* e = t.last_event();
    const log_line& l = e && e->order > 10 ? e->line : t.last_line;
    std::string ev = fmt::format("{} vllm.log line {}: {}", t.node, l.number, l.text);
    if (t.last_line.number != l.number) ev += fmt::format("\n{} vllm.log line {} (its last): {}", t.node, t.last_line.number, t.last_line.text);
    return ev;
}

// Where the rank is: "weight loading (shards 3/8 (37%))".
inline std::string where(const timeline_track& t) {
    const timeline_event* e = t.last_event();
    if (!e) return "no stage yet";
    std::string s = stage_words(e->stage);
    if (e->stage == timeline_stage::process_start) s = "process start (nothing after its first line)";
    else if (e->done) s += " (done: " + e->detail + "; the next stage has not begun)";
    else if (!e->detail.empty()) s += " (" + e->detail + ")";
    return s;
}

// Since when the rank is in its last stage: the first event of the run of that stage at its end.
inline std::int64_t stage_since(const timeline_track& t) {
    if (t.events.empty()) return t.last_time;
    std::size_t i = t.events.size() - 1;
    while (i > 0 && t.events[i - 1].stage == t.events.back().stage) --i;
    return t.events[i].time;
}

inline std::string stage_fix(const timeline_track& t) {
    const timeline_event* e = t.last_event();
    const timeline_stage s = e ? (e->done && e->stage < timeline_stage::api_ready ? static_cast<timeline_stage>(static_cast<int>(e->stage) + 1) : e->stage)
                               : timeline_stage::process_start;
    const std::string spy = t.pid.empty() ? std::string() : fmt::format("; `py-spy dump --pid {}` on {} shows where it waits", t.pid, t.node);
    switch (s) {
        case timeline_stage::process_start:
            return "the process started and said nothing more: check imports, plugins and the Hugging Face cache lock on " + t.node +
                   " (`dsdeploy logs --node " + t.node + "`)" + spy;
        case timeline_stage::distributed_init:
            return "it waits for its peers in torch.distributed's rendezvous: every node's vLLM must be up (`dsdeploy status`), the head's "
                   "master port reachable from " + t.node + ", GLOO_SOCKET_IFNAME/NCCL_SOCKET_IFNAME the interface both nodes share; "
                   "`dsdeploy netcheck` proves the network" + spy;
        case timeline_stage::weight_loading:
            return "the weights load slowly or not at all on " + t.node + ": check the model path's storage there (local disk or a network "
                   "file system: `iostat -x 5`, free memory for the page cache) and that every shard exists" + spy;
        case timeline_stage::compile:
            return "torch.compile, the warm-up run or CUDA-graph capture: a rank behind here compiles slowly or waits for a peer; "
                   "`--enforce-eager` skips compilation and CUDA graphs, VLLM_CACHE_ROOT must be writable" + spy;
        case timeline_stage::kv_cache:
            return "the memory profile and KV-cache set-up wait on every rank: a peer that is behind, or a collective that hangs "
                   "(NCCL_DEBUG=INFO; `dsdeploy netcheck`)" + spy;
        case timeline_stage::api_ready:
        case timeline_stage::first_request:
            return "the engine is ready but the API server did not come up: `dsdeploy logs --node " + t.node + "`" + spy;
    }
    return spy;
}

}  // namespace tl
}  // namespace detail

DSDEPLOY_INLINE timeline_report build_timeline(std::vector<timeline_node_input> nodes, const timeline_options& o) {
    namespace t = detail::tl;
    timeline_report r;
    std::map<std::string, timeline_node_input*> node_of;
    for (auto& n : nodes) {
        auto tracks = parse_timeline_log(n, o);
        for (auto& tr : tracks) {
            if (tr.rank >= 0 || t::is_worker(tr.process)) r.ranks.push_back(std::move(tr));
            else r.others.push_back(std::move(tr));
        }
    }
    // One track per rank: a rank restarted (a new pid) keeps its latest process.
    std::stable_sort(r.ranks.begin(), r.ranks.end(), [](const timeline_track& a, const timeline_track& b) {
        if (a.rank != b.rank) return (a.rank < 0 ? 1 << 30 : a.rank) < (b.rank < 0 ? 1 << 30 : b.rank);
        return a.node < b.node;
    });
    for (std::size_t i = 1; i < r.ranks.size();) {
        if (r.ranks[i].rank >= 0 && r.ranks[i].rank == r.ranks[i - 1].rank && r.ranks[i].node == r.ranks[i - 1].node) {
            const std::size_t older = r.ranks[i].first_line.number < r.ranks[i - 1].first_line.number ? i : i - 1;
            r.others.push_back(std::move(r.ranks[older]));
            r.others.back().process += " (earlier)";
            r.ranks.erase(r.ranks.begin() + static_cast<std::ptrdiff_t>(older));
        } else {
            ++i;
        }
    }
    for (const auto& tr : r.others) {
        for (const auto& e : tr.events) {
            if (e.stage == timeline_stage::api_ready && (!r.api_ready || (o.head == e.node && r.api_ready->node != o.head))) r.api_ready = e;
            if (e.stage == timeline_stage::first_request && !r.first_request) r.first_request = e;
        }
    }
    r.nodes = std::move(nodes);
    for (auto& n : r.nodes) node_of[n.name] = &n;
    auto silent = [&](const timeline_track& tr) -> std::optional<std::int64_t> {
        const auto* n = node_of.count(tr.node) ? node_of[tr.node] : nullptr;
        if (!n || !n->now || tr.last_time <= 0) return std::nullopt;
        return *n->now - tr.last_time;
    };
    auto since_text = [&](const timeline_track& tr) {
        const auto* n = node_of.count(tr.node) ? node_of[tr.node] : nullptr;
        const int off = n ? n->utc_offset_seconds : 0;
        std::string s = "last line at " + t::short_time(tr.last_time, off);
        if (const auto q = silent(tr)) s += ", silent for " + t::duration(*q);
        if (n && n->now) s += fmt::format(", in {} for {}", t::stage_words(tr.last_event() ? tr.last_event()->stage : timeline_stage::process_start),
                                          t::duration(*n->now - t::stage_since(tr)));
        return s;
    };

    t::finder f;
    // Nodes whose log could not be read.
    for (const auto& n : r.nodes) {
        if (!n.reachable)
            f.add("timeline.log_unavailable", severity::error, n.name, n.name + " could not be reached: its log was not read", n.error,
                  "check SSH to " + n.name + " (`dsdeploy status` says more)");
        else if (!n.log_found || !n.error.empty())
            f.add("timeline.log_unavailable", n.deployed ? severity::warning : severity::error, n.name, "no vLLM log on " + n.name + (n.error.empty() ? "" : ": " + n.error), n.error,
                  "`dsdeploy up` starts vLLM and writes the log; `dsdeploy logs --node " + n.name + "` shows what is there");
    }
    // Stopped and gone processes: at once, earliest silence first.
    std::vector<const timeline_track*> stopped, gone;
    for (const auto& tr : r.ranks) {
        if (tr.state == "stopped") stopped.push_back(&tr);
        else if (tr.state == "gone" || tr.state == "zombie") gone.push_back(&tr);
    }
    auto by_last = [](const timeline_track* a, const timeline_track* b) { return a->last_time < b->last_time; };
    std::stable_sort(stopped.begin(), stopped.end(), by_last);
    std::stable_sort(gone.begin(), gone.end(), by_last);
    for (const auto* tr : stopped)
        f.add("timeline.rank_stopped", severity::error, tr->node,
              fmt::format("{} is stopped (process state T: SIGSTOP or a debugger) in {}: {}", t::who(*tr), t::where(*tr), since_text(*tr)), t::evidence(*tr),
              fmt::format("`kill -CONT {}` on {} resumes it if a person or a debugger stopped it; otherwise `dsdeploy down` and `dsdeploy up`",
                          tr->pid, tr->node));
    for (const auto* tr : gone)
        f.add("timeline.rank_gone", severity::error, tr->node,
              fmt::format("{} is gone ({}) in {}: {}", t::who(*tr), tr->state == "zombie" ? "a zombie: it exited" : "no such process any more",
                          t::where(*tr), since_text(*tr)),
              t::evidence(*tr),
              "`dsdeploy logs --node " + tr->node + "` and `dsdeploy doctor --vllm-log` on its log say why it ended (the kernel's OOM killer: "
              "`dmesg | grep -i -e oom -e killed` on " + tr->node + "); then `dsdeploy down` and `dsdeploy up`");
    const auto stuck_after = static_cast<std::int64_t>(o.stuck_after.count());
    // A node whose main process logged while no worker rank started there (the ranks seen elsewhere):
    // named at once when that process is stopped or gone, else after the silence.
    std::map<std::string, bool> has_rank;
    for (const auto& tr : r.ranks) has_rank[tr.node] = true;
    auto add_missing = [&](bool dead_only) {
        for (const auto& tr : r.others) {
            if (has_rank[tr.node] || !tr.process.empty() || r.ranks.empty()) continue;
            const bool dead = tr.state == "stopped" || tr.state == "gone" || tr.state == "zombie";
            if (dead_only != dead) continue;
            const auto q = silent(tr);
            if (!dead && (!q || *q < stuck_after)) continue;
            const std::string how = tr.state == "stopped" ? "stopped (process state T) in " : dead ? "gone in " : "";
            f.add("timeline.rank_missing", severity::error, tr.node,
                  fmt::format("no worker rank has started on {}: its main process (pid {}) is {}{}, {}", tr.node, tr.pid.empty() ? "?" : tr.pid, how,
                              t::where(tr), since_text(tr)),
                  t::evidence(tr),
                  tr.state == "stopped" ? fmt::format("`kill -CONT {}` on {} if a person or a debugger stopped it; otherwise `dsdeploy down` and `dsdeploy up`",
                                                      tr.pid, tr.node)
                                        : t::stage_fix(tr));
        }
    };
    add_missing(true);
    r.serving = r.api_ready.has_value() && stopped.empty() && gone.empty();
    if (stopped.empty() && gone.empty() && !r.api_ready) {
        // Behind the others and silent: stuck. Nobody behind but everyone silent: stalled.
        int best = 0;
        for (const auto& tr : r.ranks) best = std::max(best, tr.progress());
        std::vector<const timeline_track*> behind;
        for (const auto& tr : r.ranks)
            if (tr.progress() < best) behind.push_back(&tr);
        std::stable_sort(behind.begin(), behind.end(), [](const timeline_track* a, const timeline_track* b) { return a->progress() < b->progress(); });
        for (const auto* tr : behind) {
            const auto q = silent(*tr);
            if (!q || *q < stuck_after) continue;
            f.add("timeline.rank_stuck", severity::error, tr->node,
                  fmt::format("{} is stuck in {}: {}; the others are further", t::who(*tr), t::where(*tr), since_text(*tr)), t::evidence(*tr), t::stage_fix(*tr));
        }
        add_missing(false);
        if (behind.empty() && f.out.end() == std::find_if(f.out.begin(), f.out.end(), [](const finding& x) { return x.level == severity::error; })) {
            const auto& pool = r.ranks.empty() ? r.others : r.ranks;
            const timeline_track* first = nullptr;
            bool all_silent = !pool.empty();
            for (const auto& tr : pool) {
                const auto q = silent(tr);
                if (!q || *q < stuck_after) all_silent = false;
                if (!first || tr.last_time < first->last_time) first = &tr;
            }
            if (all_silent && first)
                f.add("timeline.stalled", severity::error, first->node,
                      fmt::format("every {} has been silent for at least {} and none is behind: the start-up hangs in {}; {} went quiet first ({})",
                                  r.ranks.empty() ? "process" : "rank", t::duration(stuck_after), t::where(*first), t::who(*first), since_text(*first)),
                      t::evidence(*first), t::stage_fix(*first));
        }
    }
    r.findings = std::move(f.out);
    return r;
}

DSDEPLOY_INLINE std::string to_text(const timeline_report& r) {
    namespace t = detail::tl;
    std::string out;
    std::map<std::string, const timeline_node_input*> node_of;
    for (const auto& n : r.nodes) node_of[n.name] = &n;
    bool any_error = false;
    for (const auto& f : r.findings) {
        const bool err = f.level == severity::error;
        any_error = any_error || err;
        out += std::string(err ? "STUCK: " : f.level == severity::warning ? "WARNING: " : "NOTE: ") + f.message + "  [" + f.id + "]\n";
        if (!f.evidence.empty()) {
            for (const auto l : detail::split_lines(f.evidence)) out += "  evidence: " + std::string(l) + "\n";
        }
        out += "  fix: " + f.fix + "\n";
    }
    if (!any_error) {
        if (r.serving) out += "nothing stuck: the API is ready" + std::string(r.first_request ? " and has served a request" : "") + "\n";
        else out += "nothing stuck (yet): no rank is stopped, gone, or behind and silent\n";
    }
    out += "\nranks (each node's log time and clock):\n";
    auto off = [&](const std::string& node) { return node_of.count(node) ? node_of[node]->utc_offset_seconds : 0; };
    auto print_track = [&](const timeline_track& tr, bool rank_line) {
        const auto* n = node_of.count(tr.node) ? node_of[tr.node] : nullptr;
        std::string head = rank_line && tr.rank >= 0 ? fmt::format("  rank {:<3} {}", tr.rank, tr.node) : "  " + tr.node;
        head += fmt::format("  {} pid {}", tr.process.empty() ? "(main)" : tr.process, tr.pid.empty() ? "?" : tr.pid);
        if (!tr.state.empty()) head += "  " + tr.state;
        head += "  now: " + t::where(tr);
        head += fmt::format("; last line {}", t::short_time(tr.last_time, off(tr.node)));
        if (n && n->now && tr.last_time > 0) head += ", silent " + t::duration(*n->now - tr.last_time);
        out += head + "\n";
        for (std::size_t i = 0; i < tr.events.size(); ++i) {
            const auto& e = tr.events[i];
            // one line per stage run, plus the last event
            const bool run_start = i == 0 || tr.events[i - 1].stage != e.stage;
            if (!run_start && i + 1 != tr.events.size()) continue;
            out += fmt::format("      {}{} {:<32} {}\n", t::short_time(e.time, off(tr.node)), e.time_inferred ? "~" : " ", t::stage_words(e.stage),
                               e.detail);
        }
    };
    if (r.ranks.empty()) out += "  (no worker rank has logged yet)\n";
    for (const auto& tr : r.ranks) print_track(tr, true);
    if (!r.others.empty()) out += "other processes:\n";
    for (const auto& tr : r.others) print_track(tr, false);
    auto ev = [&](const char* what, const std::optional<timeline_event>& e) {
        if (!e) return std::string(what) + ": not yet\n";
        return fmt::format("{}: {}{} on {} ({})\n", what, t::short_time(e->time, off(e->node)), e->time_inferred ? "~" : "", e->node, e->detail);
    };
    out += ev("api ready", r.api_ready);
    out += ev("first request", r.first_request);
    for (const auto& n : r.nodes) {
        if (!n.reachable || !n.now) continue;
        const int o = n.utc_offset_seconds;
        out += fmt::format("{} clock: {} (UTC{}{:02}:{:02}), {} log lines\n", n.name, t::short_time(*n.now, o), o < 0 ? '-' : '+', std::abs(o) / 3600,
                           (std::abs(o) / 60) % 60, n.total_lines);
    }
    out += "(~: the line has no timestamp; the time of the line before it)\n";
    return out;
}

namespace detail {
namespace tl {
inline nlohmann::json event_json(const timeline_event& e) {
    return {{"time", e.time > 0 ? nlohmann::json(e.time) : nlohmann::json(nullptr)},
            {"time_inferred", e.time_inferred},
            {"node", e.node},
            {"rank", e.rank},
            {"process", e.process},
            {"pid", e.pid},
            {"stage", std::string(to_string(e.stage))},
            {"order", e.order},
            {"done", e.done},
            {"detail", e.detail},
            {"line", {{"number", e.line.number}, {"text", e.line.text}}}};
}
inline nlohmann::json track_json(const timeline_track& tr, const std::map<std::string, const timeline_node_input*>& node_of) {
    nlohmann::json j = {{"node", tr.node}, {"rank", tr.rank}, {"process", tr.process}, {"pid", tr.pid}, {"state", tr.state}};
    const timeline_event* e = tr.last_event();
    j["stage"] = e ? std::string(to_string(e->stage)) : std::string("process_start");
    j["stage_done"] = e ? e->done : false;
    j["progress"] = tr.progress();
    j["last_time"] = tr.last_time > 0 ? nlohmann::json(tr.last_time) : nlohmann::json(nullptr);
    const auto it = node_of.find(tr.node);
    if (it != node_of.end() && it->second->now && tr.last_time > 0) {
        j["silent_seconds"] = *it->second->now - tr.last_time;
        j["stage_seconds"] = *it->second->now - stage_since(tr);
    } else {
        j["silent_seconds"] = nullptr;
        j["stage_seconds"] = nullptr;
    }
    j["last_line"] = {{"number", tr.last_line.number}, {"text", tr.last_line.text}};
    j["events"] = nlohmann::json::array();
    for (const auto& ev : tr.events) j["events"].push_back(event_json(ev));
    return j;
}
}  // namespace tl
}  // namespace detail

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const timeline_report& r) {
    namespace t = detail::tl;
    std::map<std::string, const timeline_node_input*> node_of;
    for (const auto& n : r.nodes) node_of[n.name] = &n;
    j = nlohmann::json::object();
    j["exit_code"] = r.exit_code();
    j["serving"] = r.serving;
    j["findings"] = nlohmann::json::array();
    for (const auto& f : r.findings) j["findings"].push_back(f);
    j["ranks"] = nlohmann::json::array();
    for (const auto& tr : r.ranks) j["ranks"].push_back(t::track_json(tr, node_of));
    j["others"] = nlohmann::json::array();
    for (const auto& tr : r.others) j["others"].push_back(t::track_json(tr, node_of));
    j["api_ready"] = r.api_ready ? t::event_json(*r.api_ready) : nlohmann::json(nullptr);
    j["first_request"] = r.first_request ? t::event_json(*r.first_request) : nlohmann::json(nullptr);
    j["nodes"] = nlohmann::json::array();
    for (const auto& n : r.nodes) {
        nlohmann::json procs = nullptr;
        if (n.processes) {
            procs = nlohmann::json::array();
            for (const auto& p : *n.processes) procs.push_back({{"pid", p.pid}, {"state", p.state}, {"name", p.name}});
        }
        j["nodes"].push_back({{"name", n.name},
                              {"reachable", n.reachable},
                              {"deployed", n.deployed},
                              {"log_found", n.log_found},
                              {"error", n.error},
                              {"now", n.now ? nlohmann::json(*n.now) : nlohmann::json(nullptr)},
                              {"utc_offset_seconds", n.utc_offset_seconds},
                              {"log_lines", n.total_lines},
                              {"log_mtime", n.log_mtime ? nlohmann::json(*n.log_mtime) : nlohmann::json(nullptr)},
                              {"run_started", n.run_started ? nlohmann::json(*n.run_started) : nlohmann::json(nullptr)},
                              {"vllm_pid", n.main_pid},
                              {"year", n.year ? nlohmann::json(*n.year) : nlohmann::json(nullptr)},
                              {"vllm_alive", n.vllm_alive ? nlohmann::json(*n.vllm_alive) : nlohmann::json(nullptr)},
                              {"processes", procs}});
    }
}

DSDEPLOY_NAMESPACE_END
