// SPDX-License-Identifier: Apache-2.0
// orchestrate.hpp, executor.hpp, ssh_executor.hpp, deployment_state.hpp: argv quoting, ssh
// options, the step plans (ray, mp, docker), the local executor with real processes, whole
// bring-ups on the local executor where every "node" is a folder here and Ray is a fake (bin/ray
// sleeps for `start`, prints a canned `ray status`), and the state.json the CLI keeps.
#include <dsdeploy/deployment_state.hpp>
#include <dsdeploy/detail/process.hpp>
#include <dsdeploy/netcheck.hpp>
#include <dsdeploy/orchestrate.hpp>
#include <dsdeploy/detail/text.hpp>

#include "bundle/matrix.hpp"
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace orchestrate_test {

using namespace dsdeploy;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path temp_dir(const std::string& name) {
    auto p = fs::temp_directory_path() / ("dsdeploy-orch-test-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
}

void write_file(const fs::path& p, const std::string& text, fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    fs::permissions(p, mode);
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& a : v) s += a + " ";
    return s;
}

deployment make_deployment(const inventory& inv, const std::string& remote_dir = "~/.dsdeploy/test") {
    deployment d;
    d.inv = inv;
    bundle_options o;
    o.api_key = "sk-test-orchestrate-0123456789";
    d.bundle = render_bundle(inv, plan_for(inv), o);
    d.api_key = o.api_key;
    d.remote_dir = remote_dir;
    return d;
}

// A listening TCP socket on 127.0.0.1 (port chosen by the kernel); closed by the destructor.
struct listener {
    int fd = -1;
    int port = 0;
    listener() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 16) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~listener() { ::close(fd); }
};

// A port nothing listens on (bound, then closed).
int free_port() {
    listener l;
    return l.port;
}

// The fake Python environment: bin/python reports versions, bin/ray `start` sleeps (as
// `ray start --block` would stay), bin/ray `status` prints a `ray status` with as many nodes as
// the file `nodes` says.
fs::path fake_python_env(const fs::path& root) {
    const fs::path env = root / "pyenv";
    const auto exec_mode = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec;
    // bin/python -c <netcheck worker> ...: a FAKE of the worker (no torch here), one rank per node,
    // the rank from --node-rank; when the file netcheck-fails exists, node rank 1 never joins.
    write_file(env / "bin" / "python",
               "#!/bin/sh\n"
               "if [ \"$1\" = -c ]; then\n"
               "  rank=0; prev=''; for a in \"$@\"; do [ \"$prev\" = --node-rank ] && rank=$a; prev=$a; done\n"
               "  if [ -e \"$(dirname \"$0\")/../netcheck-fails\" ] && [ \"$rank\" = 1 ]; then\n"
               "    echo '{\"event\":\"start\",\"rank\":1,\"local_rank\":0,\"backend\":\"gloo\"}'\n"
               "    echo '{\"event\":\"error\",\"rank\":1,\"stage\":\"join\",\"message\":\"RuntimeError: fake: no rendezvous\"}'\n"
               "    exit 3\n"
               "  fi\n"
               "  echo '{\"event\":\"node\",\"interface\":\"lo\",\"interface_exists\":true,\"link_mbps\":null,\"addresses\":{\"lo\":[\"127.0.0.1\"]}}'\n"
               "  echo \"{\\\"event\\\":\\\"start\\\",\\\"rank\\\":$rank,\\\"local_rank\\\":0,\\\"backend\\\":\\\"gloo\\\"}\"\n"
               "  echo \"{\\\"event\\\":\\\"joined\\\",\\\"rank\\\":$rank,\\\"seconds\\\":0.1}\"\n"
               "  echo \"{\\\"event\\\":\\\"result\\\",\\\"rank\\\":$rank,\\\"bytes\\\":1048576,\\\"time_us\\\":1000,\\\"algbw_gbs\\\":1.0,\\\"busbw_gbs\\\":1.0}\"\n"
               "  echo \"{\\\"event\\\":\\\"done\\\",\\\"rank\\\":$rank}\"\n"
               "  exit 0\n"
               "fi\n"
               "echo ray=2.50.1\necho vllm=0.11.0\n",
               exec_mode);
    write_file(env / "bin" / "ray",
               "#!/bin/bash\n"
               "here=$(cd \"$(dirname \"$0\")/..\" && pwd)\n"
               "case $1 in\n"
               "start) exec sleep 300 ;;\n"
               "status)\n"
               "  n=$(cat \"$here/nodes\")\n"
               "  echo '======== Autoscaler status: 2026-11-28 04:00:00.000000 ========'\n"
               "  echo 'Node status'\n"
               "  echo '---------------------------------------------------------------'\n"
               "  echo 'Active:'\n"
               "  for i in $(seq 1 \"$n\"); do echo \" 1 node_$i$i$i\"; done\n"
               "  echo 'Pending:'\n"
               "  echo ' (no pending nodes)'\n"
               "  echo 'Recent failures:'\n"
               "  echo ' (no failures)'\n"
               "  echo\n"
               "  echo 'Resources'\n"
               "  echo '---------------------------------------------------------------'\n"
               "  echo 'Usage:'\n"
               "  echo \" 0.0/$((n * 2)).0 CPU\"\n"
               "  echo ' 0B/1.00GiB memory'\n"
               "  echo\n"
               "  echo 'Demands:'\n"
               "  echo ' (no resource demands)'\n"
               "  ;;\n"
               "*) echo \"fake ray: $*\" >&2; exit 2 ;;\n"
               "esac\n",
               exec_mode);
    write_file(env / "nodes", "2\n");
    return env;
}

