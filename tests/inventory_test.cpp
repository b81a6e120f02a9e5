// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/inventory.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace inventory_test {

using namespace dsdeploy;

namespace {
// The same inventory, compared through its JSON form (which covers every field but the key).
nlohmann::json as_json(const inventory& inv) { return nlohmann::json(inv); }

// The line of `needle` in `text` (1-based), for checking located errors.
int line_of(const std::string& text, const std::string& needle) {
    const auto pos = text.find(needle);
    REQUIRE(pos != std::string::npos);
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

const char* minimal_toml = R"(name = "t"
[network]
fabric = "tcp"
interface = "eth0"
[serving]
model = "meta-llama/Llama-3.1-70B-Instruct"
model_path = "/data/llama"
[[nodes]]
name = "a"
address = "10.1.0.1"
role = "head"
gpu_type = "H100"
gpu_count = 8
[[nodes]]
name = "b"
address = "10.1.0.2"
gpu_type = "H100"
gpu_count = 8
)";

std::filesystem::path temp_dir(const std::string& name) {
    auto p = std::filesystem::temp_directory_path() / ("dsdeploy-inventory-test-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
    return p;
}
}  // namespace

TEST_CASE("the default inventory validates and round-trips through commented TOML and JSON") {
    const inventory inv = default_inventory();
    REQUIRE_NOTHROW(validate(inv));
    const std::string toml = to_toml(inv);
    CHECK_THAT(toml, Catch::Matchers::Contains("# One [[nodes]] table per server"));
    CHECK_THAT(toml, Catch::Matchers::Contains("expose_dashboard = false"));
    const auto from_toml = parse_inventory(toml, "init.toml");
    CHECK(as_json(from_toml.inv) == as_json(inv));
    const auto from_json = parse_inventory(as_json(inv).dump(2), "init.json");
    CHECK(as_json(from_json.inv) == as_json(inv));
    // Every optional setting that is set comes back too.
    inventory full = inv;
    full.serving.extra_args = {"--enforce-eager", "--max-num-seqs", "8"};
    full.serving.env = {{"VLLM_CPU_KVCACHE_SPACE", "4"}};
    full.serving.pp_layer_partition = {32, 29};
    full.serving.kv_cache_dtype = dtype::fp8;
    full.network.extra_env = {{"NCCL_IB_QPS_PER_CONNECTION", "2"}};
    full.network.ib_timeout = 22;
    full.cluster.nodes[1].gpu_ids = {0, 1, 2, 3, 4, 5, 6, 7};
    full.cluster.nodes[1].gpu_count = 0;
    full.cluster.nodes[1].ssh = "root@gpu-b";
    full.cluster.nodes[1].interface = "ib0";
    full.runtime.kind = runtime_kind::process;
    full.runtime.python_env = "/opt/vllm env";
    full.runtime.model_mount = "/models/x";
    full.ports.api = 9000;
    full.api.expose_dashboard = true;
    CHECK(as_json(parse_inventory(to_toml(full), "full.toml").inv) == as_json(full));
    CHECK(as_json(parse_inventory(as_json(full).dump(), "full.json").inv) == as_json(full));
}

TEST_CASE("the API key is never written into the inventory forms") {
    inventory inv = default_inventory();
    inv.api.key = "a-very-secret-key-0123456789";
    CHECK(to_toml(inv).find(inv.api.key) == std::string::npos);
    CHECK(as_json(inv).dump().find(inv.api.key) == std::string::npos);
    // but it is read from a file that has it
    const auto l = parse_inventory(std::string(minimal_toml) + "[api]\nkey = \"a-very-secret-key-0123456789\"\n", "k.toml");
    CHECK(l.inv.api.key == "a-very-secret-key-0123456789");
}

TEST_CASE("a minimal TOML inventory gets the defaults and validates") {
    const auto l = parse_inventory(minimal_toml, "min.toml");
    CHECK(l.inv.cluster.nodes.size() == 2);
    CHECK(l.inv.cluster.nodes[1].role == node_role::worker);
    CHECK(l.inv.runtime.kind == runtime_kind::docker);
    CHECK(l.inv.ports.ray == 6379);
    CHECK(l.inv.api.auth);
    CHECK_NOTHROW(validate(l.inv));
    CHECK(l.source.lines.at("nodes[1].address") == line_of(minimal_toml, "address = \"10.1.0.2\""));
}

TEST_CASE("unknown keys are errors that name the file, line, key and the known keys nearby") {
    const std::string text = std::string(minimal_toml) + "gpu_cout = 8\n";  // in the last [[nodes]] table
    CHECK_DSDEPLOY_ERROR(parse_inventory(text, "inventory.toml"), errc::inventory_unknown_key,
                         "inventory.toml:" + std::to_string(line_of(text, "gpu_cout")) + ": nodes[1].gpu_cout", "did you mean \"gpu_count\"?");
    CHECK_DSDEPLOY_ERROR(parse_inventory("nmae = \"x\"\n", "i.toml"), errc::inventory_unknown_key, "i.toml:1: nmae",
                         "Known keys: name, nodes, network, serving, runtime, ports, api");
    CHECK_DSDEPLOY_ERROR(parse_inventory(R"({"serving": {"modle": "x"}})", "i.json"), errc::inventory_unknown_key, "i.json:1: serving.modle",
                         "did you mean \"model\"?");
}

TEST_CASE("wrong types and values are inventory.field errors with file and line") {
    const std::string text = std::string(minimal_toml) + "[ports]\napi = \"8000\"\n";
    CHECK_DSDEPLOY_ERROR(parse_inventory(text, "p.toml"), errc::inventory_field, "p.toml:" + std::to_string(line_of(text, "api = ")) + ": ports.api",
                         "expected an integer, got \"8000\" (a string)");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[[nodes]]\nrole = \"master\"\n", "r.toml"), errc::inventory_field, "r.toml:2: nodes[0].role",
                         "use \"head\" (exactly one node) or \"worker\"");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[network]\nfabric = \"ethernet-ish\"\n", "f.toml"), errc::inventory_field, "f.toml:2: network.fabric",
                         "use \"infiniband\", \"roce\" or \"tcp\"");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[runtime]\nkind = \"dokcer\"\n", "k.toml"), errc::inventory_field, "k.toml:2: runtime.kind",
                         "use \"docker\"");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[runtime]\nlauncher = \"slurm\"\n", "l.toml"), errc::inventory_field, "l.toml:2: runtime.launcher",
                         "\"mp\" (vLLM >= 0.11.1)");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[serving]\nkv_cache_dtype = \"int4\"\n", "d.toml"), errc::inventory_field, "d.toml:2: serving.kv_cache_dtype",
                         "use \"auto\", \"fp8\"");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[serving]\nextra_args = [\"--a\", 3]\n", "e.toml"), errc::inventory_field, "e.toml:2: serving.extra_args[1]",
                         "expected a string");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[serving]\nenv = { A = [1] }\n", "v.toml"), errc::inventory_field, "v.toml:2: serving.env.A",
                         "expected a string value");
    CHECK_DSDEPLOY_ERROR(parse_inventory("when = 1979-05-27\n", "t.toml"), errc::inventory_field, "t.toml:1: when", "dates and times");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[api]\nauth = \"yes\"\n", "b.toml"), errc::inventory_field, "b.toml:2: api.auth", "expected true or false");
    CHECK_DSDEPLOY_ERROR(parse_inventory("network = 3\n", "n.toml"), errc::inventory_field, "n.toml:1: network", "expected a table");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[serving]\ngpu_memory_utilization = \"high\"\n", "u.toml"), errc::inventory_field,
                         "u.toml:2: serving.gpu_memory_utilization", "expected a number");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[serving]\nmax_model_len = 1.5\n", "m.toml"), errc::inventory_field, "m.toml:2: serving.max_model_len",
                         "expected an integer");
}

