// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/detail/shell.hpp>
#include <dsdeploy/launch.hpp>
#include <dsdeploy/sglang_memory.hpp>
#include <dsdeploy/detail/text.hpp>

#include "test_support.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

namespace launch_test {

using namespace dsdeploy;

namespace {
std::set<std::string> read_list(const std::string& relative) {
    std::set<std::string> out;
    const std::string text = dsdeploy_test::read_file(std::string(DSDEPLOY_SOURCE_DIR) + "/" + relative);
    for (auto line : dsdeploy::detail::split_lines(text)) {
        auto t = dsdeploy::detail::trim(line);
        if (!t.empty()) out.emplace(t);
    }
    return out;
}

engine_version v(const char* s) { return parse_engine_version(s); }

bool has(const std::vector<std::string>& argv, const std::string& word) { return std::find(argv.begin(), argv.end(), word) != argv.end(); }

std::string after(const std::vector<std::string>& argv, const std::string& flag) {
    auto it = std::find(argv.begin(), argv.end(), flag);
    REQUIRE(it != argv.end());
    REQUIRE(it + 1 != argv.end());
    return *(it + 1);
}

// Runs bash on `script` and returns what it printed.
std::string run_bash(const std::string& script) {
    const std::string cmd = "bash -c " + dsdeploy::detail::shell::quote(script);
    FILE* f = ::popen(cmd.c_str(), "r");
    REQUIRE(f != nullptr);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    REQUIRE(::pclose(f) == 0);
    return out;
}
}  // namespace

TEST_CASE("vLLM versions parse with prefixes and suffixes and compare by number") {
    CHECK(v("0.11.0") == engine_version{0, 11, 0, ""});
    CHECK(v("v0.11.1").patch == 1);
    CHECK(v("0.12.0rc1") == v("0.12.0"));
    CHECK(v("0.11.0+cpu") < v("0.11.1"));
    CHECK(v("0.9") == v("0.9.0"));
    CHECK(v("1.0.0") > v("0.99.99"));
    CHECK(v(" 0.10.1.1 ").minor == 10);
    CHECK_DSDEPLOY_ERROR(parse_engine_version("latest"), errc::launch_version, "runtime.vllm_version", "is not a version");
    CHECK_DSDEPLOY_ERROR(parse_engine_version("0"), errc::launch_version, "runtime.vllm_version", "pip show vllm");
    CHECK_DSDEPLOY_ERROR(parse_engine_version("0.11.0000001", "x"), errc::launch_version, "x", "is not a version");
}

TEST_CASE("the flag table holds exactly vLLM 0.11.0's options (tests/validate/vllm-serve-flags.txt)") {
    const auto expected = read_list("tests/validate/vllm-serve-flags.txt");
    const auto at = vllm_options_at(v("0.11.0"));
    const std::set<std::string> table(at.begin(), at.end());
    std::vector<std::string> missing, extra;
    std::set_difference(expected.begin(), expected.end(), table.begin(), table.end(), std::back_inserter(missing));
    std::set_difference(table.begin(), table.end(), expected.begin(), expected.end(), std::back_inserter(extra));
    CHECK(missing == std::vector<std::string>{});
    CHECK(extra == std::vector<std::string>{});
    CHECK(expected.size() == 242);
    // Later additions exist in the table but not at 0.11.0.
    const auto later = vllm_options_at(v("0.11.1"));
    CHECK(std::count(later.begin(), later.end(), "--nnodes") == 1);
    CHECK(table.count("--nnodes") == 0);
}

TEST_CASE("every ray start option dsdeploy emits is in Ray 2.48-2.53's list") {
    const auto ray = read_list("tests/validate/ray-start-flags.txt");
    for (const auto& o : ray_start_options_used()) {
        INFO(o);
        CHECK(ray.count(o) == 1);
    }
}

TEST_CASE("check_vllm_flag knows which version accepts which option") {
    CHECK(check_vllm_flag("--tensor-parallel-size", v("0.11.0")).support == flag_support::yes);
    CHECK(check_vllm_flag("--tensor_parallel_size=8", v("0.11.0")).support == flag_support::yes);
    CHECK(check_vllm_flag("-tp", v("0.11.0")).support == flag_support::yes);
    CHECK(check_vllm_flag("--compilation-config.level", v("0.11.0")).support == flag_support::yes);
    CHECK(check_vllm_flag("-O3", v("0.11.0")).support == flag_support::yes);
    CHECK(check_vllm_flag("--no-enable-prefix-caching", v("0.11.0")).support == flag_support::yes);
    CHECK(check_vllm_flag("8", v("0.11.0")).support == flag_support::yes);      // values are not options
    CHECK(check_vllm_flag("-1", v("0.11.0")).support == flag_support::yes);
    CHECK(check_vllm_flag("/models/x", v("0.11.0")).support == flag_support::yes);

    const auto nnodes = check_vllm_flag("--nnodes", v("0.11.0"));
    CHECK(nnodes.support == flag_support::no);
    CHECK_THAT(nnodes.detail, Catch::Matchers::Contains("first appeared in vLLM 0.11.1") && Catch::Matchers::Contains("PR #23691"));
    CHECK(check_vllm_flag("--nnodes", v("0.11.0.post2")).support == flag_support::no);
    CHECK(check_vllm_flag("--nnodes", v("0.11.1")).support == flag_support::yes);
    CHECK(check_vllm_flag("--master-port", v("0.11.1.post2")).support == flag_support::yes);
    CHECK(check_vllm_flag("--nnodes", v("0.20.0")).support == flag_support::yes);
    CHECK(check_vllm_flag("--headless", v("0.8.5")).support == flag_support::no);
    CHECK(check_vllm_flag("--headless", v("0.9.2")).support == flag_support::yes);
    CHECK(check_vllm_flag("--all2all-backend", v("0.11.0")).support == flag_support::no);

    const auto bogus = check_vllm_flag("--gpu-memory-utilisation", v("0.11.0"));
    CHECK(bogus.support == flag_support::no);
    CHECK_THAT(bogus.detail, Catch::Matchers::Contains("every option of every vLLM release from 0.11.0 to 0.34.0"));
    // The table holds every release from 0.11.0 to its newest: a flag it lacks is refused for any
    // of them (issue 14: version-exact), and only a release past the newest is unknown.
    CHECK(check_vllm_flag("--gpu-memory-utilisation", v("0.13.0")).support == flag_support::no);
    CHECK(check_vllm_flag("--gpu-memory-utilisation", v("0.34.2")).support == flag_support::no);
    const auto future = check_vllm_flag("--gpu-memory-utilisation", v("0.35.0"));
    CHECK(future.support == flag_support::unknown);
    CHECK_THAT(future.detail, Catch::Matchers::Contains("newer than the table"));
    CHECK(newest_catalogued_vllm_version() == v("0.34.0"));
    // The table read 0.20.2, not 0.20.0 (one patch per minor): an option first seen in 0.20.2 is
    // unknown for 0.20.0 (its parser takes --numa-bind, vllm_parser_judges_argv_0_20_0), but
    // refused for 0.19.1, a release the table did read.
    CHECK(check_vllm_flag("--numa-bind", v("0.20.0")).support == flag_support::unknown);
    CHECK(check_vllm_flag("--numa-bind", v("0.20.2")).support == flag_support::yes);
    CHECK(check_vllm_flag("--numa-bind", v("0.19.1")).support == flag_support::no);
    CHECK(oldest_catalogued_vllm_version() == v("0.11.0"));
    // A flag removed in a release: refused from that release on, the release named.
    const auto gone = check_vllm_flag("--disable-log-requests", v("0.17.1"));
    CHECK_THAT(gone.detail, Catch::Matchers::Contains("removed in vLLM 0.17.1"));
    CHECK(check_vllm_flag("--disable-log-requests", v("0.16.0")).support == flag_support::yes);
    CHECK(gone.support == flag_support::no);
    // Present in 0.11.0, history before it not catalogued: neither yes nor no for 0.9.
    CHECK(check_vllm_flag("--async-scheduling", v("0.9.0")).support == flag_support::unknown);
    CHECK(check_vllm_flag("--model", v("0.11.0")).support == flag_support::no);
    const auto task = check_vllm_flag("--task", v("0.11.0"));
    CHECK(task.support == flag_support::yes);
    CHECK_THAT(task.detail, Catch::Matchers::Contains("deprecated"));
}

TEST_CASE("the default inventory's commands: Ray head and worker, one vllm serve on the head") {
    const inventory inv = default_inventory();
    const launch_plan l = make_launch(inv, plan_for(inv));
    REQUIRE(l.nodes.size() == 2);
    CHECK(l.head == 0);
    CHECK(l.ray_address == "10.0.0.1:6379");
    CHECK(l.api_url == "http://10.0.0.1:8000");
    CHECK(l.health_url == "http://127.0.0.1:8000/health");
    CHECK(l.expected_nodes == 2);
    CHECK(l.expected_gpus == 16);
    CHECK(l.api_key);
    const auto& head = l.nodes[0];
    const auto& worker = l.nodes[1];
    CHECK(head.ray_start.front() == "ray");
    CHECK(has(head.ray_start, "--head"));
    CHECK(has(head.ray_start, "--dashboard-host=127.0.0.1"));
    CHECK(has(head.ray_start, "--node-ip-address=10.0.0.1"));
    CHECK(has(head.ray_start, "--num-gpus=8"));
    CHECK(head.ray_start.back() == "--block");
    CHECK(has(worker.ray_start, "--address=10.0.0.1:6379"));
    CHECK_FALSE(has(worker.ray_start, "--head"));
    CHECK(has(worker.ray_start, "--node-ip-address=10.0.0.2"));
    CHECK(worker.vllm_serve.empty());
    const auto& s = head.vllm_serve;
    REQUIRE(s.size() > 3);
    CHECK(s[0] == "vllm");
    CHECK(s[1] == "serve");
    CHECK(s[2] == "/data/models/DeepSeek-V3");
    CHECK(after(s, "--distributed-executor-backend") == "ray");  // explicit: required from 0.11.1
    CHECK(after(s, "--tensor-parallel-size") == "8");
    CHECK(after(s, "--pipeline-parallel-size") == "2");
    CHECK(after(s, "--gpu-memory-utilization") == "0.8");
    CHECK(after(s, "--max-model-len") == "65536");
    CHECK(after(s, "--served-model-name") == "deepseek-v3");
    CHECK(after(s, "--port") == "8000");
    CHECK_FALSE(has(s, "--api-key"));  // VLLM_API_KEY instead: never on a command line
    // VLLM_HOST_IP is the node's address, as Ray registers it.
    CHECK(std::count(head.env.begin(), head.env.end(), env_list::value_type{"VLLM_HOST_IP", "10.0.0.1"}) == 1);
    CHECK(std::count(worker.env.begin(), worker.env.end(), env_list::value_type{"VLLM_HOST_IP", "10.0.0.2"}) == 1);
    CHECK(command_line(head.ray_start).rfind("ray start --head --port=6379", 0) == 0);
    CHECK(l.warnings.empty());
}

TEST_CASE("the mp launcher needs vLLM >= 0.11.1 and gives every node its rank") {
    inventory inv = default_inventory();
    inv.runtime.launcher = launcher_kind::mp;
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "runtime.launcher",
                         "use launcher = \"ray\", or a vLLM >= 0.11.1");
    inv.runtime.vllm_version = "0.11.1";
    const launch_plan l = make_launch(inv, plan_for(inv));
    const auto& head = l.nodes[0].vllm_serve;
    const auto& worker = l.nodes[1].vllm_serve;
    CHECK(l.nodes[0].ray_start.empty());
    CHECK(after(head, "--distributed-executor-backend") == "mp");
    CHECK(after(head, "--nnodes") == "2");
    CHECK(after(head, "--node-rank") == "0");
    CHECK(after(worker, "--node-rank") == "1");
    CHECK(after(worker, "--master-addr") == "10.0.0.1");
    CHECK(after(worker, "--master-port") == "29501");
    CHECK(has(worker, "--headless"));
    CHECK_FALSE(has(head, "--headless"));
    CHECK_FALSE(has(worker, "--port"));
}