// Two CPU-only "nodes" on this machine: the head on 127.0.0.1 (interface lo), the worker
// 127.0.0.2 in the bundle and "localhost" for preflight; the Ray GCS port is `ray_port`; model config.json in root/model.
deployment local_deployment(const fs::path& root, int ray_port) {
    inventory inv = dsdeploy_test::cluster_inventory(2, fabric::tcp, runtime_kind::process);
    inv.name = "orch-local";
    inv.cluster.nodes[0].name = "h1";
    inv.cluster.nodes[0].address = "127.0.0.1";
    inv.cluster.nodes[1].name = "h2";
    inv.cluster.nodes[1].address = "127.0.0.2";
    for (auto& n : inv.cluster.nodes) {
        n.gpu_type.clear();
        n.gpu_count = 0;
    }
    inv.network.interface = "lo";
    inv.serving.model = "meta-llama/Llama-3.1-70B-Instruct";
    inv.serving.model_path = (root / "model").string();
    inv.serving.served_model_name = "tiny";
    inv.serving.tensor_parallel_size.reset();
    inv.serving.pipeline_parallel_size.reset();
    inv.serving.max_model_len = 1024;
    inv.runtime.python_env = fake_python_env(root).string();
    inv.runtime.num_cpus = 2;
    inv.ports.ray = ray_port;
    write_file(root / "model" / "config.json", "{\"model_type\": \"llama\"}\n");
    deployment d = make_deployment(inv, (root / "remote").string());
    d.bundle_dir = (root / "bundle").string();
    write_bundle(d.bundle, d.bundle_dir);
    // lo holds 127.0.0.1/8 only: preflight checks the worker by name (a hostname's interface
    // address is not compared), as the bundle's scripts never look at it.
    d.inv.cluster.nodes[1].address = "localhost";
    return d;
}

up_options quick_options() {
    up_options o;
    o.check_ports = false;  // other jobs on this machine may hold the bundle's default ports
    o.poll_interval = 200ms;
    o.cluster_timeout = 20s;
    o.head_port_timeout = 20s;
    o.reach_timeout = 2s;
    return o;
}

std::vector<std::string> stop_everything(const deployment& d) {
    local_executor ex;
    std::vector<std::string> out;
    for (const auto& r : down(d, ex)) out.push_back(r.output);
    return out;
}

// Removes the test folder and the private Ray temp folders start.sh made under /tmp for it.
void clean_up(const fs::path& root) {
    std::error_code ec;
    for (const char* node : {"h1", "h2"}) {
        const fs::path link = root / "remote" / node / "ray";
        if (fs::is_symlink(link, ec)) fs::remove_all(fs::read_symlink(link, ec), ec);
    }
    fs::remove_all(root, ec);
}

// Whether the fake Ray of node i is alive (its PID file names a live process).
bool fake_ray_alive(const deployment& d, std::size_t i) {
    std::ifstream in(fs::path(d.remote_dir) / d.inv.cluster.nodes[i].name / "run" / "ray.pid");
    int pid = 0;
    if (!(in >> pid) || pid <= 0) return false;
    return ::kill(pid, 0) == 0;
}

}  // namespace

// --- quoting and ssh arguments ---------------------------------------------------------------

TEST_CASE("remote command line: hostile values arrive as data through a POSIX shell", "[orchestrate][quoting]") {
    const fs::path dir = temp_dir("quote");
    const std::vector<std::string> values = {"plain",
                                             "two words",
                                             "it's",
                                             "$(touch " + (dir / "PWNED_d").string() + ")",
                                             "`touch " + (dir / "PWNED_b").string() + "`",
                                             "; touch " + (dir / "PWNED_s").string(),
                                             "line1\nline2",
                                             "~",
                                             "=x",
                                             "",
                                             "\"dq\" \\ back",
                                             dsdeploy_test::hostile_text()};
    std::vector<std::string> argv = {"printf", "[%s]"};
    argv.insert(argv.end(), values.begin(), values.end());
    const std::string line = remote_command_line(argv);
    // What sshd does with the line: hand it to the login shell.
    const auto r = detail::run_process({"sh", "-c", line}, {}, 10000ms);
    REQUIRE(r.exit_code == 0);
    std::string expected;
    for (const auto& v : values) expected += "[" + v + "]";
    CHECK(r.out == expected);
    CHECK_FALSE(fs::exists(dir / "PWNED_d"));
    CHECK_FALSE(fs::exists(dir / "PWNED_b"));
    CHECK_FALSE(fs::exists(dir / "PWNED_s"));
    CHECK_DSDEPLOY_ERROR(remote_command_line({"echo", std::string("a\0b", 3)}), errc::orchestrate_ssh, "argv", "NUL byte");
    fs::remove_all(dir);
}

