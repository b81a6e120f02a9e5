// SPDX-License-Identifier: Apache-2.0
// Implementation of ssh_executor.hpp.
#pragma once

#include <dsdeploy/detail/process.hpp>
#include <dsdeploy/detail/shell.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/ssh_executor.hpp>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(host_key_policy p) {
    return p == host_key_policy::strict ? "strict" : "accept-new";
}

DSDEPLOY_INLINE std::optional<host_key_policy> parse_host_key_policy(std::string_view s) {
    if (s == "strict") return host_key_policy::strict;
    if (s == "accept-new") return host_key_policy::accept_new;
    return std::nullopt;
}

DSDEPLOY_INLINE std::string remote_command_line(const std::vector<std::string>& argv) {
    for (const auto& a : argv)
        if (a.find('\0') != std::string::npos)
            raise(errc::orchestrate_ssh, "argv", "a remote command argument holds a NUL byte, which no command line can carry");
    return detail::shell::join(argv);
}

DSDEPLOY_INLINE std::vector<std::string> ssh_argv(const ssh_options& o, const std::string& control_dir, const std::string& target,
                                                  const std::vector<std::string>& remote_argv,
                                                  std::optional<std::chrono::seconds> remote_timeout) {
    bool bad = target.empty() || target.front() == '-';
    for (unsigned char c : target)
        if (c <= ' ' || c == 0x7f) bad = true;
    if (bad)
        raise(errc::orchestrate_ssh, "ssh target",
              "\"" + target + "\" is not an SSH target: it must be non-empty, must not start with '-' and must not hold spaces or "
              "control characters (user@host or an ssh_config alias)");
    std::vector<std::string> a = {o.ssh};
    if (!o.config_file.empty()) a.insert(a.end(), {"-F", o.config_file});
    a.insert(a.end(), {"-o", "BatchMode=yes", "-o",
                       std::string("StrictHostKeyChecking=") + (o.host_keys == host_key_policy::strict ? "yes" : "accept-new"),
                       "-o", "ConnectTimeout=" + std::to_string(o.connect_timeout.count()), "-o", "ServerAliveInterval=5", "-o",
                       "ServerAliveCountMax=3"});
    if (!control_dir.empty())
        a.insert(a.end(), {"-o", "ControlMaster=auto", "-o", "ControlPath=" + control_dir + "/%C", "-o",
                           "ControlPersist=" + std::to_string(o.control_persist.count())});
    a.insert(a.end(), {"-T", "--", target});
    std::vector<std::string> cmd;
    if (remote_timeout)
        cmd = {"timeout", "-k", std::to_string(o.kill_grace.count()), std::to_string(std::max<long long>(1, remote_timeout->count()))};
    cmd.insert(cmd.end(), remote_argv.begin(), remote_argv.end());
    a.push_back(remote_command_line(cmd));
    return a;
}

DSDEPLOY_INLINE ssh_executor::ssh_executor(ssh_options o) : o_(std::move(o)) {
    if (!o_.control_dir.empty()) dir_ = o_.control_dir;
}

DSDEPLOY_INLINE const std::string& ssh_executor::control_dir() {
    std::lock_guard<std::mutex> lock(m_);
    if (dir_.empty()) {
        std::string tmpl = "/tmp/dsdeploy-ssh-XXXXXX";  // short: ControlPath must fit a Unix socket path
        if (::mkdtemp(tmpl.data()) != nullptr) {
            dir_ = tmpl;
            own_dir_ = true;
        }
    } else if (!own_dir_) {
        ::mkdir(dir_.c_str(), 0700);
        ::chmod(dir_.c_str(), 0700);
    }
    return dir_;
}

DSDEPLOY_INLINE command_result ssh_executor::run(const std::string& target, const command_spec& c) {
    const std::string& dir = control_dir();
    {
        std::lock_guard<std::mutex> lock(m_);
        targets_.insert(target);
    }
    const auto limit = std::chrono::duration_cast<std::chrono::seconds>(c.timeout + std::chrono::milliseconds(999));
    const auto argv = ssh_argv(o_, dir, target, c.argv, limit);
    // Locally: the remote limit plus the connection and the kill grace.
    const auto local_limit = c.timeout + o_.connect_timeout + o_.kill_grace + std::chrono::seconds(5);
    const auto p = detail::run_process(argv, c.input, local_limit);
    command_result r;
    r.started = p.started;
    r.exit_code = p.timed_out ? -1 : p.exit_code;
    r.timed_out = p.timed_out || p.exit_code == 124 || (p.exit_code == 137 && p.elapsed >= c.timeout);
    r.unreachable = p.started && !p.timed_out && p.exit_code == 255;
    r.out = p.out;
    r.err = p.err;
    r.elapsed = p.elapsed;
    return r;
}

DSDEPLOY_INLINE ssh_executor::~ssh_executor() {
    if (dir_.empty()) return;
    for (const auto& t : targets_) {
        std::vector<std::string> a = {o_.ssh};
        if (!o_.config_file.empty()) a.insert(a.end(), {"-F", o_.config_file});
        a.insert(a.end(), {"-o", "ControlPath=" + dir_ + "/%C", "-O", "exit", "--", t});
        (void)detail::run_process(a, {}, std::chrono::milliseconds(10000));
    }
    if (own_dir_) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
}

DSDEPLOY_NAMESPACE_END
