// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/bundle.hpp>
#include <dsdeploy/detail/shell.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>

#include "bundle/matrix.hpp"
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

// Every fsync of this program, counted (the definition here takes the place of libc's, for every
// room's tests: the unit tests are one program).
static std::atomic<int> fsync_calls{0};
extern "C" int fsync(int fd) {
    ++fsync_calls;
    return static_cast<int>(::syscall(SYS_fsync, fd));
}

namespace bundle_test {

using namespace dsdeploy;
namespace fs = std::filesystem;

namespace {
const char* test_key = "dsd-test-key-0123456789abcdef";

fs::path temp_dir(const std::string& name) {
    auto p = fs::temp_directory_path() / ("dsdeploy-bundle-test-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
}

bundle render(const inventory& inv) {
    bundle_options o;
    o.api_key = test_key;
    o.api_key_source = "test";
    return render_bundle(inv, plan_for(inv), o);
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

// Every file under `root` with its content, for "nothing changed" checks.
std::map<std::string, std::string> snapshot(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = dsdeploy_test::read_file(e.path().string());
    return out;
}

std::string value_after(const std::vector<std::string>& argv, const std::string& prefix) {
    for (const auto& a : argv)
        if (dsdeploy::detail::starts_with(a, prefix)) return a.substr(prefix.size());
    return "";
}

// The word after `flag` ("--model-path" "X" -> "X"), "" when absent.
std::string word_after(const std::vector<std::string>& argv, const std::string& flag) {
    const auto at = std::find(argv.begin(), argv.end(), flag);
    return at == argv.end() || at + 1 == argv.end() ? std::string() : *(at + 1);
}

std::vector<std::string> read_argv(const fs::path& p) {
    const std::string data = dsdeploy_test::read_file(p.string());
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i < data.size(); ++i)
        if (data[i] == '\0') {
            out.push_back(data.substr(start, i - start));
            start = i + 1;
        }
    return out;
}

int run(const std::string& command) {
    const int status = std::system(command.c_str());
    REQUIRE(status != -1);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void write_executable(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
}

// A stand-in for `ray` that, like the real one, keeps running; with --head it also listens on
// the GCS port so the worker's and serve.sh's reachability checks pass. `first` runs before.
std::string fake_ray(int gcs_port, const std::string& first) {
    return "#!/bin/sh\n# fake ray for the test\n" + first +
           "case \" $* \" in *\" --head \"*) exec python3 -c 'import socket, time\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
           "socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", " + std::to_string(gcs_port) + ")); s.listen(8); time.sleep(120)';; esac\n"
           "exec sleep 120\n";
}

// The two nodes on 127.0.0.1 and 127.0.0.2 over lo, on ports no other test uses.
void place_on_loopback(inventory& inv, const port_options& ports) {
    inv.cluster.nodes[0].address = "127.0.0.1";
    inv.cluster.nodes[1].address = "127.0.0.2";
    inv.network.interface = "lo";
    inv.ports = ports;
}

// The shell command that runs one of a bundle's node scripts from `sandbox` with a clean
// environment (fakes first on PATH), appending its output to <log>/scripts.log.
std::string node_script_command(const fs::path& sandbox, const fs::path& log, const fs::path& script, const std::string& extra_env) {
    return "cd " + detail::shell::quote(sandbox.string()) + " && env -i PATH=" +
           detail::shell::quote((sandbox / "fakebin").string() + ":/usr/bin:/bin") + " HOME=" + detail::shell::quote(sandbox.string()) +
           " DSDEPLOY_FAKE_LOG=" + detail::shell::quote(log.string()) + " " + extra_env + " bash " + detail::shell::quote(script.string()) +
           " >>" + detail::shell::quote((log / "scripts.log").string()) + " 2>&1";
}

std::vector<fs::path> pwned_files(const fs::path& root) {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied))
        if (e.path().filename().string().rfind("PWNED", 0) == 0) out.push_back(e.path());  // what `touch PWNED_x` would create
    return out;
}
}  // namespace

