// SPDX-License-Identifier: Apache-2.0
// Implementation of diagnose_vllm.hpp: the vLLM log parser.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose_vllm.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE void vllm_log_parser::line(std::size_t number, std::string_view text) {
    if (deferred_number_ > 0) requests(&text);
    process(number, text);
}

// A resource request or placement-group wait is read when the next line is known: a request
// wrapped onto an indented next line ("    {'GPU': 1.0, 'node:10.0.0.2': 0.001}.") belongs to it.
DSDEPLOY_INLINE void vllm_log_parser::requests(const std::string_view* next) {
    namespace d = detail::diag;
    vllm_report& r = r_;
    const std::size_t number = deferred_number_;
    const std::string_view line = deferred_;
    deferred_number_ = 0;
    const bool wrapped = next && !next->empty() && std::isspace(static_cast<unsigned char>(next->front())) && !d::has(line, "{") &&
                         (d::has(detail::trim(*next), "{") || d::has(detail::trim(*next), "specs="));
    const std::string joined = wrapped ? std::string(line) + " " + std::string(detail::trim(*next)) : std::string();
    const std::string_view whole = wrapped ? std::string_view(joined) : line;
    if (d::has(line, "No available node types can fulfill resource request")) {
        if (r.no_node_type.size() < 100) r.no_node_type.push_back(d::make_line(number, whole));
        collect_requested_ips(whole);
    }
    if (d::has(line, "Waiting for creating a placement group")) {
        if (r.placement_group_waiting.size() < 100) r.placement_group_waiting.push_back(d::make_line(number, whole));
        collect_requested_ips(whole);
    }
    r.recognised = true;
    ++recognised_lines_;
}

DSDEPLOY_INLINE void vllm_log_parser::collect_requested_ips(std::string_view s) {
    std::vector<std::string> ips;
    detail::diag::collect_node_ips(s, ips);
    for (auto& ip : ips) {
        if (requested_ips_.count(ip)) continue;
        if (r_.requested_node_ips.size() >= max_requested_ips) {
            if (more_ips_.size() < max_more_ips) more_ips_.insert(ip);
            r_.requested_node_ips_not_kept = std::max<std::size_t>(r_.requested_node_ips_not_kept, more_ips_.size());
            continue;
        }
        requested_ips_.insert(ip);
        r_.requested_node_ips.push_back(std::move(ip));
    }
}

