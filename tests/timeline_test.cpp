// SPDX-License-Identifier: Apache-2.0
// The per-rank stage timeline (issue 15 item 4): real vLLM 0.20 CPU logs of a pipeline-parallel
// bring-up across the two namespace hosts (tests/fixtures/timeline, unedited: a healthy run, and
// a run whose rank 1 was stopped with SIGSTOP as it began loading) read into per-rank stages;
// the judgement (stopped, gone, behind and silent, every rank silent) on those logs with the
// node's clock and process states set as the probe reports them; the probe's own output; and a
// public GPU log (tensor parallel 2, CUDA graphs) for the GPU-only stages.
#include <dsdeploy/timeline.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace timeline_test {

using namespace dsdeploy;
using dsdeploy_test::fixture;

namespace {

// 2026-12-03 10:19:30 UTC, when the healthy run's logs were copied (`date -u +%s` on h1).
constexpr std::int64_t healthy_now = 1796293170;

timeline_node_input node_from(const std::string& name, const std::string& relative, std::size_t first_lines = 0) {
    timeline_node_input n;
    n.name = name;
    const std::string text = fixture("timeline/" + relative);
    std::istringstream in(text);
    std::string line;
    std::size_t k = 0;
    while (std::getline(in, line)) {
        ++k;
        if (first_lines && k > first_lines) break;
        n.lines.push_back({k, line});
    }
    n.total_lines = n.lines.size();
    n.year = 2026;
    return n;
}

// The line number of the first line containing `needle`.
std::size_t line_of(const timeline_node_input& n, const std::string& needle) {
    for (const auto& l : n.lines)
        if (l.text.find(needle) != std::string::npos) return l.number;
    FAIL("no line with " << needle);
    return 0;
}

const timeline_track& rank(const timeline_report& r, int k) {
    for (const auto& t : r.ranks)
        if (t.rank == k) return t;
    FAIL("no rank " << k);
    return r.ranks.front();
}

std::vector<timeline_stage> stages_of(const timeline_track& t) {
    std::vector<timeline_stage> s;
    for (const auto& e : t.events) s.push_back(e.stage);
    return s;
}

}  // namespace

TEST_CASE("a healthy vLLM 0.20 PP 2 bring-up reads as two ranks through every stage, nothing stuck") {
    auto h1 = node_from("h1", "vllm-0.20.0-cpu-pp2-healthy-h1.log");
    auto h2 = node_from("h2", "vllm-0.20.0-cpu-pp2-healthy-h2.log");
    h1.now = h2.now = healthy_now;
    timeline_options o;
    o.head = "h1";
    const auto r = build_timeline({h1, h2}, o);
    REQUIRE(r.ranks.size() == 2);
    const auto& r0 = rank(r, 0);
    const auto& r1 = rank(r, 1);
    CHECK(r0.node == "h1");
    CHECK(r0.process == "Worker_PP0");
    CHECK(r0.pid == "28025");
    CHECK(r1.node == "h2");
    CHECK(r1.process == "Worker_PP1");
    using S = timeline_stage;
    const std::vector<S> want = {S::process_start, S::distributed_init, S::distributed_init, S::weight_loading, S::compile, S::compile, S::kv_cache};
    CHECK(stages_of(r1) == want);
    // h2's worker: 10:18:14 distributed init ... 10:19:08 warm-up done, KV cache
    CHECK(r1.events[1].detail == "backend gloo, world size 2, init tcp://10.81.0.1:29501");
    CHECK(r1.events[3].time == healthy_now - 76);  // 10:18:14
    CHECK(r1.events.back().time == healthy_now - 22);  // 10:19:08
    CHECK(r1.events.back().detail == "KV cache 1.0 GiB of 23.54 GiB");
    REQUIRE(r.api_ready);
    CHECK(r.api_ready->node == "h1");
    CHECK(r.api_ready->stage == S::api_ready);
    REQUIRE(r.first_request);
    CHECK(r.first_request->detail == "first request: /v1/chat/completions");
    CHECK(r.first_request->time_inferred);  // uvicorn's access lines have no timestamp
    CHECK(r.serving);
    CHECK(r.findings.empty());
    CHECK(r.exit_code() == 0);
    const auto text = to_text(r);
    CHECK(text.rfind("nothing stuck: the API is ready and has served a request", 0) == 0);
    CHECK(text.find("rank 1   h2  Worker_PP1 pid 31990") != std::string::npos);
    // the engine core's own KV-cache lines and the API server are the other processes
    const auto ec = std::find_if(r.others.begin(), r.others.end(), [](const timeline_track& t) { return t.process == "EngineCore"; });
    REQUIRE(ec != r.others.end());
    CHECK(ec->events.back().detail == "engine ready after 55.26 s");
}