TEST_CASE("the default bundle: README, inventory, plan, marker, and per node compose, .env and scripts") {
    const bundle b = render(default_inventory());
    std::vector<std::string> paths;
    for (const auto& f : b.files) paths.push_back(f.path);
    CHECK(paths == std::vector<std::string>{"README.md", "inventory.toml", "plan.txt", "node1/compose.yaml", "node1/.env", "node1/start.sh",
                                            "node1/stop.sh", "node1/wait-cluster.sh", "node1/serve.sh", "node1/smoke.sh", "node2/compose.yaml",
                                            "node2/.env", "node2/start.sh", "node2/stop.sh", "bundle.json"});
    const auto* head_env = b.find("node1/.env");
    REQUIRE(head_env);
    CHECK(head_env->mode == 0600);
    CHECK(head_env->secret);
    CHECK_THAT(head_env->content, Catch::Matchers::Contains(std::string("VLLM_API_KEY=") + test_key));
    const auto* worker_env = b.find("node2/.env");
    CHECK(worker_env->mode == 0600);
    CHECK_FALSE(worker_env->secret);
    CHECK(worker_env->content.find("VLLM_API_KEY") == std::string::npos);
    CHECK(b.find("node1/start.sh")->mode == 0755);
    // The key is only in the head's .env: not in the README, the inventory copy, scripts or compose files.
    for (const auto& f : b.files)
        if (f.path != "node1/.env") CHECK(f.content.find(test_key) == std::string::npos);
    const auto marker = nlohmann::json::parse(b.find("bundle.json")->content);
    CHECK(marker["dsdeploy_bundle"] == 1);
    CHECK(marker["expected_gpus"] == 16);
    CHECK(marker["fits"] == false);
    const std::string& readme = b.find("README.md")->content;
    CHECK_THAT(readme, Catch::Matchers::Contains("**DOES NOT FIT**"));
    CHECK_THAT(readme, Catch::Matchers::Contains("127.0.0.1 only"));
    CHECK_THAT(readme, Catch::Matchers::Contains("`node1/wait-cluster.sh`: waits until Ray has 2 nodes and 16 GPUs"));
    CHECK_THAT(readme, Catch::Matchers::Contains("| node2 | Ray workers | 10002-19999 |"));
    REQUIRE_FALSE(b.warnings.empty());
    CHECK_THAT(b.warnings[0], Catch::Matchers::Contains("DOES NOT FIT"));
    // The inventory copy reads back to the same inventory.
    CHECK(nlohmann::json(parse_inventory(b.find("inventory.toml")->content, "copy").inv) == nlohmann::json(default_inventory()));
}

TEST_CASE("an IPv6 cluster: serve.sh listens on :: in both runtimes, smoke.sh, bundle.json and README bracket the address") {
    for (runtime_kind r : {runtime_kind::docker, runtime_kind::process}) {
        INFO(to_string(r));
        inventory inv = dsdeploy_test::cluster_inventory(2, fabric::tcp, r);
        inv.cluster.nodes[0].address = "fd00::1";
        inv.cluster.nodes[1].address = "fd00::2";
        const bundle b = render(inv);
        const std::string& serve = b.find("node1/serve.sh")->content;
        CHECK_THAT(serve, Catch::Matchers::Contains("--host " + dsdeploy::detail::shell::quote("::")));
        CHECK(serve.find("0.0.0.0") == std::string::npos);
        CHECK_THAT(b.find("node1/smoke.sh")->content, Catch::Matchers::Contains("url=" + dsdeploy::detail::shell::quote("http://[fd00::1]:8000")));
        CHECK(nlohmann::json::parse(b.find("bundle.json")->content)["api_url"] == "http://[fd00::1]:8000");
        CHECK_THAT(b.find("README.md")->content, Catch::Matchers::Contains("- API: http://[fd00::1]:8000/v1"));
        for (const auto& f : b.files) CHECK(f.content.find("http://fd00") == std::string::npos);  // never unbracketed
        CHECK(std::none_of(b.warnings.begin(), b.warnings.end(), [](const std::string& w) { return w.rfind("api.host", 0) == 0; }));
    }
    // An api.host of the other family is a warning in the README too.
    inventory inv = dsdeploy_test::cluster_inventory(2, fabric::tcp, runtime_kind::docker);
    inv.cluster.nodes[0].address = "fd00::1";
    inv.cluster.nodes[1].address = "fd00::2";
    inv.api.host = "10.0.0.1";
    const bundle b = render(inv);
    CHECK_THAT(b.find("README.md")->content, Catch::Matchers::Contains("api.host: WARNING: vLLM will listen on 10.0.0.1 (IPv4 only)"));
}

TEST_CASE("rendering needs an API key unless the inventory turns authentication off") {
    inventory inv = default_inventory();
    CHECK_DSDEPLOY_ERROR(render_bundle(inv, plan_for(inv)), errc::inventory_field, "api.key", "resolve_api_key()");
    bundle_options o;
    o.api_key = "bad key with spaces";
    CHECK_DSDEPLOY_ERROR(render_bundle(inv, plan_for(inv), o), errc::inventory_field, "api.key", "16-512 characters");
    inv.api.auth = false;
    const bundle b = render_bundle(inv, plan_for(inv));
    CHECK(b.find("node1/.env")->content.find("VLLM_API_KEY") == std::string::npos);
    CHECK_FALSE(b.find("node1/.env")->secret);
}

