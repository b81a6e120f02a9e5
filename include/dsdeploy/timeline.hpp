// SPDX-License-Identifier: Apache-2.0
// A per-rank stage timeline for hangs (issue 15 item 4; `dsdeploy status --timeline`): every
// node's vLLM log is read into events (time, node, rank, stage, detail) - process start,
// distributed init (NCCL/Gloo), weight loading (with the shard progress vLLM prints),
// compile / warm-up / CUDA-graph capture, KV-cache sizing, API ready, first request - merged into
// one time-ordered track per rank, and judged: the rank that is stopped, gone, or behind the
// others and silent for longer than a threshold is named with its node, stage, how long, the
// evidence line and the fix. The patterns come from vLLM 0.20's sources (cited beside each in
// impl/timeline_inl.hpp) and real logs (tests/fixtures/timeline). The parser takes any text and
// never throws. Collecting the logs from a deployment: timeline() (impl/timeline_probe_inl.hpp).
//
// Time: vLLM's log timestamps ("INFO 12-03 10:18:14 [file.py:101]", the format of
// vllm/logger.py: `%m-%d %H:%M:%S`) have no year and no time zone. They are read in the node's
// local time zone (the UTC offset and the year its probe reports with `date`), which is the time
// zone of the vLLM process unless its environment sets TZ differently (a container's may be UTC);
// a timestamp later than the node's clock by more than a day is taken as last year's. Every
// duration ("silent for 47 s") is the node's clock minus the node's log time: the operator's
// clock is never used, so clock skew between machines does not enter.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/log_line.hpp>
#include <dsdeploy/orchestrate.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// The start-up stages, in the order vLLM (v1 engine) goes through them.
enum class timeline_stage {
    process_start,     // the process printed its first line
    distributed_init,  // torch.distributed / NCCL / Gloo process groups, the rank's place in TP x PP
    weight_loading,    // "Starting to load model" ... shard progress ... "Model loading took"
    compile,           // torch.compile, the CPU backend's warm-up run, CUDA-graph capture
    kv_cache,          // the memory profile and the KV cache's size
    api_ready,         // the API server listens ("Starting vLLM server on", "Application startup complete")
    first_request,     // the first request reached the API server
};
std::string_view to_string(timeline_stage s);

// One thing a log line says about a process.
struct timeline_event {
    std::int64_t time = 0;          // Unix seconds (node clock); 0: the log gave no time before this line
    bool time_inferred = false;     // the line has no timestamp: the time of the line before it
    std::string node;
    int rank = -1;                  // the global rank (TP x PP x DP), -1: not a worker (API server, engine core)
    std::string process;            // "Worker_PP1", "EngineCore", "APIServer", "" (the node's main process)
    std::string pid;
    timeline_stage stage = timeline_stage::process_start;
    int order = 0;                  // the milestone's place in the start-up (larger: later); see impl
    bool done = false;              // the stage finished with this line ("Model loading took")
    std::string detail;             // "shards 3/8 (37%)", "backend gloo, world size 2", ...
    log_line line;                  // the line as logged (cleaned)
};

// One process of the log (a worker rank, the engine core, the API server, the headless main).
struct timeline_track {
    std::string node;
    int rank = -1;
    std::string process;            // its last name (a worker is "Worker" before its group is known)
    std::string pid;
    std::vector<timeline_event> events;  // its stage events, in log order
    log_line first_line, last_line;
    std::int64_t first_time = 0, last_time = 0;  // of its first and last line (0: no time)
    // From the node's probe: "alive", "stopped" (state T: SIGSTOP, a debugger), "zombie", "gone"
    // (no such process any more), "" when not probed (docker, fixtures).
    std::string state;
    int progress() const;           // the largest milestone order reached (0 when none)
    const timeline_event* last_event() const;
};

// One node's input: its log lines (numbered as in the file) and what its probe said.
struct timeline_node_input {
    std::string name;
    bool reachable = true;
    std::string error;              // why the log could not be read
    bool deployed = true;           // the node's folder exists
    bool log_found = true;
    std::vector<log_line> lines;    // the log, or the probe's selection of it (line numbers kept)
    std::size_t total_lines = 0;    // the log's length (0: unknown)
    std::optional<std::int64_t> now;         // the node's clock (Unix s)
    int utc_offset_seconds = 0;              // the node's time zone (`date +%z`)
    std::optional<int> year;                 // the node's year (else the year of `now`, else 1970)
    std::optional<std::int64_t> log_mtime;   // the log's last write (Unix s; progress bars have no timestamps)
    // The current run's start (the mtime of run/vllm.pid, which start.sh writes as vLLM starts):
    // the log is appended to by every `up`, and lines logged before this belong to earlier runs.
    std::optional<std::int64_t> run_started;
    // run/vllm.pid: the process whose unprefixed lines are the node's main process (a headless
    // node's `vllm serve`; on the head the API server, which has a prefix of its own).
    std::string main_pid;
    // Processes of the deployment on this node (pid, state letter from ps: R S D T t Z ...,
    // command name); nullopt: not probed.
    struct process {
        std::string pid, state, name;
    };
    std::optional<std::vector<process>> processes;
    std::optional<bool> vllm_alive;          // status(): the node's vLLM PID file's process
};

struct timeline_options {
    // A rank behind the others (or, when none is behind, every rank) whose log has been silent
    // this long is stuck. A stopped or gone process is named at once.
    std::chrono::seconds stuck_after{180};
    int tensor_parallel_size = 1;   // to number "Worker_PP1_TP0" when the log does not say its rank
    std::string head;               // the node with the API server (first_request/api_ready)
};

struct timeline_report {
    std::vector<timeline_track> ranks;      // the worker ranks, by rank (then node)
    std::vector<timeline_track> others;     // API server, engine core, a node's main process
    std::vector<timeline_node_input> nodes; // what was read (lines dropped in the report's JSON)
    std::optional<timeline_event> api_ready, first_request;
    std::vector<finding> findings;          // the stuck rank first; ids in docs/findings.md
    bool serving = false;                   // the API is ready (and no rank gone or stopped)
    // 0 nothing stuck, 1 a rank stuck, stopped or gone, 3 a node could not be reached.
    int exit_code() const;
};

// Reads one node's log: its tracks, with every stage event. Never throws.
std::vector<timeline_track> parse_timeline_log(const timeline_node_input& node, const timeline_options& o = {});

// Every node's tracks merged and judged.
timeline_report build_timeline(std::vector<timeline_node_input> nodes, const timeline_options& o = {});

// The probe's output on one node (see impl/timeline_probe_inl.hpp: now=, utc_offset=, year=,
// log=, log_mtime=, log_lines=, proc=PID STATE NAME, then "@@log" and "NR<TAB>line" lines) into
// a node input. Never throws.
timeline_node_input parse_timeline_probe(std::string_view text, const std::string& node);

// Reads every node's log and process states over the executor and judges them, with the
// status() already taken (reachability, the vLLM PID file's process).
timeline_report timeline(const deployment& d, const executor_fn& ex, const cluster_status& status, const timeline_options& o = {});

// People's text: the finding first (rank, node, stage, how long), its evidence line and fix,
// then one line per rank and its stages.
std::string to_text(const timeline_report& r);
void to_json(nlohmann::json& j, const timeline_report& r);

namespace detail::orch {
// The probe sent to node i (the log's selected lines, the node's clock and process states).
std::vector<std::string> timeline_argv(const deployment& d, std::size_t i);
}  // namespace detail::orch

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/timeline_inl.hpp>
#include <dsdeploy/impl/timeline_probe_inl.hpp>
#endif