TEST_CASE("the healthy logs cut where h2's worker began loading: rank 1 behind and silent is stuck in weight loading") {
    // The same real lines up to h2's "Starting to load model" (the rest of that log not yet
    // written), h1's up to its KV-cache line: rank 0 is further, rank 1 has been silent.
    auto h2 = node_from("h2", "vllm-0.20.0-cpu-pp2-healthy-h2.log");
    auto h1 = node_from("h1", "vllm-0.20.0-cpu-pp2-healthy-h1.log");
    h2 = node_from("h2", "vllm-0.20.0-cpu-pp2-healthy-h2.log", line_of(h2, "Starting to load model"));
    h1 = node_from("h1", "vllm-0.20.0-cpu-pp2-healthy-h1.log", line_of(h1, "for KV cache"));
    const std::int64_t loading = healthy_now - 76;  // 10:18:14
    timeline_options o;
    o.stuck_after = std::chrono::seconds(60);

    SECTION("silent for less than --stuck-after: nothing stuck yet") {
        h1.now = h2.now = loading + 30;
        const auto r = build_timeline({h1, h2}, o);
        CHECK(r.findings.empty());
        CHECK(r.exit_code() == 0);
        CHECK(rank(r, 1).events.back().stage == timeline_stage::weight_loading);
        CHECK(rank(r, 1).progress() < rank(r, 0).progress());
    }
    SECTION("silent for longer: rank 1 on h2 stuck in weight loading, with the evidence line and the fix") {
        h1.now = h2.now = loading + 300;
        const auto r = build_timeline({h1, h2}, o);
        REQUIRE(r.findings.size() == 1);
        const auto& f = r.findings[0];
        CHECK(f.id == "timeline.rank_stuck");
        CHECK(f.level == severity::error);
        CHECK(f.node == "h2");
        CHECK(f.message.rfind("rank 1 on h2 (Worker_PP1, pid 31990) is stuck in weight loading (started): last line at 10:18:14, silent for 5 min 0 s", 0) == 0);
        CHECK(f.evidence.find("Starting to load model /work/wt/timeline/build/dst/model-pp...") != std::string::npos);
        CHECK(f.fix.find("py-spy dump --pid 31990") != std::string::npos);
        CHECK(r.exit_code() == 1);
        const auto text = to_text(r);
        CHECK(text.rfind("STUCK: rank 1 on h2", 0) == 0);  // the finding first
    }
    SECTION("its process stopped (state T): named at once, before any silence") {
        h1.now = h2.now = loading + 5;
        h2.processes = std::vector<timeline_node_input::process>{{"30121", "Sl", "vllm"}, {"31990", "Tl", "VLLM::Worker_PP"}};
        h1.processes = std::vector<timeline_node_input::process>{{"28025", "Sl", "VLLM::Worker_PP"}, {"26923", "Sl", "VLLM::EngineCor"}};
        const auto r = build_timeline({h1, h2}, o);
        REQUIRE_FALSE(r.findings.empty());
        CHECK(r.findings[0].id == "timeline.rank_stopped");
        CHECK(r.findings[0].message.find("rank 1 on h2 (Worker_PP1, pid 31990) is stopped (process state T") == 0);
        CHECK(r.findings[0].fix.rfind("`kill -CONT 31990` on h2", 0) == 0);
        CHECK(rank(r, 0).state == "alive");
    }
    SECTION("its process gone: named at once") {
        h1.now = h2.now = loading + 5;
        h2.processes = std::vector<timeline_node_input::process>{{"30121", "Sl", "vllm"}};
        const auto r = build_timeline({h1, h2}, o);
        REQUIRE(r.findings.size() == 1);
        CHECK(r.findings[0].id == "timeline.rank_gone");
        CHECK(r.findings[0].message.find("rank 1 on h2 (Worker_PP1, pid 31990) is gone (no such process any more) in weight loading") == 0);
    }
    SECTION("status says the node's vLLM is gone and no process list: every track of the node is gone") {
        h1.now = h2.now = loading + 5;
        h2.vllm_alive = false;
        const auto r = build_timeline({h1, h2}, o);
        REQUIRE_FALSE(r.findings.empty());
        CHECK(r.findings[0].id == "timeline.rank_gone");
        CHECK(r.findings[0].node == "h2");
    }
}

