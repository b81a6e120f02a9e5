// SPDX-License-Identifier: Apache-2.0
// The netcheck room: the command each node runs (argv and environment, both runtimes), reading
// the worker's JSON lines (real Gloo runs on the namespace test bed, tests/fixtures/netcheck),
// and the verdict. The NCCL path's transport is judged on real NCCL logs from a GPU host
// (tests/fixtures/gpu, tests/fixtures/nccl): no GPU run of the worker happens here, and the tests
// that rely on that say "NCCL log" in their names. The real Gloo runs through the orchestrator are
// the e2e test e2e_netcheck (tests/e2e/scenario_netcheck.sh).
#include <dsdeploy/netcheck.hpp>
#include <dsdeploy/orchestrate.hpp>
#include <dsdeploy/validated_inventory.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace netcheck_test {

using namespace dsdeploy;

namespace {

const char* cpu_inventory = R"(name = "nc"
[runtime]
kind = "process"
vllm_version = "0.20.0"
launcher = "mp"
python_env = "/opt/venv"
[network]
fabric = "tcp"
interface = "eth0"
[serving]
model = "meta-llama/Llama-3.1-70B-Instruct"
model_path = "/models/tiny"
served_model_name = "tiny"
tensor_parallel_size = 1
pipeline_parallel_size = 2
max_model_len = 1024
env = { HOSTILE = "$(touch /tmp/x); `id` 'q'" }
[[nodes]]
name = "h1"
address = "10.80.0.1"
role = "head"
gpu_type = ""
gpu_count = 0
[[nodes]]
name = "h2"
address = "10.80.0.2"
role = "worker"
gpu_type = ""
gpu_count = 0
)";

inventory cpu_inv() { return parse_inventory(cpu_inventory, "nc.toml").inv; }

deployment make_deployment(const inventory& inv) {
    deployment d;
    d.inv = inv;
    bundle_options o;
    o.api_key = "sk-test-netcheck-0123456789";
    d.bundle = render_bundle(validate_inventory(inv), o);
    d.remote_dir = "/tmp/dsd-nc";
    return d;
}

netcheck_node node_from(const std::string& name, const std::string& address, const std::string& out_fixture) {
    netcheck_node n;
    n.name = name;
    n.address = address;
    n.interface = "eth0";
    n.planned_ranks = 1;
    n.backend = "gloo";
    n.reached = true;
    n.exit_code = 0;
    parse_netcheck_output(dsdeploy_test::fixture("netcheck/" + out_fixture), n);
    return n;
}

netcheck_report clean_report() {
    netcheck_report r;
    r.backend = "gloo";
    r.world = 2;
    r.master = "10.80.0.1:29501";
    r.nodes = {node_from("h1", "10.80.0.1", "gloo-clean-h1.out"), node_from("h2", "10.80.0.2", "gloo-clean-h2.out")};
    return r;
}

std::vector<std::string> ids(const std::vector<finding>& fs) {
    std::vector<std::string> v;
    for (const auto& f : fs) v.push_back(f.id + "@" + f.node);
    return v;
}