TEST_CASE("ssh arguments: batch mode, host-key policy, connection reuse, one quoted command", "[orchestrate][ssh]") {
    ssh_options o;
    o.config_file = "/etc/dsd/ssh config";
    o.connect_timeout = 7s;
    const auto a = ssh_argv(o, "/tmp/dsdeploy-ssh-abc", "root@h1", {"bash", "./start.sh", "a b"}, 30s);
    CHECK(a.front() == "ssh");
    CHECK(a[1] == "-F");
    CHECK(a[2] == "/etc/dsd/ssh config");
    CHECK(contains(a, "BatchMode=yes"));
    CHECK(contains(a, "StrictHostKeyChecking=yes"));
    CHECK(contains(a, "ConnectTimeout=7"));
    CHECK(contains(a, "ControlMaster=auto"));
    CHECK(contains(a, "ControlPath=/tmp/dsdeploy-ssh-abc/%C"));
    CHECK(contains(a, "ControlPersist=60"));
    // "--", then the target, then exactly one word: the command line.
    REQUIRE(a.size() >= 3);
    CHECK(a[a.size() - 3] == "--");
    CHECK(a[a.size() - 2] == "root@h1");
    CHECK(a.back() == "timeout -k 5 30 bash ./start.sh 'a b'");

    o.host_keys = host_key_policy::accept_new;
    o.config_file.clear();
    const auto b = ssh_argv(o, "", "h2", {"true"});
    CHECK(contains(b, "StrictHostKeyChecking=accept-new"));
    CHECK_FALSE(contains(b, "-F"));
    CHECK_FALSE(contains(b, "ControlMaster=auto"));  // no control folder: no reuse
    CHECK(b.back() == "true");

    CHECK(parse_host_key_policy("strict") == host_key_policy::strict);
    CHECK(parse_host_key_policy("accept-new") == host_key_policy::accept_new);
    CHECK_FALSE(parse_host_key_policy("no"));
    CHECK(to_string(host_key_policy::accept_new) == "accept-new");

    CHECK_DSDEPLOY_ERROR(ssh_argv(o, "", "-oProxyCommand=touch /tmp/x", {"true"}), errc::orchestrate_ssh, "ssh target",
                         "must not start with '-'");
    CHECK_DSDEPLOY_ERROR(ssh_argv(o, "", "h1 -oProxyCommand=x", {"true"}), errc::orchestrate_ssh, "ssh target", "spaces");
    CHECK_DSDEPLOY_ERROR(ssh_argv(o, "", "", {"true"}), errc::orchestrate_ssh, "ssh target", "non-empty");
}