TEST_CASE("every rank silent and none behind: the start-up stalled, the rank that went quiet first named") {
    // h1's real log up to its KV-cache line, h2's up to its own: both ranks at KV-cache sizing.
    auto h1 = node_from("h1", "vllm-0.20.0-cpu-pp2-healthy-h1.log");
    auto h2 = node_from("h2", "vllm-0.20.0-cpu-pp2-healthy-h2.log");
    h1 = node_from("h1", "vllm-0.20.0-cpu-pp2-healthy-h1.log", line_of(h1, "for KV cache"));
    h2 = node_from("h2", "vllm-0.20.0-cpu-pp2-healthy-h2.log", line_of(h2, "for KV cache"));
    h1.now = h2.now = healthy_now + 600;
    const auto r = build_timeline({h1, h2});
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].id == "timeline.stalled");
    CHECK(r.findings[0].node == "h1");  // rank 0's last line 10:18:15, rank 1's 10:19:08
    CHECK(r.findings[0].message.find("every rank has been silent for at least 3 min 0 s") == 0);
    CHECK(r.findings[0].message.find("KV-cache sizing") != std::string::npos);
}

TEST_CASE("lines of an earlier run in the same log are skipped (start.sh appends)") {
    // The healthy h2 log twice: an earlier run and this one, 10 minutes later. Read with the
    // run's start (run/vllm.pid's mtime), only the second counts.
    auto h2 = node_from("h2", "vllm-0.20.0-cpu-pp2-healthy-h2.log");
    const auto first = h2.lines;
    CHECK(parse_timeline_log(h2).size() == 2);  // the main process and the worker
    h2.run_started = healthy_now + 1;           // after every line of the fixture
    CHECK(parse_timeline_log(h2).empty());
    h2.run_started = healthy_now - 120;          // 10:17:30: the fixture's run started at 10:17:59
    const auto tracks = parse_timeline_log(h2);
    REQUIRE(tracks.size() == 2);
    CHECK(tracks[1].pid == "31990");
    CHECK(tracks[0].first_line.number == 1);
}

TEST_CASE("vLLM's year-less, zone-less timestamps are read in the node's zone and year") {
    timeline_node_input n;
    n.name = "n";
    n.lines = {{1, "(Worker_TP1 pid=7) INFO 12-31 23:59:50 [parallel_state.py:1715] rank 1 in world size 2 is assigned as DP rank 0, "
                   "PP rank 0, PCP rank 0, TP rank 1, EP rank N/A, EPLB rank N/A"}};
    SECTION("a December line read on the 1st of January belongs to last year") {
        n.now = 1798761600 + 30;  // 2027-01-01 00:00:30 UTC
        const auto t = parse_timeline_log(n);
        REQUIRE(t.size() == 1);
        CHECK(t[0].rank == 1);
        CHECK(t[0].events.back().time == 1798761600 - 10);
    }
    SECTION("a node two hours east of UTC") {
        n.now = 1798761600;
        n.year = 2026;
        n.utc_offset_seconds = 7200;
        const auto t = parse_timeline_log(n);
        CHECK(t[0].events.back().time == 1798761600 - 10 - 7200);
    }
}

