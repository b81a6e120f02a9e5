// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/bundle.hpp>
#include <dsdeploy/compose.hpp>
#include <dsdeploy/detail/yaml.hpp>
#include <dsdeploy/detail/text.hpp>

#include "bundle/matrix.hpp"
#include "test_support.hpp"

#include <algorithm>

namespace compose_test {

using namespace dsdeploy;
namespace y = dsdeploy::detail::yaml;

namespace {
compose_service service_of(const inventory& inv, std::size_t index) {
    const launch_plan l = make_launch(inv, plan_for(inv));
    const compose_file f = make_compose(inv, l, index);
    REQUIRE(f.services.size() == 1);
    return f.services[0];
}
}  // namespace

TEST_CASE("YAML scalars are quoted whenever a YAML 1.1 or 1.2 reader could misread them") {
    for (const char* s : {"yes", "No", "on", "OFF", "y", "n", "true", "False", "null", "~", "0123", "1e3", "1_000", "0x1F", ".inf", "-.inf",
                          ".nan", "12:30", "2001-12-14", "", " lead", "trail ", "a: b", "a #b", "#c", "-x", "? q", "[x]", "{x}", "&a", "*a",
                          "!tag", "|", ">", "'s", "\"d\"", "%p", "@x", "`x`", "8000", "0.8", "=", "<<", "a\nb", "$x"}) {
        INFO(s);
        CHECK_FALSE(y::is_plain_safe(s));
        CHECK(y::scalar(s).front() == '"');
    }
    for (const char* s : {"ray", "vllm/vllm-openai", "/data/models/DeepSeek-V3", "node1", "bond0", "unless-stopped", "_x", "IPC_LOCK"}) {
        INFO(s);
        CHECK(y::is_plain_safe(s));
        CHECK(y::scalar(s) == s);
    }
    CHECK(y::double_quoted("a\"b\\c\nd\te\x01") == "\"a\\\"b\\\\c\\nd\\te\\x01\"");
    CHECK(y::double_quoted(std::string("nul\0x", 5)) == "\"nul\\0x\"");
    CHECK(y::format_number(0.8) == "0.8");
    CHECK(y::format_number(2) == "2.0");
}

TEST_CASE("the YAML emitter writes block mappings, sequences of mappings and empty collections") {
    const y::node doc = y::mapping{{"services", y::mapping{{"a", y::mapping{{"list", y::sequence{"x", 1, true}},
                                                                           {"maps", y::sequence{y::mapping{{"k", "v"}, {"m", 2}}}},
                                                                           {"empty", y::sequence{}},
                                                                           {"none", y::mapping{}},
                                                                           {"yes", "yes"}}}}}};
    const std::string out = y::emit(doc, {"header", "two\nlines"});
    CHECK(out == "# header\n"
                 "# two lines\n"
                 "services:\n"
                 "  a:\n"
                 "    list:\n"
                 "      - x\n"
                 "      - 1\n"
                 "      - true\n"
                 "    maps:\n"
                 "      - k: v\n"
                 "        m: 2\n"
                 "    empty: []\n"
                 "    none: {}\n"
                 "    \"yes\": \"yes\"\n");
}

TEST_CASE("compose for InfiniBand: host network, GPU reservation, IPC_LOCK and /dev/infiniband, not privileged") {
    const inventory inv = default_inventory();
    const launch_plan l = make_launch(inv, plan_for(inv));
    const compose_service s = service_of(inv, 0);
    CHECK(s.name == "ray-head");
    CHECK(s.image == "vllm/vllm-openai:v0.11.0");
    CHECK(s.network_mode == "host");
    CHECK_FALSE(s.privileged);
    CHECK(s.cap_add == std::vector<std::string>{"IPC_LOCK"});
    CHECK(s.devices == std::vector<std::string>{"/dev/infiniband:/dev/infiniband"});
    CHECK(s.shm_size == "64g");
    CHECK(s.gpu_device_ids == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7"});
    CHECK(s.entrypoint == l.nodes[0].ray_start);
    CHECK(s.environment == l.nodes[0].env);
    REQUIRE(s.volumes.size() == 2);
    CHECK(s.volumes[0].source == "/data/models/DeepSeek-V3");
    CHECK(s.volumes[0].target == "/data/models/DeepSeek-V3");
    CHECK(s.volumes[0].read_only);
    CHECK(s.volumes[1].source == "./ray");
    CHECK(s.volumes[1].target == "/tmp/ray");
    const auto memlock = std::find_if(s.ulimits.begin(), s.ulimits.end(), [](const compose_ulimit& u) { return u.name == "memlock"; });
    REQUIRE(memlock != s.ulimits.end());
    CHECK(memlock->soft == -1);
    CHECK(s.restart == "unless-stopped");
    REQUIRE(s.healthcheck);
    CHECK(s.healthcheck->test == std::vector<std::string>{"CMD", "ray", "health-check", "--address=10.0.0.1:6379"});
    CHECK(service_of(inv, 1).name == "ray-worker");
    CHECK_FALSE(service_of(inv, 1).healthcheck);
    CHECK(compose_project_name(inv, 1) == "dsdeploy-deepseek-v3-2x8-l20-node2");
}

TEST_CASE("compose for TCP needs no RDMA devices, privileged only when asked, GPU subsets by id") {
    inventory tcp = dsdeploy_test::cluster_inventory(2, fabric::tcp, runtime_kind::docker);
    const compose_service s = service_of(tcp, 1);
    CHECK(s.cap_add.empty());
    CHECK(s.devices.empty());
    CHECK(s.security_opt == std::vector<std::string>{"no-new-privileges:true"});

    inventory priv = dsdeploy_test::cluster_inventory(2, fabric::roce, runtime_kind::docker);
    priv.runtime.privileged = true;
    for (auto& n : priv.cluster.nodes) {
        n.gpu_count = 0;
        n.gpu_ids = {4, 5, 6, 7};
    }
    priv.serving.model = "meta-llama/Llama-3.1-70B-Instruct";
    priv.serving.tensor_parallel_size = 4;
    priv.runtime.model_mount = "/models/llama";
    const compose_service p = service_of(priv, 0);
    CHECK(p.privileged);
    CHECK(p.cap_add.empty());
    CHECK(p.security_opt.empty());
    CHECK(p.gpu_device_ids == std::vector<std::string>{"4", "5", "6", "7"});
    CHECK(p.volumes[0].target == "/models/llama");
    const std::string yaml = to_yaml(make_compose(priv, make_launch(priv, plan_for(priv)), 0));
    CHECK(yaml.find("privileged: true") != std::string::npos);
    CHECK(yaml.find("target: /models/llama") != std::string::npos);
}

TEST_CASE("the mp launcher runs vllm serve as the entrypoint, with a /health healthcheck on the head") {
    inventory inv = default_inventory();
    inv.runtime.launcher = launcher_kind::mp;
    inv.runtime.vllm_version = "0.12.0";
    const launch_plan l = make_launch(inv, plan_for(inv));
    const compose_service head = service_of(inv, 0);
    CHECK(head.name == "vllm");
    CHECK(head.entrypoint == l.nodes[0].vllm_serve);
    REQUIRE(head.healthcheck);
    CHECK(head.healthcheck->test.back() == "http://127.0.0.1:8000/health");
    CHECK(head.volumes.size() == 1);  // no Ray folder
}

TEST_CASE("compose text: '$' is doubled so Compose interpolates nothing, and hostile values stay quoted data") {
    const inventory inv = dsdeploy_test::hostile_inventory(runtime_kind::docker, "/opt/env");
    const launch_plan l = make_launch(inv, plan_for(inv));
    const std::string yaml = to_yaml(make_compose(inv, l, 0));
    std::string undoubled = yaml;
    for (std::size_t p; (p = undoubled.find("$$")) != std::string::npos;) undoubled.erase(p, 2);
    CHECK(undoubled.find('$') == std::string::npos);  // every '$' is written as "$$"
    CHECK(yaml.find("$$(touch PWNED_p)") != std::string::npos);
    CHECK(yaml.find("\"/m/$$HOME/$${PATH}\"") != std::string::npos);
    CHECK(yaml.find("image: \"registry.example:5000/vllm/vllm-openai:v0.11.0\"") != std::string::npos);
    CHECK(yaml.find("\\nline2") != std::string::npos);  // the newline is an escape, not a new YAML line
    for (auto line : dsdeploy::detail::split_lines(yaml)) {
        // No line starts a new key or item with hostile text: all of it is inside quotes.
        const auto t = dsdeploy::detail::trim(line);
        if (t.find("PWNED") != std::string::npos) CHECK((t.find(": \"") != std::string::npos || dsdeploy::detail::starts_with(t, "- \"")));
    }
}

TEST_CASE("runtime.pull, runtime.volumes and runtime.ulimits reach compose and start.sh, with the defaults kept") {
    inventory d = dsdeploy_test::cluster_inventory(2, fabric::tcp, runtime_kind::docker);
    const compose_service def = service_of(d, 0);
    CHECK(def.pull_policy.empty());
    REQUIRE(def.ulimits.size() == 3);
    CHECK(def.ulimits[0].name == "memlock");
    CHECK(def.ulimits[0].soft == -1);
    CHECK(def.ulimits[2].soft == 65536);

    d.runtime.pull = pull_policy::never;
    d.runtime.volumes = {"/opt/venv:/opt/venv:ro", "/data/cache:/root/.cache"};
    d.runtime.ulimits.memlock = 8388608;
    d.runtime.ulimits.nofile = 20000;
    const compose_service s = service_of(d, 0);
    CHECK(s.pull_policy == "never");
    CHECK(s.ulimits[0].soft == 8388608);
    CHECK(s.ulimits[0].hard == 8388608);
    CHECK(s.ulimits[2].soft == 20000);
    bool venv = false, cache = false;
    for (const auto& v : s.volumes) {
        if (v.source == "/opt/venv" && v.target == "/opt/venv" && v.read_only) venv = true;
        if (v.source == "/data/cache" && v.target == "/root/.cache" && !v.read_only) cache = true;
    }
    CHECK(venv);
    CHECK(cache);
    const auto l = make_launch(d, plan_for(d));
    const std::string yaml = to_yaml(make_compose(d, l, 0));
    CHECK(yaml.find("pull_policy: never") != std::string::npos);
    bundle_options bo;
    bo.api_key = "sk-test-0123456789abcdef";
    const auto b = render_bundle(d, plan_for(d), bo);
    const auto* start = b.find(d.cluster.nodes[0].name + "/start.sh");
    REQUIRE(start != nullptr);
    CHECK(start->content.find("is not on " + d.cluster.nodes[0].name + " and runtime.pull is") != std::string::npos);

    // Read from a file, validated, written back.
    const std::string toml = to_toml(d);
    CHECK(toml.find("pull = \"never\"") != std::string::npos);
    CHECK(toml.find("ulimits = { memlock = 8388608, nofile = 20000, stack = 67108864 }") != std::string::npos);
    const auto back = parse_inventory(toml, "knobs.toml");
    CHECK(back.inv.runtime.pull == pull_policy::never);
    CHECK(back.inv.runtime.volumes == d.runtime.volumes);
    CHECK(back.inv.runtime.ulimits.nofile == 20000);
    inventory bad = d;
    bad.runtime.volumes = {"relative:/x"};
    CHECK_THROWS_WITH(validate(bad), Catch::Matchers::Contains("runtime.volumes[0]"));
    bad = d;
    bad.runtime.ulimits.nofile = 0;
    CHECK_THROWS_WITH(validate(bad), Catch::Matchers::Contains("runtime.ulimits.nofile"));
    CHECK_THROWS_WITH(parse_inventory("[runtime]\npull = \"sometimes\"\n", "p.toml"), Catch::Matchers::Contains("pull policy"));
}

}  // namespace compose_test