TEST_CASE("extra serve arguments are checked against the target version") {
    inventory inv = default_inventory();
    inv.serving.extra_args = {"--enforce-eager", "--max-num-seqs", "16"};
    auto l = make_launch(inv, plan_for(inv));
    CHECK(l.nodes[0].vllm_serve.back() == "16");
    inv.serving.extra_args = {"--enforce-eager", "--all2all-backend", "naive"};
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.extra_args[1]",
                         "set runtime.vllm_version to the vLLM you run");
    inv.serving.extra_args = {"--disable-log-requests"};
    l = make_launch(inv, plan_for(inv));
    REQUIRE(l.warnings.size() == 1);
    CHECK_THAT(l.warnings[0], Catch::Matchers::Contains("serving.extra_args[0]") && Catch::Matchers::Contains("deprecated"));
    inv.serving.extra_args = {"--some-future-flag"};
    inv.runtime.vllm_version = "0.13.0";  // in the table's range: refused, the release named
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.extra_args[0]",
                         "not a `vllm serve` option in vLLM 0.13.0");
    inv.runtime.vllm_version = "0.35.0";  // past the table: a warning
    inv.runtime.image = "vllm/vllm-openai:v0.35.0";
    l = make_launch(inv, plan_for(inv));
    CHECK(std::any_of(l.warnings.begin(), l.warnings.end(), [](const std::string& w) { return w.find("may or may not accept it") != std::string::npos; }));
    inv.runtime.vllm_version = "0.18.1";  // removed in 0.17.1: an error naming that release
    inv.runtime.image = "vllm/vllm-openai:v0.18.1";
    inv.serving.extra_args = {"--disable-log-requests"};
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.extra_args[0]",
                         "removed in vLLM 0.17.1");
    inv.serving.extra_args = {"--some-future-flag"};
    inv.runtime.vllm_version = "0.8.0";
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_version, "runtime.vllm_version", "older than 0.8.5");
}

TEST_CASE("launcher ray in an official vLLM image of 0.18 or later is refused: those images have no Ray (issue 14)") {
    inventory inv = default_inventory();
    inv.runtime.kind = runtime_kind::docker;
    inv.runtime.launcher = launcher_kind::ray;
    inv.runtime.vllm_version = "0.33.0";
    inv.runtime.image = "vllm/vllm-openai:v0.33.0";
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_version, "runtime.launcher", "has no Ray");
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_version, "runtime.launcher", "dropped it in 0.18.0");
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_version, "runtime.launcher", "launcher = \"mp\"");
    inv.runtime.image = "docker.io/vllm/vllm-openai@sha256:" + std::string(64, 'a');
    inv.runtime.vllm_version = "0.18.0";
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_version, "runtime.launcher", "has no Ray");
    // The last release that shipped Ray, an image that installs it, vLLM's own launcher: accepted.
    inv.runtime.vllm_version = "0.17.1";
    inv.runtime.image = "vllm/vllm-openai:v0.17.1";
    CHECK_NOTHROW(make_launch(inv, plan_for(inv)));
    inv.runtime.vllm_version = "0.33.0";
    inv.runtime.image = "registry.example.com/vllm/vllm-openai-ray:v0.33.0";
    CHECK_NOTHROW(make_launch(inv, plan_for(inv)));
    inv.runtime.image = "vllm/vllm-openai:v0.33.0";
    inv.runtime.launcher = launcher_kind::mp;
    CHECK_NOTHROW(make_launch(inv, plan_for(inv)));
}