DSDEPLOY_INLINE void vllm_log_parser::process(std::size_t number, std::string_view text) {
    namespace d = detail::diag;
    vllm_report& r = r_;
    auto mark = [&r]() { r.recognised = true; };
    const std::string_view line = detail::trim(text);
    if (line.empty()) return;
    std::optional<d::key_filter> filter;  // (log_reader has one on the line already)
    if (!d::key_filter::covering(line)) filter.emplace(line);
    const bool was = r.recognised;
    r.recognised = false;
    if (auto v = d::after(line, "vLLM API server version "); !v.empty()) {
        auto t = d::tokens(v);
        if (!t.empty()) r.version = std::string(t[0]), mark();
    }
    if (auto v = d::after(line, "LLM engine (v"); !v.empty() && r.version.empty()) {
        auto ver = d::take_while(v, [](char c) { return c != ')' && !std::isspace(static_cast<unsigned char>(c)); });
        if (!ver.empty()) r.version = std::string(ver), mark();
    }
    for (std::string_view key : {"'distributed_executor_backend': '", "distributed_executor_backend='", "distributed_executor_backend="}) {
        auto v = d::after(line, key);
        if (v.empty()) continue;
        auto val = d::take_while(v, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
        if (!val.empty() && val != "None") {
            r.executor_backend = std::string(val);
            r.executor_line = d::make_line(number, line);
            mark();
        }
        break;
    }
    if (r.executor_backend.empty() && (d::has(line, "RayWorkerWrapper") || d::has(line, "RayDistributedExecutor"))) {
        r.executor_backend = "ray";
        r.executor_line = d::make_line(number, line);
    }
    if (r.executor_backend.empty() && (d::has(line, "MultiprocExecutor") || d::has(line, "multiproc_executor"))) {
        r.executor_backend = "mp";
        r.executor_line = d::make_line(number, line);
    }
    for (std::string_view key : {"tensor_parallel_size=", "'tensor_parallel_size': "})
        if (auto v = d::small_int(d::count_after(line, key))) r.tensor_parallel_size = v;
    for (std::string_view key : {"pipeline_parallel_size=", "'pipeline_parallel_size': "})
        if (auto v = d::small_int(d::count_after(line, key))) r.pipeline_parallel_size = v;
    if (auto v = d::count_after(line, "Using max model len ")) r.max_model_len = v, mark();
    else if (auto v2 = d::count_after(line, "max_seq_len=")) r.max_model_len = v2;
    else if (auto v3 = d::count_after(line, "'max_model_len': ")) r.max_model_len = v3;
    if (auto v = d::count_after(line, "block_size=")) block_size_ = std::max<std::int64_t>(1, std::min<std::int64_t>(*v, 1 << 20));
    if (auto v = d::count_after(line, "GPU KV cache size: ")) {
        r.kv_cache_tokens = v;
        r.kv_cache_line = d::make_line(number, line);
        mark();
    }
    if (auto v = d::count_after(line, "# GPU blocks: ")) {
        gpu_blocks_ = v;
        blocks_line_ = d::make_line(number, line);
        mark();
    }
    if (auto v = d::number_after(line, "Available KV cache memory: ")) r.kv_cache_gib = v, mark();
    else if (auto v2 = d::number_after(line, "reserved for KV Cache is ")) r.kv_cache_gib = v2, mark();
    else if (auto v3 = d::number_after(line, "kv_cache_size=")) r.kv_cache_gib = v3;
    if (auto v = d::after(line, "Maximum concurrency for "); !v.empty()) {
        auto toks = d::count_after(line, "Maximum concurrency for ");
        auto x = d::number_after(v, "tokens per request: ");
        if (toks && x) {
            r.concurrency_tokens = toks;
            r.max_concurrency = x;
            r.concurrency_line = d::make_line(number, line);
            mark();
        }
    }
    if (!r.kv_cache_error && (d::has(line, "To serve at least one request with the model") ||
                              d::has(line, "is larger than the maximum number of tokens that can be stored in KV cache") ||
                              d::has(line, "No available memory for the cache blocks"))) {
        r.kv_cache_error = d::make_line(number, line);
        if (auto e = d::count_after(line, "estimated maximum model length is ")) r.estimated_max_model_len = e;
        else if (auto e2 = d::count_after(line, "that can be stored in KV cache (")) r.estimated_max_model_len = e2;
        mark();
    }
    if (r.out_of_memory.size() < 100 &&
        (d::has(line, "CUDA out of memory") || d::has(line, "OutOfMemoryError") || d::has(line, "CUDA error: out of memory"))) {
        r.out_of_memory.push_back(d::make_line(number, line));
        if (!r.cuda_graph_oom && graph_trace_ && number - graph_trace_ <= 30) r.cuda_graph_oom = r.out_of_memory.back();
        mark();
    }
    if (d::has(line, "No available node types can fulfill resource request") || d::has(line, "Waiting for creating a placement group")) {
        deferred_number_ = number;  // read by requests() when the next line is known
        deferred_.assign(line.data(), line.size());
    }
    if (d::has(line, "Cannot provide a placement group")) {
        if (!r.placement_group_timeout) r.placement_group_timeout = d::make_line(number, line);
        collect_requested_ips(line);
        mark();
    }
    if (r.not_enough_gpus.size() < 100 &&
        (d::has(line, "Current node has no GPU available") || d::has(line, "Ray does not allocate any GPUs on the driver node") ||
         d::has(line, "exceeds the total number of available GPUs") || d::has(line, "cannot be larger than the number of available GPUs") ||
         d::has(line, "max local gpu count") || d::has(line, "must be less than or equal to the number of visible devices"))) {
        r.not_enough_gpus.push_back(d::make_line(number, line));
        mark();
    }
    // Ray's executor compares TP x PP with the GPUs of the local node: expected across nodes
    if (!r.tp_exceeds_local && (d::has(line, "exceeds available GPUs") || d::has(line, "exceeds locally visible GPUs"))) {
        r.tp_exceeds_local = d::make_line(number, line);
        auto at = line.find("exceeds");
        r.local_gpus = d::small_int(d::count_after(line.substr(at), "("));
        mark();
    }
    if (!r.cuda_graph_capture && (d::has(line, "Capturing the model for CUDA graphs") || d::has(line, "Capturing cudagraphs") ||
                                  d::has(line, "Capturing CUDA graph"))) {
        r.cuda_graph_capture = d::make_line(number, line);
        mark();
    }
    if (d::has(line, "Graph capturing finished")) graph_done_ = number;
    if (d::has(line, "torch.cuda.graph(") || d::has(line, "capture_end()")) graph_trace_ = number;
    if (!r.quantization_unsupported && d::has(line, "not supported for") && d::has(line, "the current GPU") && d::has(line, "apability")) {
        r.quantization_unsupported = d::make_line(number, line);
        r.min_capability = d::small_int(d::count_after(line, "Min capability: "));
        if (!r.min_capability) r.min_capability = d::small_int(d::count_after(line, "Minimum capability: "));
        r.current_capability = d::small_int(d::count_after(line, "Current capability: "));
        auto m = d::after(line, "quantization method ");
        r.quantization_method = std::string(d::take_while(m, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }));
        mark();
    }
    // "(RayWorkerWrapper pid=1463574, ip=192.168.10.60) ..."
    if (line.front() == '(' && d::has(line, "ip=")) {
        auto close = line.find(')');
        auto prefix = line.substr(0, close == std::string_view::npos ? line.size() : close);
        auto ip = d::take_while(d::after(prefix, "ip="), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':'; });
        if (r.ray_worker_ips.size() < max_worker_ips && is_ip_address(ip) && worker_ips_.insert(std::string(ip)).second) r.ray_worker_ips.emplace_back(ip);
    }
    if (!r.started && (d::has(line, "Application startup complete") || d::has(line, "Starting vLLM API server"))) {
        r.started = d::make_line(number, line);
        mark();
    }
    if (!r.engine_failed && (d::has(line, "Engine core initialization failed") || d::has(line, "EngineCore failed to start"))) {
        r.engine_failed = d::make_line(number, line);
        mark();
    }
    if (r.recognised) ++recognised_lines_;
    r.recognised = r.recognised || was;
}

