// SPDX-License-Identifier: Apache-2.0
// Runs a program without a shell: its own process group, data on stdin, stdout and stderr
// captured apart, a time limit that kills the whole group. POSIX only. Not part of the
// stable API (orchestrate.hpp's local and SSH executors are built on it).
#pragma once

#include <dsdeploy/config.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

struct process_result {
    bool started = false;    // the program could be run (false: not found, not executable, no fork)
    bool timed_out = false;  // the time limit passed; the process group was killed
    int exit_code = -1;      // exit status; -1 when killed by a signal or not started
    int signal = 0;          // the signal that ended it, when one did
    std::string out;         // stdout
    std::string err;         // stderr (or why the program could not be run)
    std::chrono::milliseconds elapsed{0};
};

namespace process_impl {
inline void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}
}  // namespace process_impl

// argv[0] is looked up in PATH. The child runs in a new process group; when `limit` passes,
// SIGKILL goes to that group (and only it). `input` is written to its stdin, which is then
// closed (a socket, so a child that stops reading never raises SIGPIPE here). Every fd this
// function opens is close-on-exec, so programs started from other threads at the same time
// never inherit them. Once the child has exited, output still held open by a process it left
// behind is read for `linger` more, then no longer waited for. At most max_output bytes of
// each stream are kept.
inline process_result run_process(const std::vector<std::string>& argv, const std::string& input,
                                  std::chrono::milliseconds limit,
                                  std::chrono::milliseconds linger = std::chrono::milliseconds(500),
                                  std::size_t max_output = std::size_t{64} << 20) {
    using steady = std::chrono::steady_clock;
    using process_impl::close_fd;
    process_result r;
    const auto t0 = steady::now();
    if (argv.empty()) {
        r.err = "no program given";
        return r;
    }
    int out[2] = {-1, -1}, err[2] = {-1, -1}, status_pipe[2] = {-1, -1}, in[2] = {-1, -1};
    auto close_all = [&] {
        for (int* p : {out, err, status_pipe, in}) {
            close_fd(p[0]);
            close_fd(p[1]);
        }
    };
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(status_pipe, O_CLOEXEC) != 0 ||
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
        r.err = std::string("cannot create pipes: ") + std::strerror(errno);
        close_all();
        return r;
    }
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) {
        r.err = std::string("cannot fork: ") + std::strerror(errno);
        close_all();
        return r;
    }
    if (pid == 0) {
        // Only async-signal-safe calls from here on.
        ::setpgid(0, 0);
        ::dup2(in[1], 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        ::signal(SIGPIPE, SIG_DFL);
        ::execvp(args[0], args.data());
        int e = errno;
        ssize_t ignored = ::write(status_pipe[1], &e, sizeof e);
        (void)ignored;
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here: no window in which a kill of the group could miss it
    close_fd(in[1]);
    close_fd(out[1]);
    close_fd(err[1]);
    close_fd(status_pipe[1]);
    int child_errno = 0;
    ssize_t got;
    do {
        got = ::read(status_pipe[0], &child_errno, sizeof child_errno);
    } while (got < 0 && errno == EINTR);
    close_fd(status_pipe[0]);
    if (got == static_cast<ssize_t>(sizeof child_errno)) {
        r.err = std::string("cannot run ") + argv[0] + ": " + std::strerror(child_errno);
        int st = 0;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        close_all();
        r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
        return r;
    }
    r.started = true;

    int in_fd = in[0];
    ::fcntl(in_fd, F_SETFL, ::fcntl(in_fd, F_GETFL) | O_NONBLOCK);
    std::size_t written = 0;
    if (input.empty()) close_fd(in_fd);
    int out_fd = out[0], err_fd = err[0];
    const auto deadline = t0 + limit;
    bool exited = false;
    int status = 0;
    steady::time_point exited_at{};
    steady::time_point last_data = steady::now();
    char buf[65536];
    while (true) {
        if (!exited) {
            const pid_t w = ::waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                exited = true;
                exited_at = steady::now();
            }
        }
        if (exited && out_fd < 0 && err_fd < 0) break;
        const auto now = steady::now();
        if (exited && now - exited_at >= linger && now - last_data >= linger) break;  // left-behind holders
        if (now >= deadline) {
            r.timed_out = true;
            ::kill(-pid, SIGKILL);
            if (!exited) ::kill(pid, SIGKILL);
            break;
        }
        pollfd fds[3];
        int n = 0;
        if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
        if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
        if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
        const int wait_ms = static_cast<int>(std::max<long long>(1, std::min<long long>(left, exited ? 50 : 100)));
        const int ready = n ? ::poll(fds, static_cast<nfds_t>(n), wait_ms) : (::usleep(static_cast<useconds_t>(wait_ms) * 1000), 0);
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) continue;
        for (int i = 0; i < n; ++i) {
            if (!fds[i].revents) continue;
            if (fds[i].fd == in_fd) {
                const ssize_t k = ::send(in_fd, input.data() + written, input.size() - written, MSG_NOSIGNAL);
                if (k > 0) written += static_cast<std::size_t>(k);
                if ((k < 0 && errno != EAGAIN && errno != EINTR) || written >= input.size()) {
                    ::shutdown(in_fd, SHUT_WR);
                    close_fd(in_fd);
                }
                continue;
            }
            int& fd = fds[i].fd == out_fd ? out_fd : err_fd;
            std::string& sink = &fd == &out_fd ? r.out : r.err;
            const ssize_t k = ::read(fd, buf, sizeof buf);
            if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (k <= 0) {
                close_fd(fd);
                continue;
            }
            last_data = steady::now();
            if (sink.size() < max_output)
                sink.append(buf, std::min(static_cast<std::size_t>(k), max_output - sink.size()));
        }
    }
    close_fd(in_fd);
    close_fd(out_fd);
    close_fd(err_fd);
    if (!exited) {
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
    return r;
}

}  // namespace detail
DSDEPLOY_NAMESPACE_END