TEST_CASE("resolve_api_key: the inventory, then the environment, then the existing bundle, then a new key") {
    const auto dir = temp_dir("keys");
    inventory inv = default_inventory();
    inv.api.key_env = "DSDEPLOY_TEST_KEY_VAR";
    ::unsetenv("DSDEPLOY_TEST_KEY_VAR");
    std::string source;
    const std::string fresh = resolve_api_key(inv, dir / "b", &source);
    CHECK(source == "generated by dsdeploy");
    CHECK(fresh.size() == 52);
    CHECK(fresh.rfind("dsd-", 0) == 0);
    CHECK(fresh != generate_api_key());
    write_bundle(render_bundle(inv, plan_for(inv), {fresh, source, ""}), dir / "b");
    CHECK(resolve_api_key(inv, dir / "b", &source) == fresh);
    CHECK(source == "kept from the earlier bundle in this folder");
    ::setenv("DSDEPLOY_TEST_KEY_VAR", "from-the-environment-0123456789", 1);
    CHECK(resolve_api_key(inv, dir / "b", &source) == "from-the-environment-0123456789");
    CHECK(source == "from $DSDEPLOY_TEST_KEY_VAR");
    ::setenv("DSDEPLOY_TEST_KEY_VAR", "no good", 1);
    CHECK_DSDEPLOY_ERROR(resolve_api_key(inv, dir / "b"), errc::inventory_field, "api.key_env", "not a usable API key");
    ::unsetenv("DSDEPLOY_TEST_KEY_VAR");
    inv.api.key = "from-the-inventory-0123456789";
    CHECK(resolve_api_key(inv, dir / "b", &source) == inv.api.key);
    inv.api.auth = false;
    CHECK(resolve_api_key(inv, dir / "b", &source).empty());
    fs::remove_all(dir);
}

TEST_CASE("write_bundle: modes on disk, atomic replacement of an earlier bundle keeping node state") {
    const auto dir = temp_dir("write");
    const bundle b = render(default_inventory());
    const auto r = write_bundle(b, dir / "out");
    CHECK(r.files == b.files.size());
    CHECK_FALSE(r.replaced);
    CHECK(mode_of(dir / "out/node1/.env") == 0600);
    CHECK(mode_of(dir / "out/node1/start.sh") == 0755);
    CHECK(mode_of(dir / "out/README.md") == 0644);
    CHECK(dsdeploy_test::read_file((dir / "out/node2/compose.yaml").string()) == b.find("node2/compose.yaml")->content);

    // A running node's state survives a re-render; files that are no longer rendered go.
    fs::create_directories(dir / "out/node1/run");
    std::ofstream(dir / "out/node1/run/ray.pid") << "123\n";
    fs::create_directories(dir / "out/node2/logs");
    std::ofstream(dir / "out/node2/logs/ray.log") << "log\n";
    std::ofstream(dir / "out/node1/stale.txt") << "x";
    inventory changed = default_inventory();
    changed.ports.api = 9000;
    const auto r2 = write_bundle(render(changed), dir / "out");
    CHECK(r2.replaced);
    CHECK(dsdeploy_test::read_file((dir / "out/node1/run/ray.pid").string()) == "123\n");
    CHECK(dsdeploy_test::read_file((dir / "out/node2/logs/ray.log").string()) == "log\n");
    CHECK_FALSE(fs::exists(dir / "out/node1/stale.txt"));
    CHECK_THAT(dsdeploy_test::read_file((dir / "out/node1/serve.sh").string()), Catch::Matchers::Contains("--port 9000"));
    // No temporary folders are left beside it.
    for (const auto& e : fs::directory_iterator(dir)) CHECK(e.path().filename() == "out");

    // An empty folder is fine too.
    fs::create_directories(dir / "empty");
    CHECK_NOTHROW(write_bundle(b, dir / "empty"));
    CHECK(fs::exists(dir / "empty/bundle.json"));
    fs::remove_all(dir);
}

TEST_CASE("write_bundle syncs once per bundle, not once per file") {
    const auto dir = temp_dir("sync-once");
    const bundle b = render(dsdeploy_test::cluster_inventory(20, fabric::tcp, runtime_kind::docker));
    REQUIRE(b.files.size() > 80);
    const int before = fsync_calls.load();
    const write_result r = write_bundle(b, dir / "out");
    CHECK(r.files == b.files.size());
    // syncfs() on the temporary folder's file system, then the parent folder after the rename:
    // 1,000 nodes used to cost 4,008 fsyncs.
    CHECK(fsync_calls.load() - before <= 2);
    CHECK(snapshot(dir / "out").size() == b.files.size());
    fs::remove_all(dir);
}