TEST_CASE("syntax errors name the file and line, in TOML and JSON") {
    CHECK_DSDEPLOY_ERROR(parse_inventory("name = \"x\"\n[serving\nmodel = 1\n", "s.toml"), errc::inventory_syntax, "s.toml:2", "not valid TOML");
    CHECK_DSDEPLOY_ERROR(parse_inventory("{\n  \"name\": \"x\",\n  \"nodes\": [,]\n}\n", "s.json", inventory_format::json), errc::inventory_syntax,
                         "s.json:3", "not valid JSON");
    CHECK_DSDEPLOY_ERROR(parse_inventory("[]", "a.json", inventory_format::json), errc::inventory_field, "a.json", "expected a table");
}

TEST_CASE("validation errors found later are located in the file through with_source") {
    const std::string json = R"({
  "name": "t",
  "network": {"fabric": "tcp", "interface": "eth0"},
  "serving": {"model": "meta-llama/Llama-3.1-70B-Instruct", "model_path": "/data/llama"},
  "nodes": [
    {"name": "a", "address": "10.1.0.1", "role": "head", "gpu_type": "H100", "gpu_count": 8},
    {"name": "b", "address": "10.1.0.300", "gpu_type": "H100", "gpu_count": 8}
  ]
})";
    const auto l = parse_inventory(json, "inv.json");
    CHECK_DSDEPLOY_ERROR(with_source(l.source, [&] { validate(l.inv); }), errc::cluster_address, "inv.json:7: nodes[1].address",
                         "is not an IPv4 address");
    // A field without its own line falls back to its table.
    const std::string text = std::string(minimal_toml) + "[runtime]\nshm_size = \"lots\"\n";
    const auto t = parse_inventory(text, "x.toml");
    CHECK_DSDEPLOY_ERROR(with_source(t.source, [&] { validate(t.inv); }), errc::inventory_field,
                         "x.toml:" + std::to_string(line_of(text, "shm_size")) + ": runtime.shm_size", "is not a size");
    CHECK(t.source.locate("runtime.nothing_here") == "x.toml:" + std::to_string(line_of(text, "[runtime]")) + ": runtime.nothing_here");
    CHECK(t.source.locate("") == "x.toml");
    CHECK(with_source(t.source, [] { return 42; }) == 42);
}