TEST_CASE("data parallelism across nodes uses Ray's DP backend, EP and FP8 KV cache pass through") {
    inventory inv = default_inventory();
    inv.serving.model = "deepseek-ai/DeepSeek-R1";
    inv.serving.tensor_parallel_size = 4;
    inv.serving.pipeline_parallel_size = 2;
    inv.serving.data_parallel_size = 2;
    inv.serving.enable_expert_parallel = true;
    inv.serving.kv_cache_dtype = dtype::fp8;
    const launch_plan l = make_launch(inv, plan_for(inv));
    const auto& s = l.nodes[0].vllm_serve;
    CHECK(after(s, "--data-parallel-size") == "2");
    CHECK(after(s, "--data-parallel-backend") == "ray");
    CHECK(has(s, "--enable-expert-parallel"));
    CHECK(after(s, "--kv-cache-dtype") == "fp8");
    CHECK(l.expected_gpus == 16);
}

TEST_CASE("security warnings: an exposed dashboard, an open API without key, CPU clusters over Ray") {
    inventory inv = default_inventory();
    inv.api.expose_dashboard = true;
    inv.api.auth = false;
    const launch_plan l = make_launch(inv, plan_for(inv));
    CHECK(has(l.nodes[0].ray_start, "--dashboard-host=0.0.0.0"));
    REQUIRE(l.warnings.size() == 2);
    CHECK_THAT(l.warnings[0], Catch::Matchers::Contains("run any code"));
    CHECK_THAT(l.warnings[1], Catch::Matchers::Contains("without an API key"));
    CHECK_FALSE(l.api_key);
    inv.api.host = "127.0.0.1";
    inv.api.expose_dashboard = false;
    CHECK(make_launch(inv, plan_for(inv)).warnings.empty());

    inventory cpu = default_inventory();
    for (auto& n : cpu.cluster.nodes) {
        n.gpu_type.clear();
        n.gpu_count = 0;
    }
    cpu.serving.tensor_parallel_size.reset();
    cpu.serving.pipeline_parallel_size.reset();
    cpu.runtime.kind = runtime_kind::process;
    cpu.runtime.num_cpus = 4;
    const launch_plan c = make_launch(cpu, plan_for(cpu));
    CHECK(c.expected_gpus == 0);
    CHECK(has(c.nodes[1].ray_start, "--num-gpus=0"));
    CHECK(has(c.nodes[1].ray_start, "--num-cpus=4"));
    CHECK(after(c.nodes[0].vllm_serve, "--tensor-parallel-size") == "1");
    CHECK(after(c.nodes[0].vllm_serve, "--pipeline-parallel-size") == "2");
    REQUIRE(c.warnings.size() == 2);
    CHECK_THAT(c.warnings[0], Catch::Matchers::Contains("VLLM_CPU_KVCACHE_SPACE is not set"));
    CHECK_THAT(c.warnings[1], Catch::Matchers::Contains("current platform cpu does not support ray"));
    // Still true in 0.20 (FINDINGS.md: ValueError in ray_utils.py), so the warning stays for newer versions.
    cpu.runtime.vllm_version = "0.20.0";
    cpu.runtime.launcher = launcher_kind::ray;  // auto would pick mp for 0.20
    cpu.serving.env = {{"VLLM_CPU_KVCACHE_SPACE", "1"}};
    const launch_plan c20 = make_launch(cpu, plan_for(cpu));
    REQUIRE(c20.warnings.size() == 1);
    CHECK_THAT(c20.warnings[0], Catch::Matchers::StartsWith("runtime.launcher:") && Catch::Matchers::Contains("launcher \"mp\" with vLLM >= 0.13.0"));
}

namespace {
// The e2e test's cluster: two CPU-only hosts, process runtime, vLLM's own multi-node launcher.
inventory cpu_mp_inventory(const std::string& version) {
    inventory inv = default_inventory();
    for (auto& n : inv.cluster.nodes) {
        n.gpu_type.clear();
        n.gpu_count = 0;
    }
    inv.serving.tensor_parallel_size = 1;
    inv.serving.pipeline_parallel_size = 2;
    inv.serving.env = {{"VLLM_CPU_KVCACHE_SPACE", "1"}};
    inv.runtime.kind = runtime_kind::process;
    inv.runtime.launcher = launcher_kind::mp;
    inv.runtime.vllm_version = version;
    return inv;
}
}  // namespace

TEST_CASE("CPU-only clusters with the mp launcher - the vLLM that runs it and thread binding and KV cache size") {
    // 0.20 binds each node's workers by itself (VLLM_CPU_OMP_THREADS_BIND=auto: local rank i on
    // NUMA node i), so nothing per node is rendered and nothing is warned about.
    inventory inv = cpu_mp_inventory("0.20.0");
    launch_plan l = make_launch(inv, plan_for(inv));
    CHECK(l.warnings.empty());
    for (const auto& n : l.nodes)
        for (const auto& kv : n.env) CHECK(kv.first != "VLLM_CPU_OMP_THREADS_BIND");

    // 0.11.1-0.12.x accept the flags, but their CPU workers die at start.
    inv = cpu_mp_inventory("0.12.0");
    l = make_launch(inv, plan_for(inv));
    REQUIRE(l.warnings.size() == 1);
    CHECK_THAT(l.warnings[0], Catch::Matchers::StartsWith("runtime.vllm_version:") && Catch::Matchers::Contains("use vLLM >= 0.13.0") &&
                                  Catch::Matchers::Contains("ZeroDivisionError"));

    // 0.13-0.19 index the binding list by the global rank: the same list on every node.
    inv = cpu_mp_inventory("0.19.1");
    l = make_launch(inv, plan_for(inv));
    REQUIRE(l.warnings.size() == 1);
    CHECK_THAT(l.warnings[0], Catch::Matchers::StartsWith("serving.env:") && Catch::Matchers::Contains("VLLM_CPU_OMP_THREADS_BIND") &&
                                  Catch::Matchers::Contains("0|1"));
    inv.serving.env.emplace_back("VLLM_CPU_OMP_THREADS_BIND", "0|1");
    l = make_launch(inv, plan_for(inv));
    CHECK(l.warnings.empty());
    CHECK(std::count(l.nodes[1].env.begin(), l.nodes[1].env.end(), env_list::value_type{"VLLM_CPU_OMP_THREADS_BIND", "0|1"}) == 1);

    // Without an explicit KV cache size vLLM's CPU backend claims gpu_memory_utilization of the host.
    inv = cpu_mp_inventory("0.20.0");
    inv.serving.env.clear();
    inv.serving.gpu_memory_utilization = 0.85;
    l = make_launch(inv, plan_for(inv));
    REQUIRE(l.warnings.size() == 1);
    CHECK_THAT(l.warnings[0], Catch::Matchers::Contains("VLLM_CPU_KVCACHE_SPACE is not set") && Catch::Matchers::Contains("(0.85)"));
    inv.serving.extra_args = {"--kv-cache-memory-bytes", "1073741824"};
    CHECK(make_launch(inv, plan_for(inv)).warnings.empty());

    // --enforce-eager with PP on CPU: from 0.27.0 the first request kills the engine (PR #50547).
    inv = cpu_mp_inventory("0.32.0");
    inv.serving.extra_args = {"--dtype", "bfloat16", "--enforce-eager"};
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.extra_args[2]", "PR #50547");
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.extra_args[2]", "vLLM 0.32.0");
    inv.runtime.vllm_version = "0.27.0";
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.extra_args[2]", "remove --enforce-eager");
    inv.runtime.vllm_version = "0.26.0";  // before the change: eager PP runs (0.20.0 in the e2e)
    CHECK(make_launch(inv, plan_for(inv)).warnings.empty());
    inv.runtime.vllm_version = "0.32.0";
    inv.serving.pipeline_parallel_size = 1;  // one stage: nothing to allocate
    inv.serving.tensor_parallel_size = 2;
    CHECK_NOTHROW(make_launch(inv, plan_for(inv)));
}

