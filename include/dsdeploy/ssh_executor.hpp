// SPDX-License-Identifier: Apache-2.0
// The OpenSSH executor: every command over the user's own ssh binary and config, with a strict
// (or accept-new) host-key policy, BatchMode, shared connections (ControlMaster) and a remote
// `timeout` so a time limit stops the remote command too. Every remote command is an argv, quoted
// exactly once (detail/shell.hpp) into the one command line ssh hands to the remote login shell
// (POSIX sh assumed); values travel as positional arguments of fixed bash snippets, never spliced
// into code.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/executor.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

enum class host_key_policy { strict, accept_new };
std::string_view to_string(host_key_policy p);
std::optional<host_key_policy> parse_host_key_policy(std::string_view s);

struct ssh_options {
    std::string ssh = "ssh";           // the user's ssh binary
    std::string config_file;           // -F; empty: the user's ~/.ssh/config
    host_key_policy host_keys = host_key_policy::strict;  // unknown or changed keys are refused
    std::chrono::seconds connect_timeout{10};
    std::chrono::seconds control_persist{60};  // connection reuse (ControlMaster=auto)
    std::string control_dir;           // private 0700 folder for control sockets; empty: made under /tmp
    std::chrono::seconds kill_grace{5};  // remote `timeout -k`: SIGKILL this long after SIGTERM
};

// ssh's arguments for one remote command (no stdin handling here): BatchMode, the host-key
// policy, ConnectTimeout, ServerAlive*, ControlMaster=auto/ControlPath=<control_dir>/%C/
// ControlPersist, optional -F, then "--", the target and the one quoted command line. With
// `remote_timeout` the command runs under the remote `timeout -k GRACE SECONDS`, because killing
// the local ssh does not stop a remote command. Throws config_error orchestrate.ssh for a target
// ssh would read as an option or that holds spaces or control characters.
std::vector<std::string> ssh_argv(const ssh_options& o, const std::string& control_dir, const std::string& target,
                                  const std::vector<std::string>& remote_argv,
                                  std::optional<std::chrono::seconds> remote_timeout = std::nullopt);

// The remote command line: every word of argv quoted once, joined by spaces.
std::string remote_command_line(const std::vector<std::string>& argv);

// OpenSSH: one `ssh` per command, connections shared through a control master per target,
// closed (`ssh -O exit`) and their socket folder removed when the executor is destroyed.
// Exit 255 is the SSH layer's (unreachable, refused host key, authentication): `unreachable`.
// A remote `timeout` exit (124, or 137 after its SIGKILL) is reported as timed_out.
class ssh_executor {
public:
    explicit ssh_executor(ssh_options o = {});
    ~ssh_executor();
    ssh_executor(const ssh_executor&) = delete;
    ssh_executor& operator=(const ssh_executor&) = delete;

    command_result run(const std::string& target, const command_spec& c);
    const ssh_options& options() const noexcept { return o_; }
    const std::string& control_dir();  // made on first use

private:
    ssh_options o_;
    std::string dir_;
    bool own_dir_ = false;
    std::mutex m_;
    std::set<std::string> targets_;
};

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/ssh_executor_inl.hpp>
#endif