TEST_CASE("validate() checks names, paths, runtime and API settings") {
    auto bad = [](auto change) {
        inventory inv = default_inventory();
        change(inv);
        return inv;
    };
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.name = "my deployment"; })), errc::inventory_field, "name", "is not a deployment name");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.serving.model_path = "models/x"; })), errc::inventory_field, "serving.model_path",
                         "is not an absolute path");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.serving.served_model_name = "two\nlines"; })), errc::inventory_field,
                         "serving.served_model_name", "one line");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.serving.extra_args = {"--enforce-eager", "--tensor_parallel_size=4"}; })),
                         errc::inventory_field, "serving.extra_args[1]", "set serving.tensor_parallel_size instead");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.serving.extra_args = {"--api-key", "k"}; })), errc::inventory_field,
                         "serving.extra_args[0]", "VLLM_API_KEY");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.serving.extra_args = {std::string("a\0b", 3)}; })), errc::inventory_field,
                         "serving.extra_args[0]", "NUL");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.serving.env = {{"VLLM_API_KEY", "x"}}; })), errc::inventory_field,
                         "serving.env.VLLM_API_KEY", "is set by dsdeploy");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.serving.env = {{"1BAD", "x"}}; })), errc::inventory_field, "serving.env[0]",
                         "not an environment variable name");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.serving.env = {{"X", "a\nb"}}; })), errc::inventory_field, "serving.env.X", "line break");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) {
                             i.serving.env = {{"NCCL_X", "1"}};
                             i.network.extra_env = {{"NCCL_X", "2"}};
                         })),
                         errc::inventory_field, "serving.env.NCCL_X", "also set in network.env");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.runtime.image = "vllm/vllm-openai:v0.11.0 --privileged"; })), errc::inventory_field,
                         "runtime.image", "without spaces");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.runtime.restart = "sometimes"; })), errc::inventory_field, "runtime.restart",
                         "unless-stopped");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.runtime.model_mount = "models"; })), errc::inventory_field, "runtime.model_mount",
                         "absolute path inside the container");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.runtime.python_env = "venv"; })), errc::inventory_field, "runtime.python_env",
                         "bin/ray and bin/vllm");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.runtime.num_cpus = -1; })), errc::inventory_field, "runtime.num_cpus", "CPU count");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) {
                             i.runtime.launcher = launcher_kind::mp;
                             i.serving.data_parallel_size = 2;
                         })),
                         errc::inventory_field, "serving.pipeline_parallel_size", "use pipeline_parallel_size = 1");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.api.host = "every interface"; })), errc::inventory_field, "api.host", "not an address");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.api.key = "short"; })), errc::inventory_field, "api.key", "16-512 characters");
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.api.key_env = "MY-KEY"; })), errc::inventory_field, "api.key_env",
                         "not an environment variable name");
    // Rooms below report their own ids through validate().
    CHECK_DSDEPLOY_ERROR(validate(bad([](inventory& i) { i.cluster.nodes[1].address = "gpu-b.example"; })), errc::network_host_ip,
                         "nodes[1].address", "is a hostname");
}