TEST_CASE("process runtime: GPU subsets become CUDA_VISIBLE_DEVICES, layer partitions VLLM_PP_LAYER_PARTITION") {
    inventory inv = default_inventory();
    inv.runtime.kind = runtime_kind::process;
    for (auto& n : inv.cluster.nodes) {
        n.gpu_count = 0;
        n.gpu_ids = {4, 5, 6, 7};
    }
    inv.serving.model = "meta-llama/Llama-3.1-70B-Instruct";
    inv.serving.tensor_parallel_size = 4;
    inv.serving.pp_layer_partition = {40, 40};
    const launch_plan l = make_launch(inv, plan_for(inv));
    const auto& env = l.nodes[1].env;
    CHECK(std::count(env.begin(), env.end(), env_list::value_type{"CUDA_VISIBLE_DEVICES", "4,5,6,7"}) == 1);
    CHECK(std::count(env.begin(), env.end(), env_list::value_type{"VLLM_PP_LAYER_PARTITION", "40,40"}) == 1);
    CHECK(has(l.nodes[1].ray_start, "--num-gpus=4"));
}

TEST_CASE("shell quoting: bash reads every hostile word back unchanged") {
    const std::vector<std::string> words = {"plain", "two words", "it's", "$(touch PWNED)", "`id`", "a;b|c&d", "new\nline", "", "=x", "~root",
                                            "*", "\"q\"", "\\", "tab\there", "--flag=$HOME", "ünïcödé"};
    std::string script = "printf '%s\\0'";
    for (const auto& w : words) script += " " + dsdeploy::detail::shell::quote(w);
    const std::string out = run_bash(script);
    std::vector<std::string> back;
    std::size_t start = 0;
    for (std::size_t i = 0; i < out.size(); ++i)
        if (out[i] == '\0') {
            back.push_back(out.substr(start, i - start));
            start = i + 1;
        }
    CHECK(back == words);
    CHECK(dsdeploy::detail::shell::quote("--port=8000") == "--port=8000");
    CHECK(dsdeploy::detail::shell::quote("a b") == "'a b'");
    CHECK(dsdeploy::detail::shell::quote("it's") == "'it'\\''s'");
}

TEST_CASE("each node gets the scripts its role and launcher need") {
    auto names = [](const std::vector<script>& s) {
        std::vector<std::string> n;
        for (const auto& x : s) n.push_back(x.name);
        return n;
    };
    inventory inv = default_inventory();
    launch_plan l = make_launch(inv, plan_for(inv));
    CHECK(names(node_scripts(inv, l, 0, {"ray-head", "p"})) ==
          std::vector<std::string>{"start.sh", "stop.sh", "wait-cluster.sh", "serve.sh", "smoke.sh"});
    CHECK(names(node_scripts(inv, l, 1, {"ray-worker", "p"})) == std::vector<std::string>{"start.sh", "stop.sh"});
    inv.runtime.launcher = launcher_kind::mp;
    inv.runtime.vllm_version = "0.12.1";
    l = make_launch(inv, plan_for(inv));
    CHECK(names(node_scripts(inv, l, 0, {"vllm", "p"})) == std::vector<std::string>{"start.sh", "stop.sh", "smoke.sh"});

    // The process runtime never runs `ray stop`, and marks what it starts.
    inv = default_inventory();
    inv.runtime.kind = runtime_kind::process;
    l = make_launch(inv, plan_for(inv));
    for (std::size_t i = 0; i < 2; ++i)
        for (const auto& s : node_scripts(inv, l, i)) {
            INFO(s.name);
            CHECK(s.text.find("ray stop") == std::string::npos);
            CHECK(s.text.rfind("#!/usr/bin/env bash\n", 0) == 0);
            CHECK(s.text.find("set -euo pipefail") != std::string::npos);
            if (s.name == "start.sh") {
                CHECK(s.text.find("export DSDEPLOY_NODE_DIR=\"$here\"") != std::string::npos);
                CHECK(s.text.find("--temp-dir=\"$ray_tmp\"") != std::string::npos);
                CHECK(s.text.find(dsdeploy::detail::shell::join_lines({l.nodes[i].ray_start.begin() + 1, l.nodes[i].ray_start.end() - 1},
                                                                      "        ")) != std::string::npos);
            }
        }
}

TEST_CASE("IPv6 head: vllm serve listens on :: (not 0.0.0.0) and the URLs bracket the address") {
    inventory inv = default_inventory();
    inv.cluster.nodes[0].address = "fd00::1";
    inv.cluster.nodes[1].address = "fd00::2";
    for (launcher_kind launcher : {launcher_kind::ray, launcher_kind::mp}) {
        inv.runtime.launcher = launcher;
        inv.runtime.vllm_version = launcher == launcher_kind::mp ? "0.11.1" : "0.11.0";
        const launch_plan l = make_launch(inv, plan_for(inv));
        const auto& head = l.nodes[l.head];
        CHECK(l.listen_host == "::");
        CHECK(after(head.vllm_serve, "--host") == "::");  // bare: vLLM's create_server_socket needs ipaddress.IPv6Address
        CHECK(l.api_url == "http://[fd00::1]:8000");
        CHECK(l.health_url == "http://[::1]:8000/health");
        for (const auto& w : l.warnings) CHECK(w.find("api.host") == std::string::npos);
    }
    // Bracketed in the inventory: the same, without double brackets.
    inv.runtime.launcher = launcher_kind::ray;
    inv.runtime.vllm_version = "0.11.0";
    inv.cluster.nodes[0].address = "[fd00::1]";
    CHECK(make_launch(inv, plan_for(inv)).api_url == "http://[fd00::1]:8000");
    inv.api.host = "[::]";
    CHECK(after(make_launch(inv, plan_for(inv)).nodes[0].vllm_serve, "--host") == "::");
    // An IPv4 head keeps 0.0.0.0.
    const inventory v4 = default_inventory();
    const launch_plan l4 = make_launch(v4, plan_for(v4));
    CHECK(after(l4.nodes[l4.head].vllm_serve, "--host") == "0.0.0.0");
    CHECK(l4.health_url == "http://127.0.0.1:8000/health");
}

TEST_CASE("api.host that cannot serve the head's address family is a loud warning") {
    inventory inv = default_inventory();
    inv.cluster.nodes[0].address = "fd00::1";
    inv.cluster.nodes[1].address = "fd00::2";
    inv.api.host = "10.0.0.1";  // IPv4 only, IPv6 head
    auto warned = [](const launch_plan& l, const std::string& fragment) {
        return std::any_of(l.warnings.begin(), l.warnings.end(),
                           [&](const std::string& w) { return w.rfind("api.host: WARNING", 0) == 0 && w.find(fragment) != std::string::npos; });
    };
    launch_plan l = make_launch(inv, plan_for(inv));
    CHECK(after(l.nodes[l.head].vllm_serve, "--host") == "10.0.0.1");
    CHECK(warned(l, "listen on 10.0.0.1 (IPv4 only), but the head's address fd00::1 is IPv6"));
    CHECK(warned(l, "set api.host to \"::\""));
    // ... and vice versa.
    inventory v4 = default_inventory();
    v4.api.host = "fd00::7";
    l = make_launch(v4, plan_for(v4));
    CHECK(warned(l, "listen on fd00::7 (IPv6 only), but the head's address 10.0.0.1 is IPv4"));
    v4.api.host = "::";
    l = make_launch(v4, plan_for(v4));
    CHECK(warned(l, "IPv4-mapped"));
    // A matching family is quiet.
    v4.api.host = "10.0.0.1";
    l = make_launch(v4, plan_for(v4));
    CHECK(std::none_of(l.warnings.begin(), l.warnings.end(), [](const std::string& w) { return w.rfind("api.host", 0) == 0; }));
}