TEST_CASE("ssh executor: an unreachable node is ssh exit 255, reported as unreachable and orchestrate.ssh", "[orchestrate][ssh]") {
    const fs::path dir = temp_dir("unreachable");
    const int port = free_port();
    write_file(dir / "ssh_config", "Host nowhere\n  HostName 127.0.0.1\n  Port " + std::to_string(port) +
                                        "\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n");
    ssh_options so;
    so.config_file = (dir / "ssh_config").string();
    so.connect_timeout = 3s;
    ssh_executor ssh(so);
    command_spec c;
    c.argv = {"true"};
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = ssh.run("nowhere", c);
    CHECK(r.started);
    CHECK(r.exit_code == 255);
    CHECK(r.unreachable);
    CHECK_FALSE(r.ok());
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    // The control folder is private.
    struct stat st {};
    REQUIRE(::stat(ssh.control_dir().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);

    // A bring-up whose head cannot be reached stops at preflight, naming the node.
    inventory inv = dsdeploy_test::cluster_inventory(2, fabric::tcp, runtime_kind::process);
    inv.cluster.nodes[0].ssh = "nowhere";
    inv.cluster.nodes[1].ssh = "nowhere";
    const deployment d = make_deployment(inv);
    const auto rep = up(d, ssh);
    REQUIRE(rep.failure);
    CHECK(rep.failure->step == step::preflight);
    CHECK(rep.exit_code() == 3);
    CHECK_THAT(rep.failure->message, Catch::Matchers::Contains("step preflight failed on node1"));
    CHECK_THAT(rep.failure->message, Catch::Matchers::Contains("ssh exit 255"));
    CHECK_DSDEPLOY_ERROR(throw_if_failed(rep), errc::orchestrate_ssh, "nodes[0]", "step preflight failed on node1");
    fs::remove_all(dir);
}

// --- step plans ------------------------------------------------------------------------------

TEST_CASE("step plan, process runtime, launcher ray", "[orchestrate][plan]") {
    inventory inv = dsdeploy_test::cluster_inventory(3, fabric::infiniband, runtime_kind::process);
    const deployment d = make_deployment(inv, "~/dd");
    auto cmds = plan_commands(d);
    std::vector<std::string> order;
    for (const auto& c : cmds) order.push_back(std::string(to_string(c.step)) + ":" + d.inv.cluster.nodes[c.node].name);
    const std::vector<std::string> want = {"preflight:node1",     "preflight:node2",     "preflight:node3",   "copy:node1",
                                           "copy:node2",          "copy:node3",          "netcheck:node1",    "netcheck:node2",
                                           "netcheck:node3",      "start-head:node1",    "wait-head:node1",
                                           "reach-head:node2",    "reach-head:node3",    "start-workers:node2", "start-workers:node3",
                                           "wait-cluster:node1",  "serve:node1"};
    CHECK(order == want);
    // The network is proven before anything starts: the runtime's interpreter runs the worker.
    CHECK(contains(cmds[7].argv, "/opt/vllm-env/bin/python"));
    CHECK(contains(cmds[7].argv, netcheck_worker_program()));
    up_options no_check;
    no_check.netcheck = false;
    CHECK(plan_commands(d, no_check).size() == want.size() - 3);
    cmds.erase(cmds.begin() + 6, cmds.begin() + 9);
    // Scripts run inside the node's folder; the folder travels as an argument.
    const auto& head = cmds[6].argv;
    CHECK(head[0] == "bash");
    CHECK(head[1] == "-c");
    CHECK(head[4] == "~/dd/node1");
    CHECK(head[5] == "bash");
    CHECK(head[6] == "./start.sh");
    CHECK(joined(cmds[8].argv).find("10.0.0.1 6379") != std::string::npos);  // the worker checks the head's GCS port
    CHECK(cmds[8].argv[0] == "timeout");
    CHECK(cmds[8].argv[1] == "5");
    CHECK(cmds[12].argv == std::vector<std::string>{"/opt/vllm-env/bin/ray", "status", "--address", "10.0.0.1:6379"});

    up_options o;
    o.until = step::wait_cluster;
    CHECK(plan_commands(d, o).back().step == step::wait_cluster);
    o.until = step::copy;
    CHECK(plan_commands(d, o).back().step == step::copy);
    o.until = step::netcheck;
    CHECK(plan_commands(d, o).back().step == step::netcheck);
    o.until = step::preflight;
    CHECK(plan_commands(d, o).size() == 3);

    CHECK(parse_until("cluster") == step::wait_cluster);
    CHECK(parse_until("serve") == step::health);
    CHECK(parse_until("smoke") == step::smoke);
    CHECK(parse_until("preflight") == step::preflight);
    CHECK(parse_until("netcheck") == step::netcheck);
    CHECK_FALSE(parse_until("everything"));
}

TEST_CASE("step plan, launcher mp: vLLM's master port, no Ray cluster wait, no serve.sh", "[orchestrate][plan]") {
    inventory inv = dsdeploy_test::cluster_inventory(2, fabric::infiniband, runtime_kind::process);
    inv.runtime.launcher = launcher_kind::mp;
    inv.runtime.vllm_version = "0.12.0";
    const deployment d = make_deployment(inv);
    const auto cmds = plan_commands(d);
    std::vector<std::string> steps;
    for (const auto& c : cmds) steps.push_back(std::string(to_string(c.step)));
    CHECK(steps == std::vector<std::string>{"preflight", "preflight", "copy", "copy", "netcheck", "netcheck", "start-head", "wait-head",
                                            "reach-head", "start-workers"});
    CHECK(contains(cmds[8].argv, std::to_string(inv.ports.master)));
    CHECK(contains(cmds[8].argv, "10.0.0.1"));
}

TEST_CASE("step plan, docker runtime (fake: no engine here): compose exec ray status, same scripts", "[orchestrate][plan][docker]") {
    inventory inv = dsdeploy_test::cluster_inventory(2, fabric::roce, runtime_kind::docker);
    const deployment d = make_deployment(inv);
    const auto cmds = plan_commands(d);
    const auto& pre = cmds[0].argv;
    CHECK(pre[5] == "docker");            // runtime
    CHECK(pre[7] == inv.runtime.image);   // image whose ID must match everywhere
    CHECK(pre[8] == "8");                 // GPUs checked with nvidia-smi
    const auto& wait = cmds.at(cmds.size() - 2);
    REQUIRE(wait.step == step::wait_cluster);
    const std::string w = joined(wait.argv);
    CHECK(w.find("docker compose --project-name " + compose_project_name(inv, 0) + " --file compose.yaml exec -T " +
                 compose_service_name(d.bundle.launch, 0) + " ray status --address 10.0.0.1:6379") != std::string::npos);
    CHECK(cmds.back().step == step::serve);
    CHECK(cmds.back().argv.back() == "./serve.sh");
    // status and logs ask docker compose about the node's own project and service.
    const auto st = detail::orch::status_argv(d, 1);
    CHECK(st[5] == "docker");
    CHECK(st[6] == compose_project_name(inv, 1));
    CHECK(st[7] == compose_service_name(d.bundle.launch, 1));
    CHECK_THAT(st[2], Catch::Matchers::Contains("docker ps --all --filter \"label=com.docker.compose.project=$project\""));
    const auto lg = detail::orch::logs_argv(d, 0, 7);
    CHECK(lg[5] == "7");
    CHECK(lg[7] == compose_project_name(inv, 0));
    CHECK_THAT(lg[2], Catch::Matchers::Contains("logs --no-color --tail \"$lines\""));
}

// --- the local executor with real processes --------------------------------------------------

TEST_CASE("local executor: exit codes, stdin, stdout and stderr apart, big output", "[orchestrate][local]") {
    local_executor ex;
    command_spec c;
    c.argv = {"sh", "-c", "echo out; echo err >&2; exit 7"};
    auto r = ex.run("anything", c);
    CHECK(r.started);
    CHECK(r.exit_code == 7);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");
    CHECK_FALSE(r.ok());

    c.argv = {"cat"};
    c.input = std::string(3 << 20, 'x') + "end";
    r = ex.run("", c);
    CHECK(r.exit_code == 0);
    CHECK(r.out.size() == c.input.size());
    CHECK(r.out == c.input);

    c.input.clear();
    c.argv = {"sh", "-c", "head -c 5000000 /dev/zero; head -c 300000 /dev/zero >&2"};
    r = ex.run("", c);
    CHECK(r.ok());
    CHECK(r.out.size() == 5000000);
    CHECK(r.err.size() == 300000);

    // A program that stops reading stdin early does not hurt the caller (no SIGPIPE).
    c.argv = {"head", "-c", "10"};
    c.input = std::string(4 << 20, 'y');
    r = ex.run("", c);
    CHECK(r.exit_code == 0);
    CHECK(r.out == std::string(10, 'y'));

    c.input.clear();
    c.argv = {"/nonexistent/program"};
    r = ex.run("", c);
    CHECK_FALSE(r.started);
    CHECK_THAT(r.err, Catch::Matchers::Contains("cannot run /nonexistent/program"));
}

TEST_CASE("local executor: the time limit kills the whole process group", "[orchestrate][local]") {
    const fs::path dir = temp_dir("timeout");
    local_executor ex;
    command_spec c;
    const std::string pidfile = (dir / "bg.pid").string();
    c.argv = {"sh", "-c", "sleep 60 & echo $! > \"$1\"; sleep 60", "sh", pidfile};
    c.timeout = 700ms;
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = ex.run("", c);
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(r.timed_out);
    CHECK(r.exit_code == -1);
    CHECK(took >= 700ms);
    CHECK(took < 5s);
    int bg = 0;
    std::ifstream(pidfile) >> bg;
    REQUIRE(bg > 0);
    // The background child was in the group: it is gone (or a zombie waiting for init).
    bool gone = false;
    for (int k = 0; k < 50 && !gone; ++k) {
        std::ifstream stat("/proc/" + std::to_string(bg) + "/stat");
        std::string pid, comm, state;
        gone = !(stat >> pid >> comm >> state) || state == "Z";
        if (!gone) std::this_thread::sleep_for(50ms);
    }
    CHECK(gone);
    fs::remove_all(dir);
}

// --- whole bring-ups on the local executor (fake Ray) ----------------------------------------

TEST_CASE("up on the local executor with a fake Ray: every step to the cluster, status, down twice", "[orchestrate][fake]") {
    const fs::path root = temp_dir("up");
    listener gcs;  // stands in for the head's GCS port
    ::setenv("DSDEPLOY_SETTLE_SECONDS", "0", 1);
    const deployment d = local_deployment(root, gcs.port);
    local_executor ex;
    up_options o = quick_options();
    o.until = step::wait_cluster;
    std::vector<std::string> progress;
    o.progress = [&](const std::string& line) { progress.push_back(line); };
    const auto rep = up(d, ex, o);
    INFO(to_text(rep));
    REQUIRE(rep.ok());
    CHECK(rep.exit_code() == 0);
    CHECK(rep.reached == step::wait_cluster);
    CHECK(std::count_if(rep.steps.begin(), rep.steps.end(), [](const step_record& st) { return st.step == step::netcheck && st.ok; }) == 2);
    CHECK(rep.cluster_nodes == 2);
    CHECK(rep.cluster_cpus == 4.0);
    CHECK(fake_ray_alive(d, 0));
    CHECK(fake_ray_alive(d, 1));
    // The copy kept the secret's mode.
    struct stat st {};
    REQUIRE(::stat((root / "remote" / "h1" / ".env").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK_FALSE(progress.empty());
    const std::string text = to_text(rep);
    CHECK_THAT(text, Catch::Matchers::Contains("Ray cluster: 2 nodes"));
    nlohmann::json j = rep;
    CHECK(j["ok"] == true);
    CHECK(j["steps"].size() >= 8);

    status_options so;
    so.until = step::wait_cluster;
    auto s = status(d, ex, so);
    INFO(to_text(s));
    CHECK(s.exit_code() == 0);
    CHECK(s.ray_nodes == 2);
    REQUIRE(s.nodes.size() == 2);
    CHECK(s.nodes[1].processes.at(0).name == "ray");
    CHECK(s.nodes[1].processes.at(0).alive);

    CHECK_FALSE(s.memory_checked);  // vLLM is not expected before serve

    // Expecting vLLM (a full bring-up) makes the same cluster "down", naming the head. The head's
    // vLLM log (left by an earlier start) is read for its memory lines, a line cut in two joined;
    // they do not change the exit code. This cluster has no GPUs: no plan to set them beside.
    write_file(fs::path(d.node_dir(0)) / "logs" / "vllm.log",
               "(APIServer pid=1) INFO 12-03 07:00:00 [api_server.py:1805] vLLM API server version 0.11.0\n"
               "(EngineCore_0 pid=2) INFO 12-03 07:00:10 [gpu_model_runner.py:2653] Model loading \n"
               "took 14.9889 GiB and 3.652170 seconds\n"
               "(EngineCore_0 pid=2) INFO 12-03 07:00:10 [core.py:1] something else\n"
               "(EngineCore_0 pid=2) INFO 12-03 07:00:20 [gpu_worker.py:298] Available KV cache memory: 51.38 GiB\n"
               "(EngineCore_0 pid=2) INFO 12-03 07:00:21 [kv_cache_utils.py:1087] GPU KV cache size: 420,912 tokens\n");
    so.until = step::smoke;
    so.timeout = 20s;
    s = status(d, ex, so);
    CHECK(s.exit_code() == 1);
    CHECK_THAT(to_text(s), Catch::Matchers::Contains("h1: vllm is not running"));
    CHECK(s.memory_checked);
    REQUIRE(s.vllm_memory);
    CHECK(s.vllm_memory->version == "0.11.0");
    REQUIRE(s.vllm_memory->weights_gib);
    CHECK(s.vllm_memory->weights_gib->value == Approx(14.9889));
    CHECK(s.vllm_memory->available_kv_gib->value == Approx(51.38));
    CHECK(s.vllm_memory->kv_tokens->value == 420912);
    CHECK_FALSE(s.vllm_memory_vs_plan);
    CHECK_THAT(to_text(s), Catch::Matchers::Contains("vLLM memory lines (vLLM 0.11.0)"));
    const nlohmann::json sj = s;
    CHECK(sj.at("vllm_memory").at("logged").at("available_kv").at("value") == Approx(51.38));
    CHECK(sj.at("vllm_memory").at("plan").is_null());

    const auto first = down(d, ex);
    REQUIRE(first.size() == 2);
    CHECK(first[0].ok);
    CHECK(first[1].ok);
    CHECK_THAT(first[1].output, Catch::Matchers::Contains("stopping ray"));
    CHECK_FALSE(fake_ray_alive(d, 0));
    CHECK_FALSE(fake_ray_alive(d, 1));
    const auto second = down(d, ex);
    CHECK(second[0].ok);
    CHECK(second[1].ok);
    CHECK_THAT(second[0].output, Catch::Matchers::Contains("nothing started by h1's scripts is running"));
    so.until = step::wait_cluster;
    s = status(d, ex, so);
    CHECK(s.exit_code() == 1);

    const auto l = logs(d, ex, 5, "h2");
    REQUIRE(l.size() == 1);
    CHECK(l[0].ok);
    CHECK_THAT(l[0].output, Catch::Matchers::Contains("logs/ray.log"));
    CHECK_DSDEPLOY_ERROR(logs(d, ex, 5, "h9"), errc::orchestrate_step, "--node", "h9");
    clean_up(root);
}

TEST_CASE("up (fake Ray): a worker that cannot reach the head's port fails reach-head, naming it", "[orchestrate][fake]") {
    const fs::path root = temp_dir("reach");
    ::setenv("DSDEPLOY_SETTLE_SECONDS", "0", 1);
    listener gcs;
    deployment d = local_deployment(root, gcs.port);
    local_executor ex;
    up_options o = quick_options();
    o.until = step::wait_cluster;
    // The head's port answers for wait-head, then closes before the workers check it.
    std::atomic<bool> closed{false};
    int closed_port = gcs.port;
    o.progress = [&](const std::string& line) {
        if (!closed && line.find("wait-head: ") == 0 && line.find("is open") != std::string::npos) {
            ::shutdown(gcs.fd, SHUT_RDWR);
            ::close(gcs.fd);
            gcs.fd = ::socket(AF_INET, SOCK_STREAM, 0);
            closed = true;
        }
    };
    const auto rep = up(d, ex, o);
    INFO(to_text(rep));
    REQUIRE(rep.failure);
    CHECK(rep.failure->step == step::reach_head);
    CHECK(rep.failure->node == "h2");
    CHECK(rep.exit_code() == 1);
    CHECK_THAT(rep.failure->message, Catch::Matchers::Contains("h2 cannot reach the head h1 at 127.0.0.1:" + std::to_string(closed_port)));
    CHECK_DSDEPLOY_ERROR(throw_if_failed(rep), errc::orchestrate_step, "nodes[1]", "step reach-head failed on h2");
    // What earlier steps found is kept.
    CHECK(rep.steps.size() >= 6);
    CHECK(rep.steps.front().step == step::preflight);
    // The worker was never started.
    CHECK_FALSE(fake_ray_alive(d, 1));
    stop_everything(d);
    CHECK_FALSE(fake_ray_alive(d, 0));
    clean_up(root);
}

TEST_CASE("up (fake Ray): an incomplete cluster is orchestrate.timeout within the limit", "[orchestrate][fake]") {
    const fs::path root = temp_dir("incomplete");
    ::setenv("DSDEPLOY_SETTLE_SECONDS", "2", 1);  // start.sh waits: progress lines meanwhile
    listener gcs;
    const deployment d = local_deployment(root, gcs.port);
    write_file(root / "pyenv" / "nodes", "1\n");
    local_executor ex;
    up_options o = quick_options();
    o.cluster_timeout = 6s;
    o.progress_interval = 1s;
    std::vector<std::string> progress;
    o.progress = [&](const std::string& line) { progress.push_back(line); };
    const auto t0 = std::chrono::steady_clock::now();
    const auto rep = up(d, ex, o);
    CHECK(std::chrono::steady_clock::now() - t0 < 40s);
    REQUIRE(rep.failure);
    CHECK(rep.failure->step == step::wait_cluster);
    CHECK(rep.failure->timed_out);
    CHECK_THAT(rep.failure->message, Catch::Matchers::Contains("1/2 nodes"));
    CHECK(std::any_of(progress.begin(), progress.end(),
                      [](const std::string& l) { return l.find("wait-cluster: ") == 0 && l.find(" s, 1/2 nodes") != std::string::npos; }));
    CHECK(std::any_of(progress.begin(), progress.end(), [](const std::string& l) {
        return l.find("start-head: ") == 0 && l.find("./start.sh still running on h1") != std::string::npos;
    }));
    CHECK_DSDEPLOY_ERROR(throw_if_failed(rep), errc::orchestrate_timeout, "nodes[0]", "step wait-cluster failed on h1");
    nlohmann::json j = rep;
    CHECK(j["failure"]["error"] == "orchestrate.timeout");
    stop_everything(d);
    clean_up(root);
}

TEST_CASE("up (fake Ray): a Ray that dies is caught at the next poll, not at the time limit", "[orchestrate][fake]") {
    const fs::path root = temp_dir("dies");
    ::setenv("DSDEPLOY_SETTLE_SECONDS", "0", 1);
    listener gcs;
    const deployment d = local_deployment(root, gcs.port);
    write_file(root / "pyenv" / "nodes", "1\n");
    local_executor ex;
    up_options o = quick_options();
    o.cluster_timeout = 300s;
    o.progress = [&](const std::string& line) {
        if (line.find("wait-cluster: waiting") == 0) {
            std::ifstream in(root / "remote" / "h2" / "run" / "ray.pid");
            int pid = 0;
            in >> pid;
            if (pid > 0) ::kill(-pid, SIGKILL);
        }
    };
    const auto t0 = std::chrono::steady_clock::now();
    const auto rep = up(d, ex, o);
    CHECK(std::chrono::steady_clock::now() - t0 < 60s);
    REQUIRE(rep.failure);
    CHECK(rep.failure->step == step::wait_cluster);
    CHECK(rep.failure->node == "h2");
    CHECK_THAT(rep.failure->message, Catch::Matchers::Contains("is no longer running on h2"));
    stop_everything(d);
    clean_up(root);
}

TEST_CASE("up (fake netcheck worker): a rank that never joins stops the bring-up at netcheck, before anything starts", "[orchestrate][fake]") {
    const fs::path root = temp_dir("netcheck");
    ::setenv("DSDEPLOY_SETTLE_SECONDS", "0", 1);
    listener gcs;
    const deployment d = local_deployment(root, gcs.port);
    write_file(root / "pyenv" / "netcheck-fails", "");
    local_executor ex;
    up_options o = quick_options();
    const auto rep = up(d, ex, o);
    INFO(to_text(rep));
    REQUIRE(rep.failure);
    CHECK(rep.failure->step == step::netcheck);
    CHECK(rep.failure->node == "h2");
    CHECK(rep.exit_code() == 1);
    CHECK_THAT(rep.failure->message, Catch::Matchers::Contains("step netcheck failed on h2: rank 1 on h2 never joined"));
    REQUIRE_FALSE(rep.failure->findings.empty());
    CHECK(rep.failure->findings.front().id == "netcheck.rank_missing");
    CHECK(rep.reached == step::copy);
    for (const auto& st : rep.steps) CHECK(st.step != step::start_head);
    CHECK_FALSE(fake_ray_alive(d, 0));
    // The step was recorded for every node, h1 ok.
    int recorded = 0;
    for (const auto& st : rep.steps)
        if (st.step == step::netcheck) {
            ++recorded;
            CHECK(st.ok == (st.node == "h1"));
        }
    CHECK(recorded == 2);
    // --until netcheck with a healthy fake: stops right after it.
    fs::remove(root / "pyenv" / "netcheck-fails");
    o.until = step::netcheck;
    const auto ok = up(d, ex, o);
    INFO(to_text(ok));
    REQUIRE(ok.ok());
    CHECK(ok.reached == step::netcheck);
    CHECK_FALSE(fake_ray_alive(d, 0));
    clean_up(root);
}

TEST_CASE("preflight: a busy port, a missing model config, an interface without the address", "[orchestrate][fake]") {
    const fs::path root = temp_dir("preflight");
    listener gcs;
    deployment d = local_deployment(root, gcs.port);
    fs::remove(root / "model" / "config.json");
    local_executor ex;
    up_options o = quick_options();
    o.check_ports = true;
    o.until = step::preflight;
    auto rep = up(d, ex, o);
    INFO(to_text(rep));
    REQUIRE(rep.failure);
    CHECK(rep.failure->step == step::preflight);
    CHECK(rep.failure->node == "h1");
    CHECK_THAT(rep.failure->message, Catch::Matchers::Contains("port " + std::to_string(gcs.port) + " (Ray GCS, ports.ray) is already in use"));
    CHECK_THAT(rep.failure->message, Catch::Matchers::Contains("no config.json in the model folder"));
    // Every node's facts are kept.
    CHECK(rep.steps.size() == 2);
    CHECK(rep.steps[1].facts.count("ray"));

    d.inv.cluster.nodes[1].address = "192.0.2.77";
    o.check_ports = false;
    rep = up(d, ex, o);
    REQUIRE(rep.failure);
    CHECK_THAT(rep.failure->message, Catch::Matchers::Contains("h2: the interface lo does not hold 192.0.2.77"));
    clean_up(root);
}

TEST_CASE("deployment state: state.json as the CLI wrote it, unknown keys kept, bad files read as empty", "[orchestrate][state]") {
    const fs::path dir = temp_dir("state");
    inventory inv = dsdeploy_test::cluster_inventory(2, fabric::tcp, runtime_kind::process);
    inv.cluster.nodes[1].ssh = "admin@node2";
    deployment d = make_deployment(inv, "~/dd");
    d.bundle_dir = (dir / "bundle").string();

    CHECK(default_state_dir(inv) == fs::path(".dsdeploy") / inv.name);
    CHECK(state_bundle_dir(dir) == dir / "bundle");
    const deployment_state none = read_deployment_state(dir);
    CHECK_FALSE(none.remote_dir);
    CHECK(none.remote_dir_or("", inv) == default_remote_dir(inv));
    CHECK(none.ssh_config_or("") == "");
    CHECK_FALSE(none.recorded_until());

    // An earlier file with a key this version does not know and a known key of the wrong type.
    write_file(dir / "state.json", R"({"note": {"b": [1, 2.5, "x"]}, "remote_dir": 5, "until": "bogus"})");
    const deployment_state before = read_deployment_state(dir);
    CHECK_FALSE(before.remote_dir);
    CHECK_FALSE(before.recorded_until());
    write_deployment_state(dir, record_deployment(d, "cluster", "/etc/ssh_cfg", before));

    // Byte for byte what the CLI's save_state wrote before the state moved into the library.
    nlohmann::json expected = nlohmann::json::parse(R"({"note": {"b": [1, 2.5, "x"]}, "remote_dir": 5, "until": "bogus"})");
    expected["deployment"] = inv.name;
    expected["remote_dir"] = "~/dd";
    expected["until"] = "cluster";
    expected["ssh_config"] = "/etc/ssh_cfg";
    expected["bundle"] = d.bundle_dir;
    expected["nodes"] = nlohmann::json::array();
    for (std::size_t i = 0; i < inv.cluster.nodes.size(); ++i)
        expected["nodes"].push_back({{"name", inv.cluster.nodes[i].name}, {"target", d.target(i)}, {"dir", d.node_dir(i)}});
    std::ifstream in(dir / "state.json");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text == expected.dump(2) + "\n");
    CHECK_FALSE(fs::exists(dir / "state.json.tmp"));

    const deployment_state after = read_deployment_state(dir);
    CHECK(after.remote_dir_or("", inv) == "~/dd");
    CHECK(after.remote_dir_or("/other", inv) == "/other");
    CHECK(after.ssh_config_or("") == "/etc/ssh_cfg");
    REQUIRE(after.recorded_until());
    CHECK(*after.recorded_until() == step::wait_cluster);
    REQUIRE(after.nodes.size() == 2);
    CHECK(after.nodes[1].target == "admin@node2");
    CHECK(after.other.count("note") == 1);

    write_file(dir / "state.json", "{ not json");
    CHECK_FALSE(read_deployment_state(dir).until);
    write_file(dir / "state.json", "[1, 2]");
    CHECK(read_deployment_state(dir).other.empty());
    fs::remove_all(dir);
}

}  // namespace orchestrate_test