TEST_CASE("write_bundle refuses folders that are not bundles and reports I/O failures, touching nothing") {
    const auto dir = temp_dir("refuse");
    const bundle b = render(default_inventory());
    fs::create_directories(dir / "home");
    std::ofstream(dir / "home/precious.txt") << "keep me";
    CHECK_DSDEPLOY_ERROR(write_bundle(b, dir / "home"), errc::bundle_exists, (dir / "home").string(), "is not a dsdeploy bundle");
    CHECK(dsdeploy_test::read_file((dir / "home/precious.txt").string()) == "keep me");
    std::ofstream(dir / "file") << "x";
    CHECK_DSDEPLOY_ERROR(write_bundle(b, dir / "file"), errc::bundle_exists, (dir / "file").string(), "is not a folder");
    CHECK_DSDEPLOY_ERROR(write_bundle(b, dir / "file/sub"), errc::bundle_write, (dir / "file").string(), "cannot create the parent folder");
    CHECK_DSDEPLOY_ERROR(write_bundle(b, "/"), errc::bundle_exists, "/", "file system root");
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
    std::sort(left.begin(), left.end());
    CHECK(left == std::vector<std::string>{"file", "home"});
    fs::remove_all(dir);
}

TEST_CASE("an invalid inventory produces an error and leaves the output folder untouched") {
    const auto dir = temp_dir("invalid");
    write_bundle(render(default_inventory()), dir / "out");
    const auto before = snapshot(dir / "out");
    const std::string text = to_toml(default_inventory()) + "\n[[nodes]]\nname = \"node3\"\naddress = \"10.0.0.2\"\ngpu_type = \"L20\"\ngpu_count = 8\n";
    // What `dsdeploy render` does: parse, validate and plan (located), resolve the key, render, write.
    auto pipeline = [&] {
        const auto l = parse_inventory(text, "bad.toml");
        with_source(l.source, [&] {
            validate(l.inv);
            const plan p = plan_for(l.inv);
            write_bundle(render_bundle(l.inv, p, {resolve_api_key(l.inv, dir / "out"), "", ""}), dir / "out");
        });
    };
    CHECK_DSDEPLOY_ERROR(pipeline(), errc::cluster_duplicate_address, "bad.toml:" + std::to_string(std::count(text.begin(), text.end(), '\n') - 2) + ": nodes[2].address",
                         "is already the address of nodes[1]");
    CHECK(snapshot(dir / "out") == before);
    // A version or flag the engine does not have fails at render time, also before any write.
    inventory inv = default_inventory();
    inv.serving.extra_args = {"--no-such-flag"};
    CHECK_DSDEPLOY_ERROR(write_bundle(render(inv), dir / "out"), errc::launch_flag_unsupported, "serving.extra_args[0]", "--no-such-flag");
    CHECK(snapshot(dir / "out") == before);
    fs::remove_all(dir);
}

TEST_CASE("dry run, next steps and the JSON summary describe the bundle without secrets") {
    const bundle b = render(default_inventory());
    const std::string d = describe(b, "/srv/bundle");
    CHECK_THAT(d, Catch::Matchers::Contains("would write 15 files to /srv/bundle"));
    CHECK_THAT(d, Catch::Matchers::Contains("0600") && Catch::Matchers::Contains("node1/.env  (holds the API key; not shown)"));
    CHECK(d.find(test_key) == std::string::npos);
    const std::string n = next_steps(b, "/srv/bundle");
    CHECK_THAT(n, Catch::Matchers::Contains("  1. node1        head    10.0.0.1         ./start.sh"));
    CHECK_THAT(n, Catch::Matchers::Contains("  2. node2        worker  10.0.0.2         ./start.sh"));
    CHECK_THAT(n, Catch::Matchers::Contains("  3. node1        head    10.0.0.1         ./serve.sh    waits for 2 nodes and 16 GPUs"));
    CHECK_THAT(n, Catch::Matchers::Contains("  4. node1        head    10.0.0.1         ./smoke.sh"));
    const nlohmann::json j = b;
    CHECK(j["files"].size() == 15);
    CHECK(j["nodes"][0]["vllm_serve"].get<std::string>().rfind("vllm serve /data/models/DeepSeek-V3", 0) == 0);
    CHECK(j.dump().find(test_key) == std::string::npos);
}