TEST_CASE("the probe's output: clock, zone, run start, process states and numbered lines") {
    const std::string probe =
        "now=1796293170\nutc_offset=-0330\nyear=2026\nprocs_probed=yes\nproc=30121 Sl vllm\nproc=31990 Tl VLLM::Worker_PP\n"
        "run_started=1796293000\nlog=/tmp/dsd-e2e/h2/logs/vllm.log\nlog_mtime=1796293100\n"
        "30\t(Worker_PP1 pid=31990) INFO 12-03 10:18:14 [cpu_model_runner.py:101] Starting to load model /m...\n"
        "1\tINFO 12-03 10:17:59 [importing.py:44] Triton is installed\n30\t(Worker_PP1 pid=31990) duplicate\nlog_lines=31\n";
    const auto n = parse_timeline_probe(probe, "h2");
    CHECK(n.name == "h2");
    CHECK(n.now == 1796293170);
    CHECK(n.utc_offset_seconds == -(3 * 3600 + 30 * 60));
    CHECK(n.year == 2026);
    CHECK(n.run_started == 1796293000);
    CHECK(n.log_mtime == 1796293100);
    CHECK(n.total_lines == 31);
    CHECK(n.log_found);
    REQUIRE(n.processes);
    REQUIRE(n.processes->size() == 2);
    CHECK((*n.processes)[1].state == "Tl");
    REQUIRE(n.lines.size() == 3);
    CHECK(n.lines[0].number == 1);  // sorted; the parser skips the repeated 30
    const auto none = parse_timeline_probe("now=5\nutc_offset=+0000\nyear=2026\nlog=none\n", "h1");
    CHECK_FALSE(none.log_found);
    CHECK(none.error == "no vLLM log yet");
    CHECK_FALSE(none.processes);
    CHECK(build_timeline({none}).findings.at(0).level == severity::warning);
    const auto undeployed = parse_timeline_probe("now=5\nutc_offset=+0000\nyear=2026\ndeployed=no\n", "h2");
    CHECK_FALSE(undeployed.deployed);
    const auto r = build_timeline({undeployed});
    REQUIRE(r.findings.size() == 1);
    CHECK(r.findings[0].id == "timeline.log_unavailable");
    CHECK(r.findings[0].level == severity::error);
    CHECK(r.exit_code() == 1);
    timeline_node_input down;
    down.name = "h3";
    down.reachable = false;
    down.error = "ssh: connect to host h3 port 22: Connection refused";
    CHECK(build_timeline({down}).exit_code() == 3);
}

TEST_CASE("a public GPU log (vLLM 0.10.1, TP 2 on A100s): VllmWorker ranks, weights, KV cache, CUDA graphs") {
    // tests/fixtures/vllm-memory/dl-a100-qwen2-7b-tp2-u025.log (source in its header)
    timeline_node_input n;
    n.name = "gpu1";
    std::istringstream in(fixture("vllm-memory/dl-a100-qwen2-7b-tp2-u025.log"));
    std::string line;
    std::size_t k = 0;
    while (std::getline(in, line)) n.lines.push_back({++k, line});
    const auto r = build_timeline({n});
    REQUIRE(r.ranks.size() == 2);
    CHECK(r.ranks[0].process == "VllmWorker TP0");
    CHECK(r.ranks[1].rank == 1);
    const auto s = stages_of(r.ranks[0]);
    CHECK(std::find(s.begin(), s.end(), timeline_stage::weight_loading) != s.end());
    CHECK(std::find(s.begin(), s.end(), timeline_stage::kv_cache) != s.end());
    CHECK(r.ranks[0].events.back().detail == "CUDA graphs captured in 4 s");
    CHECK(r.ranks[0].events.back().done);
    CHECK(r.findings.empty());  // no clock: silence is not judged
}