TEST_CASE("runtime.vllm_version must be a version and runtime.image an image reference") {
    inventory inv = default_inventory();
    for (const char* bad : {"0.11.0;touch x", "0.11.0 && reboot", "${VLLM_VERSION}", "0.11.0\nline2", "latest", "0.11.0-dirty x"}) {
        inv.runtime.vllm_version = bad;
        CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_version, "runtime.vllm_version", "is not a version");
    }
    inv.runtime.vllm_version = std::string(1 << 20, '1');
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::inventory_field, "runtime.vllm_version", "(1048576 bytes) is too long");
    CHECK_DSDEPLOY_ERROR(parse_engine_version(std::string(1 << 20, '1')), errc::launch_version, "runtime.vllm_version",
                         "\"1111111111111111111111111111111111111111\xE2\x80\xA6\" (1048576 bytes) is not a version");
    // (an image of the operator's own: the official one has no Ray from 0.18, and launcher is ray)
    inv.runtime.image = "registry.example:5000/ml/vllm-openai:custom";
    for (const char* good : {"0.11.0", "0.11.0.post2", "0.20.0rc1", "0.11.0+cpu", "v0.12.0+cu128"}) {
        inv.runtime.vllm_version = good;
        CHECK_NOTHROW(make_launch(inv, plan_for(inv)));
    }
    inv.runtime.vllm_version = "0.11.0";
    for (const char* bad : {"repo/img:${TAG}", "vllm/vllm-openai:v0.11.0;touch x", "vllm/VLLM-openai", "vllm/vllm-openai:v0.11.0\nx"}) {
        inv.runtime.image = bad;
        CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::inventory_field, "runtime.image", "is not an image reference");
    }
    inv.runtime.image = "registry.example:5000/ml/vllm-openai:v0.11.0";
    CHECK_NOTHROW(make_launch(inv, plan_for(inv)));
}

TEST_CASE("free-text fields have length limits and errors echo a short prefix with the length") {
    inventory inv = default_inventory();
    inv.serving.served_model_name = std::string(1 << 20, 'a');
    try {
        (void)make_launch(inv, plan_for(inv));
        FAIL("a 1 MB served_model_name was accepted");
    } catch (const error& e) {
        CHECK(e.code() == errc::inventory_field);
        CHECK(e.field() == "serving.served_model_name");
        CHECK(std::string(e.what()).size() < 400);
        CHECK_THAT(std::string(e.what()), Catch::Matchers::Contains("(1048576 bytes) is too long; serving.served_model_name holds at most 256 bytes"));
    }
    inv = default_inventory();
    inv.serving.model_path = "/models/" + std::string(5000, 'x');
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::inventory_field, "serving.model_path", "holds at most 4095 bytes");
    inv = default_inventory();
    inv.serving.extra_args = {"--chat-template", std::string(200000, 'y')};
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::inventory_field, "serving.extra_args[1]", "holds at most 4096 bytes");
}

namespace {
// DeepSeek-V3 as DP 16 x EP over two nodes of 8 x H200, vLLM 0.33 (upstream's wide-EP recipe shape).
inventory dp_ep_inventory() {
    inventory inv = default_inventory();
    inv.runtime.image = "vllm/vllm-openai:v0.33.0";
    inv.runtime.vllm_version = "0.33.0";
    for (auto& n : inv.cluster.nodes) n.gpu_type = "H200";
    inv.serving.tensor_parallel_size = 1;
    inv.serving.pipeline_parallel_size = 1;
    inv.serving.data_parallel_size = 16;
    inv.serving.enable_expert_parallel = true;
    inv.serving.max_model_len = 8192;
    return inv;
}
}  // namespace

TEST_CASE("launcher auto: mp from vLLM 0.11.1, Ray before, and the reason kept") {
    inventory inv = default_inventory();
    REQUIRE(inv.runtime.launcher == launcher_kind::automatic);
    CHECK(effective_launcher(inv).kind == launcher_kind::ray);  // 0.11.0: no multi-node without Ray yet
    CHECK_THAT(effective_launcher(inv).why, Catch::Matchers::Contains("predates multi-node without Ray"));
    CHECK(make_launch(inv, plan_for(inv)).launcher == launcher_kind::ray);
    inv.runtime.vllm_version = "0.11.1";
    const launch_plan l = make_launch(inv, plan_for(inv));
    CHECK(l.launcher == launcher_kind::mp);
    CHECK_THAT(l.launcher_why, Catch::Matchers::StartsWith("auto:") && Catch::Matchers::Contains("#23691"));
    CHECK(after(l.nodes[1].vllm_serve, "--nnodes") == "2");
    CHECK(l.head_port == inv.ports.master);
    inv.runtime.launcher = launcher_kind::ray;  // an explicit choice wins
    CHECK(effective_launcher(inv).kind == launcher_kind::ray);
    CHECK(effective_launcher(inv).why == "runtime.launcher = \"ray\"");
    CHECK(parse_launcher_kind("auto") == launcher_kind::automatic);
    CHECK(to_string(launcher_kind::automatic) == "auto");
}

TEST_CASE("data parallel x expert parallel across nodes with vLLM's own launcher: internal load balancing") {
    inventory inv = dp_ep_inventory();
    inv.serving.api_server_count = 4;
    const launch_plan l = make_launch(inv, plan_for(inv));
    REQUIRE(l.launcher == launcher_kind::mp);
    const auto& head = l.nodes[0].vllm_serve;
    const auto& worker = l.nodes[1].vllm_serve;
    for (const auto* argv : {&head, &worker}) {
        CHECK(after(*argv, "--data-parallel-size") == "16");
        CHECK(after(*argv, "--data-parallel-size-local") == "8");
        CHECK(after(*argv, "--data-parallel-address") == "10.0.0.1");
        CHECK(after(*argv, "--data-parallel-rpc-port") == "13345");
        CHECK(after(*argv, "--tensor-parallel-size") == "1");
        CHECK(has(*argv, "--enable-expert-parallel"));
        CHECK_FALSE(has(*argv, "--nnodes"));  // each replica lives inside its node
        CHECK_FALSE(has(*argv, "--data-parallel-backend"));
        CHECK_FALSE(has(*argv, "--data-parallel-hybrid-lb"));
    }
    CHECK_FALSE(has(head, "--data-parallel-start-rank"));
    CHECK(after(worker, "--data-parallel-start-rank") == "8");
    CHECK(has(worker, "--headless"));
    CHECK_FALSE(has(worker, "--port"));
    CHECK(after(head, "--port") == "8000");
    CHECK(after(head, "--api-server-count") == "4");
    CHECK(l.head_port == inv.ports.dp_rpc);  // workers wait for the DP coordinator
    bool dp_rpc = false, master = false;
    for (const auto& u : node_ports(inv, 0)) {
        dp_rpc = dp_rpc || u.field == "ports.dp_rpc";
        master = master || u.field == "ports.master";
    }
    CHECK(dp_rpc);
    CHECK_FALSE(master);
    // The workers' start.sh waits for the head's DP coordinator port.
    bool waits = false;
    for (const auto& s : node_scripts(inv, l, 1))
        if (s.name == "start.sh") waits = s.text.find("13345") != std::string::npos;
    CHECK(waits);
}