TEST_CASE("invariants for 1, 2, 3 and 8 nodes over InfiniBand, RoCE and TCP, docker and process") {
    for (const auto& c : dsdeploy_test::matrix_cases()) {
        INFO(c.id);
        const bundle b = render(c.inv);
        const launch_plan& l = b.launch;
        const bool ray = l.launcher == launcher_kind::ray;
        const node& head = c.inv.cluster.head();
        int gpus = 0;
        std::set<std::string> images, model_targets, model_args;
        for (std::size_t i = 0; i < l.nodes.size(); ++i) {
            const node_launch& n = l.nodes[i];
            const node& nd = c.inv.cluster.nodes[i];
            // VLLM_HOST_IP = the Ray node IP = the node's address.
            const auto ip = std::find_if(n.env.begin(), n.env.end(), [](const auto& kv) { return kv.first == "VLLM_HOST_IP"; });
            REQUIRE(ip != n.env.end());
            CHECK(ip->second == nd.address);
            if (ray) {
                CHECK(value_after(n.ray_start, "--node-ip-address=") == nd.address);
                CHECK(n.ray_start.back() == "--block");
                if (i != l.head) CHECK(value_after(n.ray_start, "--address=") == head.address + ":" + std::to_string(c.inv.ports.ray));
                else CHECK(std::count(n.ray_start.begin(), n.ray_start.end(), "--head") == 1);
                gpus += std::stoi(value_after(n.ray_start, "--num-gpus="));
            } else if (l.engine == engine_kind::sglang) {
                CHECK(value_after(n.vllm_serve, "") == "python3");
                CHECK(word_after(n.vllm_serve, "--dist-init-addr") == detail::host_port(head.address, c.inv.ports.master));
                CHECK(word_after(n.vllm_serve, "--node-rank") == std::to_string(i == l.head ? 0 : i < l.head ? i + 1 : i));
                gpus += nd.gpus();
            } else {
                CHECK(value_after(n.vllm_serve, "") == "vllm");
                const auto at = std::find(n.vllm_serve.begin(), n.vllm_serve.end(), "--master-addr");
                REQUIRE(at != n.vllm_serve.end());
                CHECK(*(at + 1) == head.address);
                gpus += nd.gpus();
            }
            if (!n.vllm_serve.empty())
                model_args.insert(l.engine == engine_kind::sglang ? word_after(n.vllm_serve, "--model-path") : n.vllm_serve[2]);
            // No two services on one node want the same port: the pinned ports in the commands.
            std::vector<int> ports;
            for (const auto& a : n.ray_start)
                if (a.find("-port=") != std::string::npos) ports.push_back(std::stoi(a.substr(a.find('=') + 1)));
            for (std::size_t k = 0; k + 1 < n.vllm_serve.size(); ++k)
                if (n.vllm_serve[k] == "--port" || n.vllm_serve[k] == "--master-port") ports.push_back(std::stoi(n.vllm_serve[k + 1]));
            const int lo = std::stoi(value_after(n.ray_start, "--min-worker-port=").empty() ? "0" : value_after(n.ray_start, "--min-worker-port="));
            const int hi = std::stoi(value_after(n.ray_start, "--max-worker-port=").empty() ? "-1" : value_after(n.ray_start, "--max-worker-port="));
            std::vector<int> singles;
            for (const auto& a : n.ray_start)
                if (a.find("-port=") != std::string::npos && a.find("worker-port") == std::string::npos) singles.push_back(std::stoi(a.substr(a.find('=') + 1)));
            for (std::size_t k = 0; k + 1 < n.vllm_serve.size(); ++k)
                if (n.vllm_serve[k] == "--port" || n.vllm_serve[k] == "--master-port") singles.push_back(std::stoi(n.vllm_serve[k + 1]));
            std::set<int> unique(singles.begin(), singles.end());
            CHECK(unique.size() == singles.size());
            for (int p : singles) CHECK((p < lo || p > hi));
            CHECK_FALSE(ports.empty());
            if (l.runtime == runtime_kind::docker) {
                const compose_file f = make_compose(c.inv, l, i);
                images.insert(f.services[0].image);
                model_targets.insert(f.services[0].volumes[0].target);
                CHECK(f.services[0].volumes[0].source == model_path(c.inv));
                std::vector<std::string> want = ray ? n.ray_start : n.vllm_serve;
                if (l.engine == engine_kind::sglang && i == l.head && l.api_key)  // the key from .env, through a literal sh -c
                    want.insert(want.begin(), {"sh", "-c", "exec \"$@\" --api-key \"$VLLM_API_KEY\"", "sglang"});
                CHECK(f.services[0].entrypoint == want);
            }
        }
        // TP x PP (x DP) equals the GPUs the cluster will have.
        CHECK(b.plan.parallel.world_size() == (b.plan.gpus_per_node > 0 ? gpus : static_cast<int>(l.nodes.size())));
        CHECK(l.expected_gpus == (b.plan.gpus_per_node > 0 ? gpus : 0));
        CHECK(model_args.size() == 1);  // one model path for vllm serve everywhere
        CHECK(*model_args.begin() == l.model_path);
        if (l.runtime == runtime_kind::docker) {
            CHECK(images.size() == 1);
            CHECK(model_targets.size() == 1);
            CHECK(*model_targets.begin() == l.model_path);
        }
    }
}