DSDEPLOY_INLINE void vllm_log_parser::end_input() {
    if (deferred_number_ > 0) requests(nullptr);
}

DSDEPLOY_INLINE vllm_report vllm_log_parser::finish() {
    end_input();
    vllm_report& r = r_;
    // an OOM after capture started and before it finished (or with no "finished" at all: consoles that print newest first)
    if (!r.cuda_graph_oom && r.cuda_graph_capture && !r.out_of_memory.empty()) {
        for (const auto& o : r.out_of_memory)
            if (!graph_done_ || (o.number > r.cuda_graph_capture->number && o.number < graph_done_)) {
                r.cuda_graph_oom = o;
                break;
            }
    }
    if (!r.kv_cache_tokens && gpu_blocks_ && *gpu_blocks_ < (std::int64_t{1} << 40)) {
        r.kv_cache_tokens = *gpu_blocks_ * block_size_;
        r.kv_cache_line = blocks_line_;
    }
    vllm_report out = std::move(r_);
    *this = vllm_log_parser{};
    return out;
}

DSDEPLOY_INLINE vllm_report parse_vllm_log(std::string_view text) {
    vllm_log_parser p;
    detail::diag::for_each_clean_line(text, [&p](std::size_t n, std::string_view l) { p.line(n, l); });
    return p.finish();
}

DSDEPLOY_NAMESPACE_END