// The veth pair under two shared cores: judge bandwidth against 1% of its nominal 10 Gb/s only.
netcheck_options lax() {
    netcheck_options o;
    o.min_link_fraction = 0.01;
    return o;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

TEST_CASE("netcheck: a real Gloo run's output is read per node and rank") {
    const auto n = node_from("h1", "10.80.0.1", "gloo-clean-h1.out");
    CHECK(n.interface_exists);
    REQUIRE(n.link_mbps);
    CHECK(*n.link_mbps == 10000);
    REQUIRE(n.addresses.count("eth0"));
    CHECK(n.addresses.at("eth0").front() == "10.80.0.1");
    CHECK(n.backend == "gloo");
    REQUIRE(n.ranks.size() == 1);
    const auto& r = n.ranks.front();
    CHECK(r.rank == 0);
    CHECK(r.joined);
    CHECK(r.done);
    CHECK(r.error.empty());
    REQUIRE(r.sizes.size() == 3);
    CHECK(r.sizes[0].bytes == 4);
    CHECK(r.sizes[2].bytes == 16777216);
    CHECK(r.sizes[2].busbw_gbs > 0.01);
    // nccl-tests' all-reduce definition: with 2 ranks busbw = algbw * 2(n-1)/n = algbw.
    CHECK(r.sizes[2].busbw_gbs == Approx(r.sizes[2].algbw_gbs));
    CHECK(r.sizes[2].algbw_gbs == Approx(16777216.0 / (r.sizes[2].time_us * 1e-6) / 1e9).epsilon(0.01));
}

TEST_CASE("netcheck: a healthy run has no findings and reports the slowest rank's bus bandwidth") {
    netcheck_report r = clean_report();
    netcheck_options o;
    o.min_link_fraction = 0.01;
    r.findings = judge_netcheck(cpu_inv(), r, o);
    CHECK(r.findings.empty());
    CHECK(r.exit_code() == 0);
    const auto bw = r.min_busbw_gbs();
    REQUIRE(bw);
    const double a = r.nodes[0].ranks[0].sizes.back().busbw_gbs, b = r.nodes[1].ranks[0].sizes.back().busbw_gbs;
    CHECK(*bw == Approx(std::min(a, b)));
    const std::string text = to_text(r);
    CHECK(text.find("rank 1: joined") != std::string::npos);
    CHECK(text.find("16 MiB busbw") != std::string::npos);
    CHECK(text.find("No findings") != std::string::npos);
    nlohmann::json j;
    to_json(j, r);
    CHECK(j["nodes"][1]["ranks"][0]["sizes"][2]["bytes"] == 16777216);
    CHECK(j["exit_code"] == 0);
    CHECK(j["nodes"][0]["link_mbps"] == 10000);
}

TEST_CASE("netcheck: bandwidth below the asked fraction of the slowest link is netcheck.low_bandwidth") {
    netcheck_report r = clean_report();
    r.nodes[1].link_mbps = 400000;  // pretend one node says 400 Gb/s and the other 10 Gb/s: the slowest counts
    netcheck_options o;
    o.min_link_fraction = 0.99;  // the veth pair under two shared cores moves far less than 10 Gb/s
    r.findings = judge_netcheck(cpu_inv(), r, o);
    const auto v = ids(r.findings);
    REQUIRE(has(v, "netcheck.low_bandwidth@"));
    CHECK(r.findings.front().message.find("10000 Mb/s") != std::string::npos);
    CHECK(r.exit_code() == 1);
    // No link rate at all: not judged, said so.
    r.nodes[0].link_mbps.reset();
    r.nodes[1].link_mbps.reset();
    r.findings = judge_netcheck(cpu_inv(), r, o);
    CHECK(ids(r.findings) == std::vector<std::string>{"netcheck.link_rate_unknown@"});
    CHECK(r.exit_code() == 0);
}

TEST_CASE("netcheck: ranks that reached the rendezvous but not each other are netcheck.rank_missing per node") {
    netcheck_report r;
    r.backend = "gloo";
    r.world = 2;
    r.master = "10.80.0.1:29511";
    r.nodes = {node_from("h1", "10.80.0.1", "gloo-mesh-h1.out"), node_from("h2", "10.80.0.2", "gloo-mesh-h2.out")};
    r.nodes[0].exit_code = r.nodes[1].exit_code = 3;
    r.findings = judge_netcheck(cpu_inv(), r, {});
    const auto v = ids(r.findings);
    CHECK(v == std::vector<std::string>{"netcheck.rank_missing@h1", "netcheck.rank_missing@h2"});
    CHECK(r.findings[1].message.find("rank 1 on h2 never joined") != std::string::npos);
    CHECK(r.findings[1].evidence.find("connectFullMesh") != std::string::npos);
    CHECK(r.findings[1].fix.find("ephemeral ports") != std::string::npos);
    CHECK(r.exit_code() == 1);
    CHECK(!r.min_busbw_gbs());
}

TEST_CASE("netcheck: a node whose interface does not hold its address is netcheck.wrong_interface, naming the right one") {
    netcheck_report r = clean_report();
    r.nodes[1].interface = "lo";
    r.findings = judge_netcheck(cpu_inv(), r, lax());
    REQUIRE(has(ids(r.findings), "netcheck.wrong_interface@h2"));
    const auto& f = r.findings.front();
    CHECK(f.message.find("does not hold the node's address 10.80.0.2 (it is on eth0)") != std::string::npos);
    CHECK(f.fix.find("set the interface of h2 to eth0") != std::string::npos);
    // An interface the node does not have at all.
    r = clean_report();
    r.nodes[0].interface = "ib0";
    r.nodes[0].interface_exists = false;
    r.findings = judge_netcheck(cpu_inv(), r, lax());
    REQUIRE(has(ids(r.findings), "netcheck.wrong_interface@h1"));
    CHECK(r.findings.front().message.find("ib0 does not exist on h1") != std::string::npos);
    CHECK(r.findings.front().fix.find("set the interface to eth0, which holds 10.80.0.1") != std::string::npos);
}

TEST_CASE("netcheck: an unreachable node is netcheck.unreachable with exit 3, a rank that failed after joining collective_failed") {
    netcheck_report r = clean_report();
    r.nodes[1] = netcheck_node{};
    r.nodes[1].name = "h2";
    r.nodes[1].planned_ranks = 1;
    r.nodes[1].stderr_tail = "ssh: connect to host 10.80.0.2 port 22: Connection refused";
    r.findings = judge_netcheck(cpu_inv(), r, lax());
    CHECK(has(ids(r.findings), "netcheck.unreachable@h2"));
    CHECK(r.exit_code() == 3);

    r = clean_report();
    auto& rk = r.nodes[0].ranks[0];
    rk.done = false;
    rk.error_stage = "all_reduce 16777216 bytes";
    rk.error = "RuntimeError: [../third_party/gloo/gloo/transport/tcp/pair.cc:534] Read error [10.80.0.2]:40000: Connection reset by peer";
    r.findings = judge_netcheck(cpu_inv(), r, lax());
    REQUIRE(has(ids(r.findings), "netcheck.collective_failed@h1"));
    CHECK(r.findings.front().message.find("at all_reduce 16777216 bytes") != std::string::npos);
}

TEST_CASE("netcheck: NCCL log over Socket where the fabric is InfiniBand is netcheck.tcp_fallback (NCCL log from a GPU host)") {
    inventory inv = cpu_inv();
    inv.network.kind = fabric::infiniband;
    netcheck_report r = clean_report();
    for (auto& n : r.nodes) n.backend = "nccl";
    r.nodes[1].stderr_tail = dsdeploy_test::fixture("gpu/nccl-ib-requested-absent.log");
    r.findings = judge_netcheck(inv, r, lax());
    const auto v = ids(r.findings);
    REQUIRE(has(v, "netcheck.tcp_fallback@h2"));
    CHECK(!has(v, "netcheck.tcp_fallback@h1"));
    // The same log where the fabric is TCP anyway: no finding.
    r.findings = judge_netcheck(cpu_inv(), r, lax());
    CHECK(!has(ids(r.findings), "netcheck.tcp_fallback@h2"));
    // A two-node InfiniBand log (NET/IB): no finding.
    r.nodes[1].stderr_tail = dsdeploy_test::fixture("nccl/public-nv-peer-memory-56-ib-two-nodes.log");
    r.findings = judge_netcheck(inv, r, lax());
    CHECK(!has(ids(r.findings), "netcheck.tcp_fallback@h2"));
}

TEST_CASE("netcheck: the process runtime's command is vLLM's environment, the runtime's interpreter and one word per value") {
    const deployment d = make_deployment(cpu_inv());
    const auto c1 = netcheck_command(d, 1, {});
    const auto& a = c1.argv;
    REQUIRE(a.size() > 10);
    CHECK(a.front() == "env");
    auto at = [&](const std::string& w) { return std::find(a.begin(), a.end(), w); };
    CHECK(at("VLLM_HOST_IP=10.80.0.2") != a.end());
    CHECK(at("GLOO_SOCKET_IFNAME=eth0") != a.end());
    // serving.env reaches the worker as one argv word, whatever it holds (ssh_argv quotes each word).
    CHECK(at("HOSTILE=$(touch /tmp/x); `id` 'q'") != a.end());
    const auto py = at("/opt/venv/bin/python");
    REQUIRE(py != a.end());
    CHECK(*(py + 1) == "-c");
    CHECK(*(py + 2) == netcheck_worker_program());
    CHECK(*(at("--node-rank") + 1) == "1");
    CHECK(*(at("--nnodes") + 1) == "2");
    CHECK(*(at("--master-addr") + 1) == "10.80.0.1");
    CHECK(*(at("--master-port") + 1) == "29501");
    CHECK(*(at("--backend") + 1) == "gloo");
    CHECK(*(at("--interface") + 1) == "eth0");
    CHECK(at("NCCL_DEBUG=INFO") == a.end());  // Gloo: no NCCL
    const auto c0 = netcheck_command(d, 0, {});
    CHECK(*(std::find(c0.argv.begin(), c0.argv.end(), "--node-rank") + 1) == "0");
    netcheck_options o;
    o.port = 29600;
    o.sizes = {4, 1024};
    const auto c2 = netcheck_command(d, 1, o);
    CHECK(*(std::find(c2.argv.begin(), c2.argv.end(), "--master-port") + 1) == "29600");
    CHECK(*(std::find(c2.argv.begin(), c2.argv.end(), "--sizes") + 1) == "4,1024");
}

TEST_CASE("netcheck: the docker runtime runs the worker in the node's compose service, values as positional parameters") {
    inventory inv = cpu_inv();
    inv.runtime.kind = runtime_kind::docker;
    inv.runtime.image = "vllm/vllm-openai:v0.20.0";
    inv.runtime.python_env.clear();
    const deployment d = make_deployment(inv);
    const auto c = netcheck_command(d, 1, {});
    REQUIRE(c.argv.size() > 8);
    CHECK(c.argv[0] == "bash");
    CHECK(c.argv[1] == "-c");
    CHECK(c.argv[2].find("run --rm --no-deps -T") != std::string::npos);
    CHECK(c.argv[2].find("--entrypoint python3 \"$service\" \"$@\"") != std::string::npos);
    CHECK(c.argv[4] == "/tmp/dsd-nc/h2");
    CHECK(c.argv[5] == compose_project_name(d.inv, 1));
    CHECK(c.argv[6] == compose_service_name(d.bundle.launch, 1));
    CHECK(c.argv[7] == "-c");
    CHECK(c.argv[8] == netcheck_worker_program());
}

TEST_CASE("netcheck: output that is not the worker's is ignored, and what is kept is bounded") {
    netcheck_node n;
    parse_netcheck_output("Traceback (most recent call last):\n{not json\n{\"event\":7}\n{\"event\":\"result\",\"rank\":-5}\n"
                          "{\"event\":\"joined\",\"rank\":3,\"seconds\":0.5}\n",
                          n);
    REQUIRE(n.ranks.size() == 1);
    CHECK(n.ranks[0].rank == 3);
    CHECK(n.ranks[0].joined);
    std::string many;
    for (int i = 0; i < 3000; ++i) many += "{\"event\":\"joined\",\"rank\":" + std::to_string(i) + "}\n";
    netcheck_node m;
    parse_netcheck_output(many, m);
    CHECK(m.ranks.size() == 1024);
    netcheck_node e;
    parse_netcheck_output("{\"event\":\"error\",\"rank\":0,\"stage\":\"join\",\"message\":\"" + std::string(100000, 'x') + "\"}\n", e);
    CHECK(e.ranks.empty());  // a line over 64 KiB is not the worker's
    parse_netcheck_output("{\"event\":\"error\",\"rank\":0,\"stage\":\"join\",\"message\":\"" + std::string(5000, 'x') + "\"}\n", e);
    REQUIRE(e.ranks.size() == 1);
    CHECK(e.ranks[0].error.size() < 2100);
}

}  // namespace netcheck_test
