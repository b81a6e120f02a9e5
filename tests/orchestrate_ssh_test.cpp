// SPDX-License-Identifier: Apache-2.0
// The OpenSSH executor against real sshd hosts (tests/e2e/hosts.sh: namespaces NAME-h1 and
// NAME-h2, each with its own sshd). Run by tests/e2e/orchestrate_ssh.sh, which brings the hosts
// up and down; it passes DSD_ORCH_STATE (hosts.sh's STATE_DIR) and DSD_ORCH_NS (the namespace
// prefix) in the environment.
#include <dsdeploy/detail/process.hpp>
#include <dsdeploy/orchestrate.hpp>
#include <dsdeploy/detail/text.hpp>

#include "test_support.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace dsdeploy;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    REQUIRE(v != nullptr);
    return v;
}

ssh_options options() {
    ssh_options o;
    o.config_file = env("DSD_ORCH_STATE") + "/ssh_config";
    o.connect_timeout = 5s;
    return o;
}

command_spec cmd(std::vector<std::string> argv, std::chrono::milliseconds timeout = 30000ms, std::string input = {}) {
    command_spec c;
    c.argv = std::move(argv);
    c.timeout = timeout;
    c.input = std::move(input);
    return c;
}

// PIDs of the processes in a namespace host whose command line contains `marker`.
std::vector<std::string> pids_in_host(const std::string& host, const std::string& marker) {
    const auto r = detail::run_process({"ip", "netns", "pids", env("DSD_ORCH_NS") + "-" + host}, {}, 10000ms);
    std::vector<std::string> out;
    std::istringstream in(r.out);
    std::string pid;
    while (in >> pid) {
        std::ifstream f("/proc/" + pid + "/cmdline");
        std::string cmdline((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        for (auto& c : cmdline)
            if (c == '\0') c = ' ';
        if (cmdline.find(marker) != std::string::npos) out.push_back(pid);
    }
    return out;
}

}  // namespace

TEST_CASE("ssh executor: commands land on the right host, exit codes and stderr come back", "[ssh]") {
    ssh_executor ssh(options());
    auto r = ssh.run("h1", cmd({"hostname", "-I"}));
    CHECK(r.ok());
    CHECK(r.out.find(env("DSD_ORCH_SUBNET") + ".1") != std::string::npos);
    r = ssh.run("h2", cmd({"ip", "-4", "-o", "addr", "show", "dev", "eth0"}));
    CHECK(r.ok());
    CHECK(r.out.find(env("DSD_ORCH_SUBNET") + ".2/") != std::string::npos);

    r = ssh.run("h1", cmd({"sh", "-c", "echo to-err >&2; exit 42"}));
    CHECK(r.started);
    CHECK_FALSE(r.unreachable);
    CHECK(r.exit_code == 42);
    CHECK(r.err == "to-err\n");

    // Hostile argument values arrive as data on the remote side.
    const std::string hostile = "a b'c\"d $(touch /tmp/PWNED_ssh) `touch /tmp/PWNED_ssh2`; touch /tmp/PWNED_ssh3\nline2";
    r = ssh.run("h2", cmd({"printf", "%s", hostile}));
    CHECK(r.ok());
    CHECK(r.out == hostile);
    r = ssh.run("h2", cmd({"sh", "-c", "ls /tmp/PWNED_ssh* 2>/dev/null | wc -l"}));
    CHECK(r.out == "0\n");
}

TEST_CASE("ssh executor: stdin, big data both ways, parallel commands on one connection", "[ssh]") {
    ssh_executor ssh(options());
    std::string data;
    for (int i = 0; i < 200000; ++i) data += std::to_string(i) + "\n";
    auto r = ssh.run("h1", cmd({"sha256sum"}, 30000ms, data));
    REQUIRE(r.ok());
    const auto local = detail::run_process({"sha256sum"}, data, 30000ms);
    CHECK(r.out == local.out);
    r = ssh.run("h2", cmd({"cat"}, 30000ms, data));
    CHECK(r.ok());
    CHECK(r.out == data);

    std::vector<std::thread> threads;
    std::vector<command_result> results(8);
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] { results[i] = ssh.run(i % 2 ? "h2" : "h1", cmd({"echo", std::to_string(i)})); });
    for (auto& t : threads) t.join();
    for (int i = 0; i < 8; ++i) {
        CHECK(results[i].ok());
        CHECK(results[i].out == std::to_string(i) + "\n");
    }
    // Connection reuse: a control socket per host in the private folder.
    int sockets = 0;
    for (const auto& e : fs::directory_iterator(ssh.control_dir())) sockets += e.is_socket() ? 1 : 0;
    CHECK(sockets == 2);
}

TEST_CASE("ssh executor: the time limit stops the remote command too", "[ssh]") {
    ssh_executor ssh(options());
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = ssh.run("h2", cmd({"sh", "-c", "sleep 31.4159; echo never"}, 2000ms));
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(r.timed_out);
    CHECK_FALSE(r.ok());
    CHECK(r.out.empty());
    CHECK(took < 15s);
    // Nothing of it is left on the host.
    std::vector<std::string> left;
    for (int i = 0; i < 20; ++i) {
        left = pids_in_host("h2", "31.4159");
        if (left.empty()) break;
        std::this_thread::sleep_for(250ms);
    }
    CHECK(left.empty());
}

TEST_CASE("ssh executor: host-key policy strict refuses an unknown key, accept-new records it", "[ssh]") {
    const fs::path dir = fs::path(env("DSD_ORCH_STATE")) / "hostkey-test";
    fs::remove_all(dir);
    fs::create_directories(dir);
    // The test bed's ssh_config with an empty known_hosts file.
    std::ifstream in(env("DSD_ORCH_STATE") + "/ssh_config");
    std::string line, config;
    while (std::getline(in, line)) {
        if (line.find("UserKnownHostsFile") != std::string::npos) line = "  UserKnownHostsFile " + (dir / "known_hosts").string();
        if (line.find("StrictHostKeyChecking") != std::string::npos) continue;  // the executor decides
        config += line + "\n";
    }
    std::ofstream(dir / "ssh_config") << config;
    std::ofstream(dir / "known_hosts").flush();

    ssh_options o = options();
    o.config_file = (dir / "ssh_config").string();
    {
        ssh_executor strict(o);
        const auto r = strict.run("h1", cmd({"true"}));
        CHECK(r.exit_code == 255);
        CHECK(r.unreachable);
        CHECK_THAT(r.err, Catch::Matchers::Contains("Host key verification failed"));
        CHECK(fs::file_size(dir / "known_hosts") == 0);
    }
    {
        o.host_keys = host_key_policy::accept_new;
        ssh_executor accept(o);
        const auto r = accept.run("h1", cmd({"true"}));
        CHECK(r.ok());
        CHECK(fs::file_size(dir / "known_hosts") > 0);
    }
    {
        o.host_keys = host_key_policy::strict;  // now known: strict accepts it
        ssh_executor strict(o);
        CHECK(strict.run("h1", cmd({"true"})).ok());
    }
    fs::remove_all(dir);
}

TEST_CASE("ssh executor: the control masters are closed when the executor goes", "[ssh]") {
    std::string dir;
    {
        ssh_executor ssh(options());
        REQUIRE(ssh.run("h1", cmd({"true"})).ok());
        dir = ssh.control_dir();
        CHECK(fs::exists(dir));
    }
    CHECK_FALSE(fs::exists(dir));
    // No ssh master for this folder is left running.
    const auto r = detail::run_process({"pgrep", "-f", "ControlPath=" + dir}, {}, 5000ms);
    CHECK(r.exit_code == 1);
}
