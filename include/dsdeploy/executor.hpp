// SPDX-License-Identifier: Apache-2.0
// Executors: what runs one command (an argv, stdin data, a time limit) for one node and reports
// its exit status and output. An executor is any type with `command_result run(const std::string&
// target, const command_spec&)`; executor_fn is the type-erased form the bring-up steps use.
// local_executor runs every command on this machine; ssh_executor.hpp has the OpenSSH one.
#pragma once

#include <dsdeploy/config.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// One command for one node.
struct command_spec {
    std::vector<std::string> argv;               // argv[0] looked up in PATH (remotely: by the login shell)
    std::string input;                           // written to stdin, then stdin is closed
    std::chrono::milliseconds timeout{60000};    // the whole command; its process group is killed after it
};

struct command_result {
    bool started = false;          // false: the program (or ssh) could not be run at all
    bool timed_out = false;
    bool unreachable = false;      // the SSH layer failed (ssh exit 255): the node was not reached
    int exit_code = -1;            // -1: killed by a signal, timed out or not started
    std::string out;
    std::string err;
    std::chrono::milliseconds elapsed{0};
    bool ok() const noexcept { return started && !timed_out && !unreachable && exit_code == 0; }
};

// An executor is any type with `command_result run(const std::string& target, const command_spec&)`
// (thread-safe: steps run on several nodes at once). `target` is the node's SSH target.
template <class T, class = void>
struct is_executor : std::false_type {};
template <class T>
struct is_executor<T, std::void_t<decltype(std::declval<command_result&>() =
                                               std::declval<T&>().run(std::declval<const std::string&>(),
                                                                      std::declval<const command_spec&>()))>>
    : std::true_type {};
template <class T>
inline constexpr bool is_executor_v = is_executor<T>::value;

// Runs every command on this machine, whatever the target: its own process group, stdin
// data, stdout/stderr captured apart, the group killed at the time limit. Used by the unit
// tests (every "node" is a folder here) and for single-host deployments.
class local_executor {
public:
    command_result run(const std::string& target, const command_spec& c);
};

// A type-erased executor (what the steps use inside).
using executor_fn = std::function<command_result(const std::string& target, const command_spec&)>;
template <class Executor>
executor_fn erase_executor(Executor& ex) {
    static_assert(is_executor_v<Executor>, "an executor needs command_result run(const std::string&, const command_spec&)");
    return [&ex](const std::string& t, const command_spec& c) { return ex.run(t, c); };
}

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/executor_inl.hpp>
#endif
