// SPDX-License-Identifier: Apache-2.0
// Runs a program without a shell and captures its output, with a time limit. POSIX only.
// Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

struct captured {
    bool started = false;    // the program could be run (false: not found or not executable)
    bool timed_out = false;  // killed after the time limit
    int exit_code = -1;      // exit status; -1 when killed by a signal
    std::string output;      // stdout and stderr, interleaved
};

// argv[0] is looked up in PATH. The child gets its own process group, which is killed (and
// only it) when the time limit passes. At most max_output bytes are kept.
inline captured capture_output(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                               std::size_t max_output = std::size_t{16} << 20) {
    captured r;
    if (argv.empty()) return r;
    int fds[2];
    if (::pipe(fds) != 0) return r;
    int exec_err[2];  // tells the parent whether exec failed (close-on-exec: EOF means it worked)
    if (::pipe(exec_err) != 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return r;
    }
    ::fcntl(exec_err[1], F_SETFD, FD_CLOEXEC);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        ::close(exec_err[0]);
        ::close(exec_err[1]);
        return r;
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        ::close(fds[0]);
        ::close(exec_err[0]);
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        ::execvp(args[0], args.data());
        int e = errno;
        ssize_t ignored = ::write(exec_err[1], &e, sizeof e);
        (void)ignored;
        ::_exit(127);
    }
    ::setpgid(pid, pid);
    ::close(fds[1]);
    ::close(exec_err[1]);
    int child_errno = 0;
    const bool exec_failed = ::read(exec_err[0], &child_errno, sizeof child_errno) == static_cast<ssize_t>(sizeof child_errno);
    ::close(exec_err[0]);
    r.started = !exec_failed;

    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timed_out = true;
            ::kill(-pid, SIGKILL);
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) break;
        if (ready == 0) continue;
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (r.output.size() < max_output) r.output.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (r.output.size() > max_output) r.output.resize(max_output);
    return r;
}

}  // namespace detail
DSDEPLOY_NAMESPACE_END