TEST_CASE("data parallel across nodes: hybrid load balancing serves on every node") {
    inventory inv = dp_ep_inventory();
    inv.serving.data_parallel_lb = dp_load_balancing::hybrid;
    const launch_plan l = make_launch(inv, plan_for(inv));
    CHECK(l.hybrid_lb);
    for (const auto& n : l.nodes) {
        CHECK(has(n.vllm_serve, "--data-parallel-hybrid-lb"));
        CHECK(after(n.vllm_serve, "--port") == "8000");
        CHECK_FALSE(has(n.vllm_serve, "--headless"));
    }
    CHECK(std::any_of(l.warnings.begin(), l.warnings.end(), [](const std::string& w) {
        return w.find("load balancer") != std::string::npos && w.find("http://10.0.0.2:8000") != std::string::npos;
    }));
    bool api_on_worker = false;
    for (const auto& u : node_ports(inv, 1)) api_on_worker = api_on_worker || u.field == "ports.api";
    CHECK(api_on_worker);
    // hybrid needs DP and vLLM's own launcher
    inv.serving.data_parallel_size = 1;
    inv.serving.tensor_parallel_size = 8;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.data_parallel_lb", "use \"internal\"");
}

TEST_CASE("data parallel across nodes: layouts the nodes cannot run are refused with what would work") {
    inventory inv = dp_ep_inventory();
    inv.serving.data_parallel_size = 15;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.data_parallel_size", "use a multiple of 2");
    inv.serving.data_parallel_size = 4;
    inv.serving.tensor_parallel_size = 1;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.data_parallel_size", "use data_parallel_size = 16");
    inv.serving.data_parallel_size = 8;
    inv.serving.pipeline_parallel_size = 2;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.pipeline_parallel_size", "use pipeline_parallel_size = 1");
    // With Ray, DP keeps Ray's DP backend across nodes.
    inventory ray = dp_ep_inventory();
    ray.runtime.launcher = launcher_kind::ray;
    ray.runtime.image = "registry.example/vllm-with-ray:0.33.0";
    const launch_plan r = make_launch(ray, plan_for(ray));
    CHECK(after(r.nodes[0].vllm_serve, "--data-parallel-backend") == "ray");
    CHECK_FALSE(has(r.nodes[0].vllm_serve, "--data-parallel-size-local"));
}

TEST_CASE("EPLB: redundant experts are flags for the version and weights in the plan") {
    inventory inv = dp_ep_inventory();
    const plan base = plan_for(inv);
    inv.serving.num_redundant_experts = 32;
    const plan with = plan_for(inv);
    const launch_plan l = make_launch(inv, with);
    CHECK(has(l.nodes[0].vllm_serve, "--enable-eplb"));
    CHECK(after(l.nodes[0].vllm_serve, "--eplb-config") == "{\"num_redundant_experts\":32}");
    // Each of the 58 MoE layers holds 32 more experts of 3 fp8 matrices (7168 x 2048, block-128
    // scales), split over the 16 EP ranks.
    const auto& m = with.model;
    const int moe_layers = m.num_layers - m.first_dense_layers;
    const double per_expert = 3.0 * (7168.0 * 2048.0 + (7168.0 / 128) * (2048.0 / 128) * 4.0);
    const double extra_gib = moe_layers * 32 * per_expert / 16 / gib;
    CHECK(with.memory.stages[0].weights_gib - base.memory.stages[0].weights_gib == Approx(extra_gib).epsilon(0.01));
    CHECK(with.memory.kv_tokens < base.memory.kv_tokens);
    inv.serving.enable_expert_parallel = false;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.num_redundant_experts", "enable_expert_parallel = true");
    inv.serving.enable_expert_parallel = true;
    inv.serving.num_redundant_experts = -1;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.num_redundant_experts", "is not a count");
}

TEST_CASE("the plan says which layout upstream recommends for the model and the fabric, and why") {
    inventory inv = default_inventory();  // DeepSeek-V3, 2 x 8 L20, InfiniBand, TP 8 x PP 2
    // On 48 GB L20s DP + EP does not fit (every GPU would hold the attention weights and 1/16 of
    // the experts, more than its budget): TP x PP, and the reason said.
    const std::string ib = make_launch(inv, plan_for(inv)).layout_advice;
    CHECK_THAT(ib, Catch::Matchers::Contains("TP inside each node x PP across the nodes") &&
                       Catch::Matchers::Contains("DP + EP (upstream's choice for MoE over RDMA) does not fit") &&
                       Catch::Matchers::Contains("(that layout)"));
    inventory h200 = default_inventory();  // the same on 2 x 8 H200: DP + EP fits, and is upstream's choice
    for (auto& n : h200.cluster.nodes) n.gpu_type = "H200";
    const std::string big = make_launch(h200, plan_for(h200)).layout_advice;
    CHECK_THAT(big, Catch::Matchers::Contains("DP + EP across the nodes (TP 1 x DP 16 with EP") && Catch::Matchers::Contains("multi_node_dep") &&
                        Catch::Matchers::Contains("TP 8 x PP 2 x DP 1 (another layout)"));
    inv.network.kind = fabric::tcp;
    inv.network.hcas.clear();
    const std::string tcp = make_launch(inv, plan_for(inv)).layout_advice;
    CHECK_THAT(tcp, Catch::Matchers::Contains("TP inside each node x PP across the nodes") && Catch::Matchers::Contains("tp_pp") &&
                        Catch::Matchers::Contains("(that layout)"));
    inventory dp = dp_ep_inventory();  // DP 16 x EP over InfiniBand: the recommended one
    CHECK_THAT(make_launch(dp, plan_for(dp)).layout_advice, Catch::Matchers::EndsWith("TP 1 x PP 1 x DP 16 with EP (that layout)"));
}

namespace {
// DeepSeek-V3 on 2 x 8 H200 with SGLang 0.5.23 (its DeepSeek recipe's shape, here TP 8 x PP 2).
inventory sglang_inventory() {
    inventory inv = default_inventory();
    inv.serving.engine = engine_kind::sglang;
    inv.runtime.sglang_version = "0.5.23";
    inv.runtime.image = "lmsysorg/sglang:v0.5.23";
    for (auto& n : inv.cluster.nodes) n.gpu_type = "H200";
    inv.serving.max_model_len = 32768;
    inv.serving.mem_fraction_static = 0.85;
    return inv;
}
}  // namespace

TEST_CASE("SGLang: every node runs sglang.launch_server with its rank and the head's rendezvous, no Ray") {
    const inventory inv = sglang_inventory();
    const launch_plan l = make_launch(inv, plan_for(inv));
    CHECK(l.engine == engine_kind::sglang);
    CHECK(l.version.text == "0.5.23");
    CHECK(l.launcher == launcher_kind::mp);
    CHECK_THAT(l.launcher_why, Catch::Matchers::Contains("--dist-init-addr") && Catch::Matchers::Contains("no Ray"));
    CHECK(l.head_port == inv.ports.master);
    REQUIRE(l.nodes.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& argv = l.nodes[i].vllm_serve;
        CHECK(l.nodes[i].ray_start.empty());
        CHECK(std::vector<std::string>(argv.begin(), argv.begin() + 3) == std::vector<std::string>{"python3", "-m", "sglang.launch_server"});
        CHECK(after(argv, "--model-path") == l.model_path);
        CHECK(after(argv, "--served-model-name") == "deepseek-v3");
        CHECK(after(argv, "--tp-size") == "8");
        CHECK(after(argv, "--pp-size") == "2");
        CHECK(after(argv, "--nnodes") == "2");
        CHECK(after(argv, "--node-rank") == std::to_string(i));
        CHECK(after(argv, "--dist-init-addr") == "10.0.0.1:29501");
        CHECK(after(argv, "--mem-fraction-static") == "0.85");
        CHECK(after(argv, "--context-length") == "32768");
        CHECK(after(argv, "--port") == "8000");
        CHECK_FALSE(has(argv, "--api-key"));  // never in the argv: the scripts add it from .env
        CHECK_FALSE(has(argv, "--headless"));
        CHECK_FALSE(has(argv, "--gpu-memory-utilization"));
    }
    // The key warning, and the ports: the rendezvous and the API on the head, no Ray.
    CHECK(std::any_of(l.warnings.begin(), l.warnings.end(), [](const std::string& w) { return w.find("--api-key") != std::string::npos; }));
    std::set<std::string> fields;
    for (const auto& u : node_ports(inv, 0)) fields.insert(u.field);
    CHECK(fields == std::set<std::string>{"ports.master", "ports.api"});
    REQUIRE(node_ports(inv, 1).size() == 1);  // the other ranks' health endpoint
    CHECK(node_ports(inv, 1)[0].field == "ports.api");
}