TEST_CASE("ports: every service on a node has its own port, all in range") {
    inventory inv = default_inventory();
    CHECK_NOTHROW(validate(inv));
    const auto head = node_ports(inv, 0), worker = node_ports(inv, 1);
    CHECK(head.size() == worker.size() + 4);  // GCS, dashboard, client server, API
    for (std::size_t n : {std::size_t{0}, std::size_t{1}}) {
        const auto uses = node_ports(inv, n);
        for (std::size_t i = 0; i < uses.size(); ++i)
            for (std::size_t j = 0; j < i; ++j) CHECK((uses[i].last < uses[j].first || uses[j].last < uses[i].first));
    }
    inv.runtime.launcher = launcher_kind::mp;
    CHECK(node_ports(inv, 0).size() == 2);  // rendezvous and API
    CHECK(node_ports(inv, 1).empty());

    inventory p = default_inventory();
    p.ports.node_manager = p.ports.ray;
    CHECK_DSDEPLOY_ERROR(validate(p), errc::inventory_ports, "ports.node_manager", "which Ray GCS (ports.ray) already uses");
    p = default_inventory();
    p.ports.api = 15000;  // inside the worker range
    CHECK_DSDEPLOY_ERROR(validate(p), errc::inventory_ports, "ports.api", "Ray workers (ports.min_worker)");
    p = default_inventory();
    p.ports.metrics_export = 70000;
    CHECK_DSDEPLOY_ERROR(validate(p), errc::inventory_ports, "ports.metrics_export", "1..65535");
    p = default_inventory();
    p.ports.min_worker = 20000;
    CHECK_DSDEPLOY_ERROR(validate(p), errc::inventory_ports, "ports.min_worker", "is empty");
    // The API may reuse a worker-only port on the head? No: the head runs both.
    p = default_inventory();
    p.ports.api = p.ports.object_manager;
    CHECK_DSDEPLOY_ERROR(validate(p), errc::inventory_ports, "ports.api", "Ray object manager");
}

TEST_CASE("inventory files are read by extension or content, missing files are inventory.unreadable") {
    const auto dir = temp_dir("files");
    std::ofstream(dir / "inv.toml") << minimal_toml;
    std::ofstream(dir / "inv.json") << as_json(default_inventory()).dump();
    std::ofstream(dir / "inv.conf") << as_json(default_inventory()).dump();
    CHECK(load_inventory_file(dir / "inv.toml").inv.name == "t");
    CHECK(load_inventory_file(dir / "inv.json").inv.name == "deepseek-v3-2x8-l20");
    CHECK(load_inventory_file(dir / "inv.conf").inv.name == "deepseek-v3-2x8-l20");
    CHECK(load_inventory_file(dir / "inv.toml").source.file == (dir / "inv.toml").string());
    CHECK_DSDEPLOY_ERROR(load_inventory_file(dir / "missing.toml"), errc::inventory_unreadable, (dir / "missing.toml").string(),
                         "cannot open the inventory file");
    std::filesystem::remove_all(dir);
}

TEST_CASE("runtime and launcher names parse and print") {
    CHECK(parse_runtime_kind(" Docker ") == runtime_kind::docker);
    CHECK(parse_runtime_kind("process") == runtime_kind::process);
    CHECK_FALSE(parse_runtime_kind("k8s"));
    CHECK(parse_launcher_kind("MP") == launcher_kind::mp);
    CHECK(to_string(launcher_kind::ray) == "ray");
    CHECK(to_string(runtime_kind::process) == "process");
    inventory inv = default_inventory();
    inv.serving.served_model_name.clear();
    CHECK(served_model_name(inv) == "deepseek-ai/DeepSeek-V3");
    inv.serving.model_path.clear();
    CHECK(model_path(inv) == "deepseek-ai/DeepSeek-V3");
}

TEST_CASE("a JSON number too large for a double is a syntax error, not a crash (found by fuzz_inventory)") {
    CHECK_DSDEPLOY_ERROR(parse_inventory(R"({"ports": {"api": 1e3444444444}})", "big.json"), errc::inventory_syntax, "big.json", "number overflow");
}

}  // namespace inventory_test