TEST_CASE("hostile values stay inert data when the process scripts run (fake ray, vllm, python, curl)") {
    const auto sandbox = temp_dir("hostile-process");
    const fs::path env = sandbox / "env $(touch PWNED_envdir) 'q' `touch PWNED_envb`";
    const fs::path log = sandbox / "log";
    fs::create_directories(log);
    // Stand-ins that record their arguments (NUL-separated) and, like the real ones, keep running.
    write_executable(env / "bin/ray",
                     fake_ray(18461, "{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } >\"$DSDEPLOY_FAKE_LOG/ray.$VLLM_HOST_IP.argv\"\n"));
    write_executable(env / "bin/vllm",
                     "#!/bin/sh\n# fake vllm for the test\n"
                     "{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } >\"$DSDEPLOY_FAKE_LOG/vllm.argv\"\n"
                     "env -0 >\"$DSDEPLOY_FAKE_LOG/vllm.env\"\nexec sleep 120\n");
    write_executable(env / "bin/python",
                     "#!/bin/sh\n# fake python for the test\n"
                     "{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } >\"$DSDEPLOY_FAKE_LOG/python.argv\"\ncat >/dev/null\n");
    write_executable(sandbox / "fakebin/curl",
                     "#!/bin/sh\n# fake curl for the test\n"
                     "n=$(cat \"$DSDEPLOY_FAKE_LOG/curl.n\" 2>/dev/null || echo 0); n=$((n + 1)); echo \"$n\" >\"$DSDEPLOY_FAKE_LOG/curl.n\"\n"
                     "{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } >\"$DSDEPLOY_FAKE_LOG/curl.$n.argv\"\n"
                     "case \" $* \" in *\" --config - \"*) cat >\"$DSDEPLOY_FAKE_LOG/curl.$n.stdin\";; esac\necho '{}'\n");

    inventory inv = dsdeploy_test::hostile_inventory(runtime_kind::process, env.string());
    place_on_loopback(inv, {18461, 18462, 18463, 18464, 18465, 18466, 18467, 18468, 18469, 18475, 18479, 18470, 18471});
    const bundle b = render(inv);
    const fs::path out = sandbox / "bundle";
    write_bundle(b, out);
    auto node_script = [&](const char* node, const char* script) {
        return node_script_command(sandbox, log, out / node / script, "DSDEPLOY_SETTLE_SECONDS=1 DSDEPLOY_WAIT_SECONDS=20");
    };
    const int head_start = run(node_script("node1", "start.sh"));
    const int worker_start = run(node_script("node2", "start.sh"));
    const int serve = run(node_script("node1", "serve.sh"));
    const int smoke = run(node_script("node1", "smoke.sh"));
    const int stop2 = run(node_script("node2", "stop.sh"));
    const int stop1 = run(node_script("node1", "stop.sh"));
    INFO(dsdeploy_test::read_file((log / "scripts.log").string()));
    CHECK(head_start == 0);
    CHECK(worker_start == 0);
    CHECK(serve == 0);
    CHECK(smoke == 0);
    CHECK(stop2 == 0);
    CHECK(stop1 == 0);

    // Nothing was executed: no PWNED file anywhere.
    CHECK(pwned_files(sandbox).empty());
    // Every value arrived exactly as the inventory had it.
    const auto& head = b.launch.nodes[0];
    const auto vllm_argv = read_argv(log / "vllm.argv");
    CHECK(vllm_argv == std::vector<std::string>(head.vllm_serve.begin() + 1, head.vllm_serve.end()));
    CHECK(vllm_argv[1] == inv.serving.model_path);
    auto ray_head = read_argv(log / "ray.127.0.0.1.argv");
    REQUIRE(ray_head.size() > 3);
    CHECK(std::vector<std::string>(ray_head.begin(), ray_head.end() - 2) == std::vector<std::string>(head.ray_start.begin() + 1, head.ray_start.end() - 1));
    CHECK(ray_head.back() == "--block");
    CHECK(read_argv(log / "ray.127.0.0.2.argv")[1] == "--address=127.0.0.1:18461");
    const auto venv = read_argv(log / "vllm.env");
    auto env_has = [&](const std::string& kv) { return std::find(venv.begin(), venv.end(), kv) != venv.end(); };
    CHECK(env_has("HOSTILE_VALUE=" + inv.serving.env[0].second));
    CHECK(env_has("NCCL_HOSTILE=" + inv.network.extra_env[0].second));
    CHECK(env_has(std::string("VLLM_API_KEY=") + test_key));
    CHECK(env_has("RAY_ADDRESS=127.0.0.1:18461"));
    CHECK(read_argv(log / "python.argv") == std::vector<std::string>{"-", "2", "16", "20", "127.0.0.1:18461", "127.0.0.1"});
    // The smoke request: the key went on stdin, the body is the JSON with the hostile model name.
    const int calls = std::stoi(dsdeploy_test::read_file((log / "curl.n").string()));
    const auto chat = read_argv(log / ("curl." + std::to_string(calls) + ".argv"));
    const auto body = std::find(chat.begin(), chat.end(), "--data-raw");
    REQUIRE(body != chat.end());
    CHECK(nlohmann::json::parse(*(body + 1))["model"] == inv.serving.served_model_name);
    CHECK_THAT(dsdeploy_test::read_file((log / ("curl." + std::to_string(calls) + ".stdin")).string()), Catch::Matchers::Contains(test_key));
    for (const auto& a : chat) CHECK(a.find(test_key) == std::string::npos);
    // stop.sh stopped everything the scripts started.
    int left = 0;
    for (const auto& e : fs::directory_iterator("/proc")) {
        std::ifstream in(e.path() / "environ", std::ios::binary);
        std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (data.find("DSDEPLOY_NODE_DIR=" + (out / "node1").string()) != std::string::npos ||
            data.find("DSDEPLOY_NODE_DIR=" + (out / "node2").string()) != std::string::npos)
            ++left;
    }
    CHECK(left == 0);
    // Ray's temp dirs went to /tmp (the sandbox path is too long for Ray's sockets): remove them too.
    for (const char* node : {"node1", "node2"})
        if (fs::is_symlink(out / node / "ray")) fs::remove_all(fs::read_symlink(out / node / "ray"));
    fs::remove_all(sandbox);
}