TEST_CASE("progress bars rewritten with carriage returns keep their latest state") {
    timeline_node_input n;
    n.name = "n";
    n.lines = {{1, "(Worker_TP0 pid=9) INFO 12-03 10:00:00 [gpu_model_runner.py:4778] Starting to load model m..."},
               {2, "(Worker_TP0 pid=9) Loading safetensors checkpoint shards:   0% Completed | 0/8 [00:00<?, ?it/s]\r"
                   "Loading safetensors checkpoint shards:  38% Completed | 3/8 [00:41<01:09, 13.8s/it]\r"},
               {3, "(Worker_TP0 pid=9) Loading safetensors checkpoint shards:  50% Completed | 4/8 [00:55<00:55, 13.8s/it]"}};
    n.total_lines = 3;
    n.now = 1796292000 + 400;
    n.year = 2026;
    n.log_mtime = 1796292000 + 390;  // the bar moved 10 s ago though its lines have no timestamp
    n.utc_offset_seconds = 0;
    const auto t = parse_timeline_log(n);
    REQUIRE(t.size() == 1);
    REQUIRE(t[0].events.size() == 3);
    CHECK(t[0].events.back().detail == "shards 50% (4/8)");
    CHECK(t[0].last_time == 1796292000 + 390);
    nlohmann::json j = build_timeline({n});
    CHECK(j["ranks"][0]["silent_seconds"] == 10);
    CHECK(j["ranks"][0]["stage"] == "weight_loading");
}

TEST_CASE("the probe's real output on h2 after `down`: three runs in one log, the latest rank 1 gone") {
    // tests/fixtures/timeline/probe-vllm-0.20.0-pp2-h2-after-down.out: the probe run by hand on
    // h2 after two bring-ups and a stopped one had been taken down (no PID file, no process).
    const auto n = parse_timeline_probe(fixture("timeline/probe-vllm-0.20.0-pp2-h2-after-down.out"), "h2");
    CHECK(n.now == 1796293979);
    CHECK(n.total_lines == 159);
    CHECK_FALSE(n.run_started);
    REQUIRE(n.processes);
    CHECK(n.processes->empty());
    const auto r = build_timeline({n});
    REQUIRE(r.ranks.size() == 1);  // one rank 1: the latest run's worker
    CHECK(r.ranks[0].rank == 1);
    CHECK(r.ranks[0].pid == "26711");
    CHECK(r.ranks[0].state == "gone");
    CHECK(r.ranks[0].events.back().stage == timeline_stage::weight_loading);
    REQUIRE_FALSE(r.findings.empty());
    CHECK(r.findings[0].id == "timeline.rank_gone");
    CHECK(r.findings[0].message.find("rank 1 on h2 (Worker_PP1, pid 26711) is gone") == 0);
    CHECK(r.exit_code() == 1);
    // the earlier runs' workers are kept apart, marked earlier
    CHECK(std::count_if(r.others.begin(), r.others.end(), [](const timeline_track& t) { return t.process == "Worker_PP1 (earlier)"; }) >= 1);
}

TEST_CASE("the stopped-worker run: the logs as the probe read them give the CLI's own finding again") {
    // tests/fixtures/timeline: h2's worker stopped with SIGSTOP at "Starting to load model"
    // (e2e_timeline_sigstop_loading), both logs copied right after `status --timeline --json`
    // (status-timeline-h2-stopped.json), with the lines of the runs before it (start.sh appends).
    // The JSON's clock, run start, process list and line count rebuild each node's input.
    const auto j = nlohmann::json::parse(fixture("timeline/status-timeline-h2-stopped.json"));
    std::vector<timeline_node_input> nodes;
    for (const auto& jn : j["nodes"]) {
        const std::string name = jn["name"];
        auto n = node_from(name, name == "h1" ? "vllm-0.20.0-cpu-pp2-h1-while-h2-stopped.log" : "vllm-0.20.0-cpu-pp2-h2-worker-stopped-loading.log",
                           jn["log_lines"].get<std::size_t>());
        CHECK(n.lines.size() == jn["log_lines"].get<std::size_t>());
        n.now = jn["now"].get<std::int64_t>();
        n.run_started = jn["run_started"].get<std::int64_t>();
        n.log_mtime = jn["log_mtime"].get<std::int64_t>();
        n.year = jn["year"].get<int>();
        n.vllm_alive = jn["vllm_alive"].get<bool>();
        std::vector<timeline_node_input::process> ps;
        for (const auto& p : jn["processes"]) ps.push_back({p["pid"], p["state"], p["name"]});
        n.processes = ps;
        nodes.push_back(std::move(n));
    }
    timeline_options o;
    o.head = "h1";
    const auto r = build_timeline(nodes, o);
    REQUIRE_FALSE(r.findings.empty());
    CHECK(r.findings[0].id == "timeline.rank_stopped");
    CHECK(r.findings[0].message == j["findings"][0]["message"].get<std::string>());
    CHECK(r.findings[0].message.rfind("rank 1 on h2 (Worker_PP1, pid 29727) is stopped (process state T: SIGSTOP or a debugger) in weight loading", 0) == 0);
    CHECK(r.findings[0].evidence == j["findings"][0]["evidence"].get<std::string>());
    REQUIRE(r.ranks.size() == 2);  // the earlier runs' workers (the logs hold three) are skipped
    CHECK(r.ranks[0].pid == "24581");
    CHECK(r.ranks[0].state == "alive");
    CHECK(r.ranks[1].pid == "29727");
    CHECK(r.ranks[1].state == "stopped");
    CHECK(r.exit_code() == 1);
    const auto jr = nlohmann::json(r);
    CHECK(jr["ranks"] == j["ranks"]);
    // without the run's start, the earlier runs' ranks are read too, and named gone after the stopped one
    for (auto& n : nodes) n.run_started.reset();
    const auto all = build_timeline(nodes, o);
    CHECK(all.findings[0].id == "timeline.rank_stopped");
}