TEST_CASE("SGLang: expert parallelism, EPLB and an IPv6 head") {
    inventory inv = sglang_inventory();
    inv.serving.enable_expert_parallel = true;
    inv.serving.num_redundant_experts = 32;
    inv.cluster.nodes[0].address = "fd00::1";
    inv.cluster.nodes[1].address = "fd00::2";
    const launch_plan l = make_launch(inv, plan_for(inv));
    const auto& argv = l.nodes[1].vllm_serve;
    CHECK(after(argv, "--ep-size") == "8");
    CHECK(has(argv, "--enable-eplb"));
    CHECK(after(argv, "--ep-num-redundant-experts") == "32");
    CHECK(after(argv, "--dist-init-addr") == "[fd00::1]:29501");
    CHECK(after(argv, "--host") == "::");
    inv.serving.kv_cache_dtype = dtype::fp8;  // SGLang spells vLLM's fp8 (e4m3 on CUDA) fp8_e4m3
    CHECK(after(make_launch(inv, plan_for(inv)).nodes[0].vllm_serve, "--kv-cache-dtype") == "fp8_e4m3");
    inv.serving.kv_cache_dtype = dtype::fp16;
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.kv_cache_dtype", "\"fp8\"");
}

TEST_CASE("SGLang: flags are checked against runtime.sglang_version, naming the release") {
    CHECK(check_sglang_flag("--dist-init-addr", parse_engine_version("0.5.23")).support == flag_support::yes);
    CHECK(check_sglang_flag("--nccl-init-addr", parse_engine_version("0.5.23")).support == flag_support::yes);  // its old spelling
    CHECK(check_sglang_flag("16", parse_engine_version("0.5.23")).support == flag_support::yes);  // a value
    const auto options = sglang_options_at(parse_engine_version("0.5.23"));
    CHECK(std::binary_search(options.begin(), options.end(), "--mem-fraction-static"));
    CHECK(oldest_catalogued_sglang_version().text == "0.4.10.post2");
    CHECK(newest_catalogued_sglang_version().text == "0.5.23");

    inventory inv = sglang_inventory();
    inv.serving.extra_args = {"--cuda-graph-max-bs", "8"};  // removed in 0.5.20
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.extra_args[0]",
                         "was removed in SGLang 0.5.20; SGLang 0.5.23 rejects it");
    inv.runtime.sglang_version = "0.5.19";
    CHECK(after(make_launch(inv, plan_for(inv)).nodes[0].vllm_serve, "--cuda-graph-max-bs") == "8");
    inv.serving.extra_args = {"--enable-kv-cache-sharding"};  // first in 0.5.22
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.extra_args[0]",
                         "first appeared in SGLang 0.5.22");
    inv.serving.extra_args = {"--gpu-memory-utilization", "0.9"};  // vLLM's, not SGLang's
    CHECK_DSDEPLOY_ERROR(make_launch(inv, plan_for(inv)), errc::launch_flag_unsupported, "serving.extra_args[0]",
                         "is not a SGLang server (`sglang.launch_server`) option in SGLang 0.5.19");
    inv.runtime.sglang_version = "0.5.23";
    inv.serving.extra_args = {"--disable-cuda-graph"};  // deprecated in 0.5.14: accepted, with a warning
    const launch_plan l = make_launch(inv, plan_for(inv));
    CHECK(std::any_of(l.warnings.begin(), l.warnings.end(),
                      [](const std::string& w) { return w.find("serving.extra_args[0]: --disable-cuda-graph is deprecated") == 0; }));
    inv.runtime.sglang_version = "0.6.0";  // past the table: an unknown option is a warning, not an error
    inv.serving.extra_args = {"--brand-new-option"};
    const launch_plan future = make_launch(inv, plan_for(inv));
    CHECK(std::any_of(future.warnings.begin(), future.warnings.end(),
                      [](const std::string& w) { return w.find("may or may not accept it") != std::string::npos; }));
}

TEST_CASE("SGLang: what dsdeploy does not render for SGLang is refused with the field and what works") {
    inventory inv = sglang_inventory();
    inv.runtime.sglang_version.clear();
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "runtime.sglang_version", "\"0.5.23\"");
    inv.runtime.sglang_version = "0.3.0";
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::launch_version, "runtime.sglang_version", "older than 0.4.10");
    inv.runtime.sglang_version = "latest";
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::launch_version, "runtime.sglang_version", "is not a version");
    inv = sglang_inventory();
    inv.runtime.launcher = launcher_kind::ray;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "runtime.launcher", "no Ray launcher");
    inv = sglang_inventory();
    inv.runtime.image = "vllm/vllm-openai:v0.33.0";
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "runtime.image", "lmsysorg/sglang:v0.5.23");
    inv = sglang_inventory();
    inv.serving.mem_fraction_static = 1.2;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.mem_fraction_static", "(0, 1)");
    inv = sglang_inventory();
    inv.serving.data_parallel_size = 2;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.data_parallel_size", "attention_data_parallel_size");
    inv = sglang_inventory();
    inv.serving.pp_layer_partition = {31, 30};
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.pp_layer_partition", "SGLang splits the layers itself");
    inv = sglang_inventory();
    inv.serving.extra_args = {"--tp-size", "16"};
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.extra_args[0]", "set serving.tensor_parallel_size instead");
    inv.serving.extra_args = {"--api-key=abc"};
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.extra_args[0]", "set api.key instead");
    inv = sglang_inventory();
    inv.serving.served_model_name = "deepseek:v3";
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.served_model_name", "without ':'");
}

TEST_CASE("SGLang scripts: the process runtime starts python3 -m sglang.launch_server with the key from .env") {
    inventory inv = sglang_inventory();
    inv.runtime.kind = runtime_kind::process;
    inv.runtime.python_env = "/opt/sglang";
    const launch_plan l = make_launch(inv, plan_for(inv));
    std::string head_start, worker_start;
    std::set<std::string> names;
    for (const auto& s : node_scripts(inv, l, 0)) {
        names.insert(s.name);
        if (s.name == "start.sh") head_start = s.text;
    }
    for (const auto& s : node_scripts(inv, l, 1))
        if (s.name == "start.sh") worker_start = s.text;
    CHECK(names == std::set<std::string>{"start.sh", "stop.sh", "smoke.sh"});  // no Ray: no wait-cluster.sh, no serve.sh
    CHECK_THAT(head_start, Catch::Matchers::Contains("exec \"$pyenv/bin/python3\" -m sglang.launch_server \\\n"));
    CHECK_THAT(head_start, Catch::Matchers::Contains("key=$(api_key)"));
    CHECK_THAT(head_start, Catch::Matchers::Contains("--api-key \\\n        \"$key\""));
    CHECK_THAT(head_start, Catch::Matchers::Contains("find_spec(\"sglang\")"));
    CHECK_THAT(worker_start, !Catch::Matchers::Contains("--api-key"));
    CHECK_THAT(worker_start, Catch::Matchers::Contains("wait_for_port 10.0.0.1 29501 'SGLang rank 0 (rendezvous)'"));
}