TEST_CASE("stop.sh ends what is left of a process group whose leader is gone (fake ray, vllm)") {
    // vLLM's workers outlive a killed API server and setproctitle hides their environment, so
    // only the process group still ties them to this node.
    const auto sandbox = temp_dir("leaderless");
    const fs::path env = sandbox / "env";
    const fs::path log = sandbox / "log";
    fs::create_directories(log);
    write_executable(env / "bin/ray", fake_ray(18501, ""));
    write_executable(env / "bin/vllm",
                     "#!/bin/sh\n# fake vllm for the test: a worker without the node's marker that ignores TERM, then the server\n"
                     "env -u DSDEPLOY_NODE_DIR sh -c 'trap \"\" TERM; exec sleep 120' &\necho $! >\"$DSDEPLOY_FAKE_LOG/worker.pid\"\nexec sleep 120\n");
    write_executable(env / "bin/python", "#!/bin/sh\n# fake python for the test\ncat >/dev/null\n");
    write_executable(sandbox / "fakebin/curl", "#!/bin/sh\n# fake curl for the test\necho '{}'\n");

    inventory inv = dsdeploy_test::cluster_inventory(2, fabric::tcp, runtime_kind::process);
    inv.name = "leaderless";
    inv.runtime.python_env = env.string();
    place_on_loopback(inv, {18501, 18502, 18503, 18504, 18505, 18506, 18507, 18508, 18509, 18515, 18519, 18510, 18511});
    const bundle b = render(inv);
    const fs::path out = sandbox / "bundle";
    write_bundle(b, out);
    const fs::path script_log = log / "scripts.log";
    auto node_script = [&](const char* script) {
        return node_script_command(sandbox, log, out / "node1" / script, "DSDEPLOY_SETTLE_SECONDS=1 DSDEPLOY_WAIT_SECONDS=5");
    };
    auto alive = [](int pid) { return pid > 0 && ::kill(pid, 0) == 0 && fs::exists("/proc/" + std::to_string(pid)); };
    auto running = [&](int pid) {  // alive and not a zombie
        if (!alive(pid)) return false;
        const std::string stat = dsdeploy_test::read_file("/proc/" + std::to_string(pid) + "/stat");
        const auto close = stat.rfind(')');
        return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
    };
    CHECK(run(node_script("start.sh")) == 0);
    CHECK(run(node_script("serve.sh")) == 0);
    INFO(dsdeploy_test::read_file(script_log.string()));
    int leader = 0, worker = 0;
    for (int i = 0; i < 100 && (leader == 0 || worker == 0); ++i) {
        if (fs::exists(out / "node1/run/vllm.pid")) leader = std::atoi(dsdeploy_test::read_file((out / "node1/run/vllm.pid").string()).c_str());
        if (fs::exists(log / "worker.pid")) worker = std::atoi(dsdeploy_test::read_file((log / "worker.pid").string()).c_str());
        if (leader == 0 || worker == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(leader > 0);
    REQUIRE(worker > 0);
    REQUIRE(running(worker));
    CHECK(::getpgid(worker) == leader);
    ::kill(leader, SIGKILL);
    for (int i = 0; i < 50 && running(leader); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE_FALSE(running(leader));
    REQUIRE(running(worker));  // the group lives on without its leader

    CHECK(run(node_script("stop.sh")) == 0);
    const std::string said = dsdeploy_test::read_file(script_log.string());
    CHECK_THAT(said, Catch::Matchers::Contains("stopping what is left of vllm (process group " + std::to_string(leader) + "; its leader is gone)"));
    for (int i = 0; i < 50 && running(worker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(running(worker));
    CHECK_FALSE(fs::exists(out / "node1/run/vllm.pid"));
    if (fs::is_symlink(out / "node1" / "ray")) fs::remove_all(fs::read_symlink(out / "node1" / "ray"));
    fs::remove_all(sandbox);
}

TEST_CASE("hostile values stay inert data when the docker scripts run (fake docker)") {
    const auto sandbox = temp_dir("hostile-docker");
    const fs::path log = sandbox / "log";
    fs::create_directories(log);
    write_executable(sandbox / "fakebin/docker",
                     "#!/bin/sh\n# fake docker for the test\n"
                     "n=$(cat \"$DSDEPLOY_FAKE_LOG/docker.n\" 2>/dev/null || echo 0); n=$((n + 1)); echo \"$n\" >\"$DSDEPLOY_FAKE_LOG/docker.n\"\n"
                     "{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } >\"$DSDEPLOY_FAKE_LOG/docker.$n.argv\"\n"
                     "case \" $* \" in *\" python3 - \"*) cat >/dev/null;; esac\n");
    write_executable(sandbox / "fakebin/vllm",
                     "#!/bin/sh\n# fake vllm for the test\n{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } >\"$DSDEPLOY_FAKE_LOG/vllm.argv\"\n");
    inventory inv = dsdeploy_test::hostile_inventory(runtime_kind::docker, "");
    place_on_loopback(inv, {18481, 18482, 18483, 18484, 18485, 18486, 18487, 18488, 18489, 18495, 18499, 18490, 18491});
    const bundle b = render(inv);
    const fs::path out = sandbox / "bundle";
    write_bundle(b, out);
    const std::string envs = "cd " + detail::shell::quote(sandbox.string()) + " && env -i PATH=" +
                             detail::shell::quote((sandbox / "fakebin").string() + ":/usr/bin:/bin") + " HOME=" + detail::shell::quote(sandbox.string()) +
                             " DSDEPLOY_FAKE_LOG=" + detail::shell::quote(log.string()) + " DSDEPLOY_WAIT_SECONDS=0 ";
    auto node_script = [&](const char* node, const char* script) {
        return node_script_command(sandbox, log, out / node / script, "DSDEPLOY_WAIT_SECONDS=0");
    };
    CHECK(run(node_script("node1", "start.sh")) == 0);
    CHECK(run(node_script("node2", "start.sh")) == 1);  // nothing answers on the head's GCS port: it says so and stops
    CHECK(run(node_script("node1", "serve.sh")) == 0);
    CHECK(run(node_script("node1", "stop.sh")) == 0);
    INFO(dsdeploy_test::read_file((log / "scripts.log").string()));
    CHECK_THAT(dsdeploy_test::read_file((log / "scripts.log").string()), Catch::Matchers::Contains("the Ray head (GCS) at 127.0.0.1:18481 does not answer"));

    // The exec that starts vllm serve: a literal sh -c script, then the values as its arguments.
    std::vector<std::string> exec;
    const int calls = std::stoi(dsdeploy_test::read_file((log / "docker.n").string()));
    for (int i = 1; i <= calls; ++i) {
        const auto a = read_argv(log / ("docker." + std::to_string(i) + ".argv"));
        if (std::find(a.begin(), a.end(), "dsdeploy-serve") != a.end()) exec = a;
    }
    const auto& head = b.launch.nodes[0];
    auto sh = std::find(exec.begin(), exec.end(), "sh");
    REQUIRE(sh != exec.end());
    REQUIRE(exec.end() - sh > 5);
    CHECK(*(sh + 3) == "dsdeploy-serve");
    CHECK(*(sh + 4) == "127.0.0.1:18481");
    CHECK(std::vector<std::string>(sh + 5, exec.end()) == head.vllm_serve);
    // Run that sh -c script here, as the container would, with its folder in the sandbox.
    std::string script = *(sh + 2);
    for (std::size_t p; (p = script.find("/tmp/ray")) != std::string::npos;) script.replace(p, 8, (sandbox / "ray").string());
    fs::create_directories(sandbox / "ray");
    std::string cmd = envs + "sh -c " + detail::shell::quote(script);
    for (auto it = sh + 3; it != exec.end(); ++it) cmd += " " + detail::shell::quote(*it);
    CHECK(run(cmd) == 0);
    CHECK(read_argv(log / "vllm.argv") == std::vector<std::string>(head.vllm_serve.begin() + 1, head.vllm_serve.end()));
    CHECK(pwned_files(sandbox).empty());
    fs::remove_all(sandbox);
}

}  // namespace bundle_test