TEST_CASE("Ray workers' lines (a public excerpt) are ranks whose process state is not judged from the head's process list") {
    // tests/fixtures/vllm/public-vllm-15598-ray-workers-oom.log: RayWorkerWrapper prefixes with ip=
    timeline_node_input n;
    n.name = "head";
    std::istringstream in(fixture("vllm/public-vllm-15598-ray-workers-oom.log"));
    std::string line;
    std::size_t k = 0;
    while (std::getline(in, line)) n.lines.push_back({++k, line});
    n.processes = std::vector<timeline_node_input::process>{};  // probed: nothing under the PID files
    const auto r = build_timeline({n});
    REQUIRE_FALSE(r.ranks.empty());
    for (const auto& t : r.ranks) {
        CHECK(t.process.rfind("RayWorkerWrapper", 0) == 0);
        CHECK(t.state.empty());
    }
    CHECK(std::none_of(r.findings.begin(), r.findings.end(), [](const finding& f) { return f.id == "timeline.rank_gone"; }));
}

TEST_CASE("h2's main process stopped before it started a worker: rank missing on h2, named at once") {
    // The healthy h2 log up to its last line before the worker's first (the headless `vllm
    // serve`'s own lines), h1's up to its KV-cache line.
    auto h1 = node_from("h1", "vllm-0.20.0-cpu-pp2-healthy-h1.log");
    auto h2 = node_from("h2", "vllm-0.20.0-cpu-pp2-healthy-h2.log");
    h1 = node_from("h1", "vllm-0.20.0-cpu-pp2-healthy-h1.log", line_of(h1, "for KV cache"));
    h2 = node_from("h2", "vllm-0.20.0-cpu-pp2-healthy-h2.log", line_of(h2, "(Worker pid=") - 1);
    h1.now = h2.now = healthy_now - 60;
    h2.main_pid = "30121";  // run/vllm.pid (start.sh's report in the same run)
    h2.processes = std::vector<timeline_node_input::process>{{"30121", "Tl", "vllm"}};
    const auto r = build_timeline({h1, h2});
    REQUIRE_FALSE(r.findings.empty());
    CHECK(r.findings[0].id == "timeline.rank_missing");
    CHECK(r.findings[0].node == "h2");
    CHECK(r.findings[0].message.rfind("no worker rank has started on h2: its main process (pid 30121) is stopped (process state T)", 0) == 0);
    CHECK(r.findings[0].fix.rfind("`kill -CONT 30121` on h2", 0) == 0);
    CHECK(r.exit_code() == 1);
    SECTION("running but silent for less than --stuck-after: nothing yet") {
        h2.processes = std::vector<timeline_node_input::process>{{"30121", "Sl", "vllm"}};
        CHECK(build_timeline({h1, h2}).findings.empty());
    }
}

}  // namespace timeline_test