TEST_CASE("SGLang memory: mem_fraction_static x free memory holds weights + KV, activations and graphs fit in the rest") {
    // SGLang 0.5.23's own default, read from its ServerArgs with the GPU query patched to 81559
    // MiB (an H100 80 GB) and a DeepSeek-V3 config: 0.835 / 0.818 / 0.805 at TP 1 / 8 / 16.
    const double h100 = 81559.0 / 1024.0;
    CHECK(sglang_default_mem_fraction(h100, 1) == Approx(0.835));
    CHECK(sglang_default_mem_fraction(h100, 8) == Approx(0.818));
    CHECK(sglang_default_mem_fraction(h100, 16) == Approx(0.805));
    CHECK(sglang_default_mem_fraction(h100, 8, 2) == Approx(sglang_default_mem_fraction(h100, 16)));  // tp x pp counts
    CHECK(sglang_default_mem_fraction(46068.0 / 1024, 8, 2) == Approx(0.804));  // an L20 (46068 MiB), TP 8 x PP 2: SGLang says 0.804
    CHECK(sglang_default_mem_fraction(16.0, 1) < sglang_default_mem_fraction(140.0, 1));

    vllm_rank_input in;
    in.total_gib = 80;
    in.weights_gib = 40;
    in.tp = 8;
    in.hidden_size = 7168;
    in.intermediate_local = 2048;
    in.vocab_size = 129280;
    in.gpu_name = "H100";
    const vllm_rank_memory r = sglang_rank_account(in, 0.85);
    CHECK(r.requested_gib == Approx(0.85 * (80 - r.pre_snapshot_gib)));
    double non_torch = 0, activation = 0, graphs = 0;
    for (const auto& t : r.terms) {
        if (t.name == "non_torch") non_torch = t.gib;
        if (t.name == "activation") { activation = t.gib; CHECK_FALSE(t.in_budget); }
        if (t.name == "cuda_graphs") { graphs = t.gib; CHECK_FALSE(t.in_budget); }
    }
    CHECK(r.available_kv_gib == Approx(r.requested_gib - 40 - non_torch));
    CHECK(r.slack_gib == Approx(0.15 * (80 - r.pre_snapshot_gib) - activation - graphs));
    // A larger fraction: more KV cache, less room for activations.
    const vllm_rank_memory more = sglang_rank_account(in, 0.95);
    CHECK(more.available_kv_gib > r.available_kv_gib);
    CHECK(more.slack_gib < r.slack_gib);

    // Through the planner: the plan accounts with SGLang's fraction, not gpu_memory_utilization.
    inventory inv = sglang_inventory();
    const plan with_085 = plan_for(inv);
    CHECK(with_085.memory.utilization == Approx(0.85));
    inv.serving.mem_fraction_static = 0;  // SGLang's default for the GPU
    const plan with_default = plan_for(inv);
    CHECK(with_default.memory.utilization == Approx(sglang_default_mem_fraction(with_default.gpu.memory_gib, 8, 2)));
    inv.serving.gpu_memory_utilization = 0.5;  // vLLM's knob: no effect on SGLang's account
    CHECK(plan_for(inv).memory.kv_tokens == with_default.memory.kv_tokens);
}

TEST_CASE("SGLang DP attention: the flags of the release, the ports it opens, what it refuses") {
    inventory inv = sglang_inventory();
    inv.serving.tensor_parallel_size = 16;
    inv.serving.pipeline_parallel_size = 1;
    inv.serving.allow_cross_node_tp = true;
    inv.serving.attention_data_parallel_size = 16;
    inv.serving.enable_expert_parallel = true;
    const plan with = plan_for(inv);
    const launch_plan l = make_launch(inv, with);
    CHECK(after(l.nodes[1].vllm_serve, "--attn-dp-size") == "16");  // 0.5.22 on
    CHECK(after(l.nodes[1].vllm_serve, "--ep-size") == "16");
    CHECK_FALSE(has(l.nodes[1].vllm_serve, "--enable-dp-attention"));
    inv.runtime.sglang_version = "0.5.19";  // before 0.5.22: --enable-dp-attention --dp-size N
    const launch_plan old = make_launch(inv, plan_for(inv));
    CHECK(has(old.nodes[0].vllm_serve, "--enable-dp-attention"));
    CHECK(after(old.nodes[0].vllm_serve, "--dp-size") == "16");
    CHECK_FALSE(has(old.nodes[0].vllm_serve, "--attn-dp-size"));
    // The DP-attention channels: ZMQ over TCP at the dist-init port + 1..6 on the head.
    bool channels = false;
    for (const auto& u : node_ports(inv, 0)) channels = channels || (u.first == 29502 && u.last == 29507);
    CHECK(channels);
    // Each attention group holds its own requests' KV cache: 16 x the sequences of one group.
    inv.serving.attention_data_parallel_size = 1;
    const plan without = plan_for(inv);
    CHECK(with.memory.max_concurrency == Approx(16 * without.memory.max_concurrency));
    // What SGLang would refuse, and vLLM.
    inv.serving.attention_data_parallel_size = 6;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.attention_data_parallel_size", "cannot split TP 16");
    inv.serving.attention_data_parallel_size = 0;
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.attention_data_parallel_size", "is not a group count");
    inv.serving.attention_data_parallel_size = 16;
    inv.serving.extra_args = {"--enable-dp-attention"};
    CHECK_DSDEPLOY_ERROR(validate(inv), errc::inventory_field, "serving.extra_args[0]", "set serving.attention_data_parallel_size instead");
    inventory v = default_inventory();
    v.serving.attention_data_parallel_size = 8;
    CHECK_DSDEPLOY_ERROR(validate(v), errc::inventory_field, "serving.attention_data_parallel_size", "SGLang's");
}

TEST_CASE("launcher ray: which Ray executor runs, and Compiled Graph settings it ignores") {
    inventory inv = default_inventory();  // vLLM 0.11.0, auto -> Ray
    CHECK_THAT(make_launch(inv, plan_for(inv)).launcher_why, Catch::Matchers::EndsWith("Ray executor: the first one (Ray Compiled Graph)"));
    inv.runtime.launcher = launcher_kind::ray;
    inv.runtime.vllm_version = "0.32.0";
    inv.runtime.image = "registry.example/vllm-with-ray:0.32.0";
    inv.serving.env = {{"VLLM_USE_RAY_COMPILED_DAG_CHANNEL_TYPE", "shm"}};
    const launch_plan l = make_launch(inv, plan_for(inv));
    CHECK_THAT(l.launcher_why, Catch::Matchers::Contains("RayExecutorV2") && Catch::Matchers::Contains("the default from 0.23.0"));
    CHECK(std::any_of(l.warnings.begin(), l.warnings.end(), [](const std::string& w) {
        return w.find("serving.env.VLLM_USE_RAY_COMPILED_DAG_CHANNEL_TYPE: vLLM 0.32.0 runs RayExecutorV2") == 0;
    }));
    inv.serving.env.push_back({"VLLM_USE_RAY_V2_EXECUTOR_BACKEND", "0"});  // the operator keeps the first executor
    const launch_plan v1 = make_launch(inv, plan_for(inv));
    CHECK_THAT(v1.launcher_why, Catch::Matchers::EndsWith("the first one (Ray Compiled Graph)"));
    CHECK(std::none_of(v1.warnings.begin(), v1.warnings.end(), [](const std::string& w) { return w.find("RayExecutorV2") != std::string::npos; }));
    inv.runtime.vllm_version = "0.20.0";  // opt-in there
    inv.serving.env = {{"VLLM_USE_RAY_V2_EXECUTOR_BACKEND", "1"}};
    CHECK_THAT(make_launch(inv, plan_for(inv)).launcher_why, Catch::Matchers::Contains("serving.env VLLM_USE_RAY_V2_EXECUTOR_BACKEND"));
}

}  // namespace launch_test
