// SPDX-License-Identifier: Apache-2.0
// The node scripts of launch.hpp's node_scripts, rendered from the launch plan (impl/launch_inl.hpp):
// start.sh and stop.sh on every node; wait-cluster.sh, serve.sh and smoke.sh on the head; for the
// docker runtime (docker compose v2 or docker-compose v1) and for processes.
#pragma once

#include <dsdeploy/detail/shell.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/impl/launch_inl.hpp>
#include <dsdeploy/launch.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {

using shell::quote;

struct script_context {
    const inventory& inv;
    const launch_plan& l;
    const node_launch& n;
    const script_options& o;
    bool head = false;
    bool docker = false;
    bool ray = false;
};

inline std::string script_header(const script_context& c, const std::string& name, const std::string& purpose) {
    std::string s = "#!/usr/bin/env bash\n";
    s += "# shellcheck disable=SC2016 # inventory values are single-quoted on purpose: they are data, never expanded\n";
    s += "# " + name + ": " + purpose + "\n";
    s += "# Node " + c.n.name + " (" + std::string(to_string(c.n.role)) + ", " + c.n.address + ") of deployment " + c.inv.name +
         ", rendered by dsdeploy " DSDEPLOY_VERSION ".\n";
    s += "# Re-render from the inventory instead of editing; every inventory value below is shell-quoted data.\n";
    s += "set -euo pipefail\n";
    s += "here=$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\n";
    s += "me=" + quote(name) + "\n";
    return s;
}

inline std::string docker_prelude(const script_context& c) {
    std::string s;
    s += "project=" + quote(c.o.compose_project) + "\n";
    s += "if docker compose version >/dev/null 2>&1; then\n"
         "    compose=(docker compose --project-name \"$project\" --file \"$here/compose.yaml\")\n"
         "elif command -v docker-compose >/dev/null 2>&1; then\n"
         "    compose=(docker-compose --project-name \"$project\" --file \"$here/compose.yaml\")\n"
         "else\n"
         "    echo \"$me: neither 'docker compose' nor 'docker-compose' is installed\" >&2\n"
         "    exit 3\n"
         "fi\n";
    return s;
}

inline std::string service_line(const script_context& c) { return "service=" + quote(c.o.compose_service) + "\n"; }

inline std::string process_prelude(const script_context& c, bool pyenv = true, bool run_dir = true, bool log_dir = true) {
    std::string s;
    if (pyenv) {
        const std::string prog = c.ray ? "ray" : c.l.engine == engine_kind::sglang ? "python3" : "vllm";
        s += "# The Python environment holding Ray and vLLM: DSDEPLOY_PYTHON_ENV, else runtime.python_env, else PATH.\n";
        s += "default_pyenv=" + quote(c.inv.runtime.python_env) + "\n";
        s += "pyenv=${DSDEPLOY_PYTHON_ENV:-$default_pyenv}\n";
        s += "if [ -z \"$pyenv\" ]; then\n"
             "    if found=$(command -v " + prog + "); then\n"
             "        pyenv=$(dirname \"$(dirname \"$found\")\")\n"
             "    else\n"
             "        echo \"$me: no Python environment: set DSDEPLOY_PYTHON_ENV (or runtime.python_env) to the prefix holding bin/" + prog + "\" >&2\n"
             "        exit 3\n"
             "    fi\n"
             "fi\n";
    }
    if (run_dir) s += "run_dir=\"$here/run\"\n";
    if (log_dir) s += "log_dir=\"$here/logs\"\n";
    return s;
}

inline std::string is_ours_function() {
    return "# Processes started by this node's scripts carry DSDEPLOY_NODE_DIR=<this folder> in their environment.\n"
           "is_ours() {\n"
           "    [ -n \"${1-}\" ] && [ -r \"/proc/$1/environ\" ] && grep -qzxF \"DSDEPLOY_NODE_DIR=$here\" \"/proc/$1/environ\" 2>/dev/null\n"
           "}\n";
}

inline std::string ray_tmp_lines() {
    return "# Ray's temp dir holds its Unix sockets, whose paths may not exceed 107 bytes: keep it in this\n"
           "# folder when the path is short enough, else in a private folder under /tmp named after it.\n"
           "ray_tmp=\"$here/ray\"\n"
           "if [ \"${#ray_tmp}\" -gt 40 ]; then\n"
           "    ray_tmp=\"/tmp/dsdeploy-$(printf '%s' \"$here\" | cksum | cut -d ' ' -f 1)\"\n"
           "fi\n";
}

inline std::string node_env_function(const script_context& c) {
    std::string s = "# This node's environment (network profile, serving.env), set before Ray and vLLM start.\nnode_env() {\n";
    for (const auto& [k, v] : c.n.env) s += "    " + shell::export_line(k, v) + "\n";
    s += "    :\n}\n";
    return s;
}

inline std::string api_key_function() {
    return "api_key() {\n"
           "    local key\n"
           "    key=$(sed -n 's/^VLLM_API_KEY=//p' \"$here/.env\" 2>/dev/null | head -n 1)\n"
           "    if [ -z \"$key\" ]; then\n"
           "        echo \"$me: no VLLM_API_KEY in $here/.env\" >&2\n"
           "        return 1\n"
           "    fi\n"
           "    printf '%s' \"$key\"\n"
           "}\n";
}

inline std::string wait_for_port_function() {
    return "# Waits until host:port accepts a TCP connection (DSDEPLOY_WAIT_SECONDS, default 600).\n"
           "wait_for_port() {\n"
           "    local deadline=$((SECONDS + ${DSDEPLOY_WAIT_SECONDS:-600}))\n"
           "    until (exec 3<>\"/dev/tcp/$1/$2\") 2>/dev/null; do\n"
           "        if [ \"$SECONDS\" -ge \"$deadline\" ]; then\n"
           "            echo \"$me: $3 at $1:$2 does not answer; start it first (or check the firewall)\" >&2\n"
           "            return 1\n"
           "        fi\n"
           "        echo \"$me: waiting for $3 at $1:$2 ...\"\n"
           "        sleep 5\n"
           "    done\n"
           "}\n";
}

// The command as script text: one word per line, the program as `prog`.
inline std::string command_text(const std::string& prog, const std::vector<std::string>& argv, const std::vector<std::string>& extra_words = {}) {
    std::vector<std::string> rest(argv.begin() + 1, argv.end());
    std::string s = prog;
    const std::string body = shell::join_lines(rest, "        ");
    s += " " + body;
    for (const auto& w : extra_words) s += " \\\n        " + w;
    return s;
}

// `setsid bash <this script> __run` in the background, then waits until the PID file names a
// live process of ours.
inline std::string launch_block(const std::string& script, const std::string& what, const std::string& pid_name) {
    std::string s;
    s += "rm -f \"$run_dir/" + pid_name + ".pid\"\n";
    s += "setsid bash \"$here/" + script + "\" __run >>\"$log_dir/" + pid_name + ".log\" 2>&1 </dev/null &\n";
    s += "for _ in $(seq 1 100); do\n"
         "    [ -s \"$run_dir/" + pid_name + ".pid\" ] && break\n"
         "    sleep 0.1\n"
         "done\n"
         "sleep \"${DSDEPLOY_SETTLE_SECONDS:-5}\"\n"
         "pid=$(cat \"$run_dir/" + pid_name + ".pid\" 2>/dev/null || true)\n"
         "if ! is_ours \"$pid\"; then\n"
         "    echo \"$me: " + what + " did not stay up; the end of $log_dir/" + pid_name + ".log:\" >&2\n"
         "    tail -n 30 \"$log_dir/" + pid_name + ".log\" >&2 || true\n"
         "    exit 1\n"
         "fi\n";
    return s;
}

inline std::string already_running(const std::string& what, const std::string& pid_name) {
    return "pid=$(cat \"$run_dir/" + pid_name + ".pid\" 2>/dev/null || true)\n"
           "if is_ours \"$pid\"; then\n"
           "    echo \"$me: " + what + " is already running (pid $pid)\"\n"
           "    exit 0\n"
           "fi\n";
}

inline std::string start_script(const script_context& c) {
    const bool ray = c.ray;
    const bool sglang = c.l.engine == engine_kind::sglang;
    const std::string engine = sglang ? "SGLang" : "vLLM";
    const std::string what = ray ? (c.head ? "the Ray head" : "the Ray worker")
                                 : (c.head ? engine + " (rank 0)" : sglang ? "SGLang (node rank > 0)" : "vLLM (headless)");
    std::string s = script_header(c, "start.sh", "starts " + what + " on this node" + (c.head ? "" : " (after the head answers)") + ".");
    const std::string head = c.l.head_address;
    const int port = c.l.head_port;
    const std::string head_what = ray ? "the Ray head (GCS)" : engine + " rank 0 (rendezvous)";
    if (c.docker) {
        s += docker_prelude(c);
        if (!c.head) s += wait_for_port_function();
        s += "\n";
        if (ray) s += "mkdir -p \"$here/ray\"  # Ray's folder, mounted at /tmp/ray: logs stay on the host\n";
        if (!c.head) s += "wait_for_port " + quote(head) + " " + std::to_string(port) + " " + quote(head_what) + "\n";
        switch (c.inv.runtime.pull) {
        case pull_policy::never:
            // Both Compose versions would otherwise pull a missing image; the node must have it.
            s += "image=" + quote(c.inv.runtime.image) + "\n";
            s += "if ! docker image inspect \"$image\" >/dev/null 2>&1; then\n"
                 "    echo \"$me: the image $image is not on " + c.n.name + " and runtime.pull is \\\"never\\\"; load it (docker load) or pull it first\" >&2\n"
                 "    exit 3\n"
                 "fi\n";
            break;
        case pull_policy::always: s += "\"${compose[@]}\" pull\n"; break;
        case pull_policy::missing: break;
        }
        if (ray) {
            // Ray must be in the image: the official vllm/vllm-openai images have none from 0.18
            // (vllm-project/vllm #36170, #33445), and a custom image may lack it too. Asked of the
            // service itself (its volumes and environment), before the container is left running.
            s += service_line(c);
            s += "if ! ray_version=$(\"${compose[@]}\" run --rm --no-deps --entrypoint ray \"$service\" --version 2>&1); then\n"
                 "    echo \"$me: the image has no working Ray: \\`ray --version\\` in service $service on " + c.n.name +
                 " said: $(printf '%s' \"$ray_version\" | tail -n 3 | tr '\\n' ' ' | cut -c 1-300)\" >&2\n"
                 "    echo \"$me: use launcher = \\\"mp\\\" (vLLM >= 0.11.1, no Ray) or an image that installs Ray\" >&2\n"
                 "    exit 3\n"
                 "fi\n"
                 "echo \"$me: $(printf '%s' \"$ray_version\" | tail -n 1) in the image\"\n";
        }
        s += "\"${compose[@]}\" up --detach\n";
        s += "echo \"$me: started " + what + " on " + c.n.name + "; follow it with: ${compose[*]} logs -f\"\n";
        return s;
    }
    s += process_prelude(c);
    if (ray) s += ray_tmp_lines();
    s += is_ours_function();
    s += node_env_function(c);
    if (!ray && c.head && c.l.api_key) s += api_key_function();
    if (!c.head) s += wait_for_port_function();
    const std::string pid_name = ray ? "ray" : "vllm";
    s += "\nif [ \"${1-}\" = __run ]; then\n";
    s += "    echo \"$$\" >\"$run_dir/" + pid_name + ".pid\"\n";
    s += "    node_env\n";
    s += "    export DSDEPLOY_NODE_DIR=\"$here\"\n";
    if (ray) {
        std::vector<std::string> argv = c.n.ray_start;
        argv.pop_back();  // --block goes last, after the words only known at run time
        std::vector<std::string> extra = {"--temp-dir=\"$ray_tmp\""};
        if (c.n.gpus == 0 && c.inv.runtime.num_cpus == 0) {
            s += "    num_cpus=$(nproc)\n";
            extra.push_back("--num-cpus=\"$num_cpus\"");
        }
        extra.push_back("--block");
        s += "    exec " + command_text("\"$pyenv/bin/ray\"", argv, extra) + "\n";
    } else if (sglang) {
        // SGLang reads the key only from --api-key: it comes from the head's .env at start.
        std::vector<std::string> key_words;
        if (c.head && c.l.api_key) {
            s += "    key=$(api_key)\n";
            key_words = {"--api-key", "\"$key\""};
        }
        s += "    exec " + command_text("\"$pyenv/bin/python3\"", c.n.vllm_serve, key_words) + "\n";
    } else {
        if (c.head && c.l.api_key) s += "    VLLM_API_KEY=$(api_key)\n    export VLLM_API_KEY\n";
        s += "    exec " + command_text("\"$pyenv/bin/vllm\"", c.n.vllm_serve) + "\n";
    }
    s += "fi\n\n";
    s += "mkdir -p \"$run_dir\" \"$log_dir\"\n";
    s += already_running(what, pid_name);
    if (sglang)
        s += "if [ ! -x \"$pyenv/bin/python3\" ] || ! \"$pyenv/bin/python3\" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec(\"sglang\") is None)'; then\n"
             "    echo \"$me: no SGLang in $pyenv (bin/python3 cannot import sglang); point DSDEPLOY_PYTHON_ENV (or runtime.python_env) at the environment holding SGLang\" >&2\n"
             "    exit 3\n"
             "fi\n";
    else
        s += "if [ ! -x \"$pyenv/bin/" + pid_name + "\" ]; then\n"
             "    echo \"$me: $pyenv/bin/" + pid_name + " not found; point DSDEPLOY_PYTHON_ENV (or runtime.python_env) at the environment holding Ray and vLLM\" >&2\n"
             "    exit 3\n"
             "fi\n";
    if (ray)
        s += "if [ \"$ray_tmp\" != \"$here/ray\" ]; then\n"
             "    [ -d \"$ray_tmp\" ] || mkdir -m 700 \"$ray_tmp\"\n"
             "    if [ ! -O \"$ray_tmp\" ]; then\n"
             "        echo \"$me: $ray_tmp belongs to another user; remove it\" >&2\n"
             "        exit 3\n"
             "    fi\n"
             "    [ -e \"$here/ray\" ] || ln -s \"$ray_tmp\" \"$here/ray\"\n"
             "else\n"
             "    mkdir -p \"$ray_tmp\"\n"
             "fi\n";
    if (!c.head) s += "wait_for_port " + quote(head) + " " + std::to_string(port) + " " + quote(head_what) + "\n";
    s += launch_block("start.sh", what, pid_name);
    s += "echo \"$me: " + what + " is running on " + c.n.name + " (pid $pid); log: $log_dir/" + pid_name + ".log\"\n";
    return s;
}

inline std::string stop_script(const script_context& c) {
    std::string s = script_header(c, "stop.sh", "stops what this node's scripts started, and nothing else.");
    if (c.docker) {
        s += docker_prelude(c);
        s += "\n\"${compose[@]}\" down --timeout 30\n";
        s += "echo \"$me: stopped project $project on " + c.n.name + "\"\n";
        return s;
    }
    s += process_prelude(c, false, true, false);
    s += is_ours_function();
    s += "# No such process, or one that died and is not reaped yet (a zombie keeps its PID).\n"
         "leader_gone() {\n"
         "    [ ! -e \"/proc/$1\" ] || grep -q '^State:[[:space:]]*Z' \"/proc/$1/status\" 2>/dev/null\n"
         "}\n";
    s += "# Stops the process group a PID file names: TERM, up to 30 s (10 s for a group without its leader), then KILL.\n"
         "stop_pidfile() {\n"
         "    local pidfile=\"$run_dir/$1.pid\" pid\n"
         "    pid=$(cat \"$pidfile\" 2>/dev/null || true)\n"
         "    if is_ours \"$pid\"; then\n"
         "        echo \"$me: stopping $1 (process group $pid)\"\n"
         "        kill -TERM -- \"-$pid\" 2>/dev/null || true\n"
         "        for _ in $(seq 1 30); do\n"
         "            is_ours \"$pid\" || break\n"
         "            sleep 1\n"
         "        done\n"
         "        kill -KILL -- \"-$pid\" 2>/dev/null || true\n"
         "    elif [ -n \"$pid\" ] && leader_gone \"$pid\" && pgrep -g \"$pid\" >/dev/null 2>&1; then\n"
         "        # The leader was killed but its group lives on (vLLM's workers, whose environment\n"
         "        # setproctitle overwrites, so the marker cannot be read). A process group id is not\n"
         "        # reused while the group has members: this is still the group start.sh made.\n"
         "        # Without their leader vLLM's workers ignore TERM: 10 s (docker stop's grace), then KILL.\n"
         "        echo \"$me: stopping what is left of $1 (process group $pid; its leader is gone)\"\n"
         "        kill -TERM -- \"-$pid\" 2>/dev/null || true\n"
         "        for _ in $(seq 1 10); do\n"
         "            pgrep -g \"$pid\" >/dev/null 2>&1 || break\n"
         "            sleep 1\n"
         "        done\n"
         "        kill -KILL -- \"-$pid\" 2>/dev/null || true\n"
         "    fi\n"
         "    rm -f \"$pidfile\"\n"
         "}\n"
         "# Signals every other process that carries this node's marker (e.g. a worker that left the group).\n"
         "sweep() {\n"
         "    local p pid found=1\n"
         "    for p in /proc/[0-9]*; do\n"
         "        pid=${p#/proc/}\n"
         "        [ \"$pid\" = \"$$\" ] && continue\n"
         "        if is_ours \"$pid\"; then\n"
         "            kill \"-$1\" \"$pid\" 2>/dev/null || true\n"
         "            found=0\n"
         "        fi\n"
         "    done\n"
         "    return \"$found\"\n"
         "}\n\n";
    s += "stop_pidfile vllm\n";
    if (c.ray) s += "stop_pidfile ray\n";
    s += "if sweep TERM; then\n"
         "    sleep 3\n"
         "    sweep KILL || true\n"
         "fi\n";
    s += "echo \"$me: nothing started by " + c.n.name + "'s scripts is running any more\"\n";
    return s;
}

inline const char* wait_cluster_python() {
    return "import sys, time\n"
           "want_nodes, want_gpus, timeout, address, node_ip = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]\n"
           "import ray\n"
           "deadline = time.time() + timeout\n"
           "while True:\n"
           "    try:\n"
           "        # this node's cluster address, as ray start --node-ip-address registered it\n"
           "        ray.init(address=address, _node_ip_address=node_ip, logging_level=\"ERROR\", log_to_driver=False)\n"
           "        break\n"
           "    except Exception as e:\n"
           "        if time.time() > deadline:\n"
           "            print(f\"wait-cluster.sh: cannot reach the Ray head at {address}: {e}\", file=sys.stderr)\n"
           "            sys.exit(1)\n"
           "        time.sleep(5)\n"
           "while True:\n"
           "    alive = [n for n in ray.nodes() if n.get(\"Alive\")]\n"
           "    gpus = sum(n.get(\"Resources\", {}).get(\"GPU\", 0) for n in alive)\n"
           "    cpus = sum(n.get(\"Resources\", {}).get(\"CPU\", 0) for n in alive)\n"
           "    print(f\"wait-cluster.sh: {len(alive)}/{want_nodes} nodes, {gpus:g}/{want_gpus:g} GPUs, {cpus:g} CPUs\", flush=True)\n"
           "    if len(alive) >= want_nodes and gpus >= want_gpus:\n"
           "        sys.exit(0)\n"
           "    if time.time() > deadline:\n"
           "        print(\"wait-cluster.sh: the Ray cluster is incomplete; run start.sh on the missing nodes, check their logs and the firewall\", file=sys.stderr)\n"
           "        sys.exit(1)\n"
           "    time.sleep(5)\n";
}

inline std::string wait_cluster_script(const script_context& c) {
    std::string s = script_header(c, "wait-cluster.sh",
                                  fmt::format("waits until the Ray cluster has {} nodes and {} GPUs (DSDEPLOY_WAIT_SECONDS, default 900).",
                                              c.l.expected_nodes, c.l.expected_gpus));
    if (c.docker) s += docker_prelude(c) + service_line(c);
    else s += process_prelude(c, true, false, false) + "cd \"$here\"\n";
    s += "nodes=" + std::to_string(c.l.expected_nodes) + "\n";
    s += "gpus=" + std::to_string(c.l.expected_gpus) + "\n";
    s += "address=" + quote(c.l.ray_address) + "\n";
    s += "node_ip=" + quote(c.n.address) + "\n";
    s += "timeout=${DSDEPLOY_WAIT_SECONDS:-900}\n\n";
    if (c.docker) s += "\"${compose[@]}\" exec -T \"$service\" python3 - \"$nodes\" \"$gpus\" \"$timeout\" \"$address\" \"$node_ip\" <<'PY'\n";
    else s += "\"$pyenv/bin/python\" - \"$nodes\" \"$gpus\" \"$timeout\" \"$address\" \"$node_ip\" <<'PY'\n";
    s += wait_cluster_python();
    s += "PY\n";
    return s;
}

inline std::string serve_script(const script_context& c) {
    std::string s = script_header(c, "serve.sh", "waits for the Ray cluster, then starts vllm serve on the head.");
    if (c.docker) {
        s += docker_prelude(c) + service_line(c);
        s += "\nbash \"$here/wait-cluster.sh\"\n";
        s += "# vllm serve runs inside the head's container (it must be a Ray driver on a node of the cluster);\n"
             "# its PID and log go to the Ray folder, which is this node's ./ray on the host.\n"
             "# The sh -c script is literal; its arguments carry the values.\n";
        s += "\"${compose[@]}\" exec -T -d \"$service\" sh -c 'export RAY_ADDRESS=\"$1\"; shift; echo \"$$\" >/tmp/ray/dsdeploy-vllm.pid; "
             "exec \"$@\" >>/tmp/ray/dsdeploy-vllm.log 2>&1' dsdeploy-serve " +
             quote(c.l.ray_address) + " \\\n    " + command_text("vllm", c.n.vllm_serve) + "\n";
        s += "echo \"$me: vLLM is loading the model on " + c.n.name + "; log: $here/ray/dsdeploy-vllm.log\"\n";
        s += "echo \"$me: run $here/smoke.sh to wait for " + c.l.api_url + "/health and send one request\"\n";
        return s;
    }
    s += process_prelude(c);
    s += is_ours_function();
    s += node_env_function(c);
    if (c.l.api_key) s += api_key_function();
    s += "\nif [ \"${1-}\" = __run ]; then\n";
    s += "    echo \"$$\" >\"$run_dir/vllm.pid\"\n";
    s += "    node_env\n";
    s += "    export DSDEPLOY_NODE_DIR=\"$here\"\n";
    s += "    export RAY_ADDRESS=" + quote(c.l.ray_address) + "\n";
    if (c.l.api_key) s += "    VLLM_API_KEY=$(api_key)\n    export VLLM_API_KEY\n";
    s += "    exec " + command_text("\"$pyenv/bin/vllm\"", c.n.vllm_serve) + "\n";
    s += "fi\n\n";
    s += "mkdir -p \"$run_dir\" \"$log_dir\"\n";
    s += already_running("vLLM", "vllm");
    s += "if [ ! -x \"$pyenv/bin/vllm\" ]; then\n"
         "    echo \"$me: $pyenv/bin/vllm not found; point DSDEPLOY_PYTHON_ENV (or runtime.python_env) at the environment holding vLLM\" >&2\n"
         "    exit 3\n"
         "fi\n";
    s += "bash \"$here/wait-cluster.sh\"\n";
    s += launch_block("serve.sh", "vLLM", "vllm");
    s += "echo \"$me: vLLM is loading the model on " + c.n.name + " (pid $pid); log: $log_dir/vllm.log\"\n";
    s += "echo \"$me: run $here/smoke.sh to wait for " + c.l.api_url + "/health and send one request\"\n";
    return s;
}

inline std::string smoke_script(const script_context& c) {
    std::string s = script_header(c, "smoke.sh",
                                  "waits for the API's /health (DSDEPLOY_WAIT_SECONDS, default 3600), lists the models and sends one chat request.");
    nlohmann::json body = {{"model", c.l.served_model_name},
                           {"messages", nlohmann::json::array({{{"role", "user"}, {"content", "Reply with one word: ready?"}}})},
                           {"max_tokens", 8},
                           {"temperature", 0}};
    s += "url=" + quote(c.l.api_url) + "\n";
    s += "echo \"$me: checking $url (node folder $here)\"\n";
    s += "body=" + quote(body.dump()) + "\n";
    s += "timeout=${DSDEPLOY_WAIT_SECONDS:-3600}\n";
    if (c.l.api_key) {
        s += api_key_function();
        s += "key=$(api_key)\n";
        s += "# The key goes to curl on stdin, not on its command line.\n"
             "request() {\n"
             "    printf 'header = \"Authorization: Bearer %s\"\\n' \"$key\" | curl --config - \"$@\"\n"
             "}\n";
    } else {
        s += "request() {\n    curl \"$@\"\n}\n";
    }
    s += "\ndeadline=$((SECONDS + timeout))\n"
         "until curl -fs -o /dev/null --max-time 10 \"$url/health\"; do\n"
         "    if [ \"$SECONDS\" -ge \"$deadline\" ]; then\n"
         "        echo \"$me: $url/health did not answer within ${timeout}s; see the vLLM log on the head\" >&2\n"
         "        exit 1\n"
         "    fi\n"
         "    echo \"$me: waiting for $url/health (loading the weights can take tens of minutes) ...\"\n"
         "    sleep 15\n"
         "done\n"
         "echo \"$me: $url/health answers; models:\"\n"
         "request -fsS --max-time 30 \"$url/v1/models\"\n"
         "echo\n"
         "echo \"$me: one chat request:\"\n"
         "request -fsS --max-time 600 -H 'Content-Type: application/json' --data-raw \"$body\" \"$url/v1/chat/completions\"\n"
         "echo\n"
         "echo \"$me: OK\"\n";
    return s;
}

}  // namespace detail

DSDEPLOY_INLINE std::vector<script> node_scripts(const inventory& inv, const launch_plan& l, std::size_t index, const script_options& o) {
    const node_launch& n = l.nodes.at(index);
    detail::script_context c{inv, l, n, o};
    c.head = index == l.head;
    c.docker = l.runtime == runtime_kind::docker;
    c.ray = l.launcher == launcher_kind::ray;
    std::vector<script> out;
    out.push_back({"start.sh", detail::start_script(c)});
    out.push_back({"stop.sh", detail::stop_script(c)});
    if (c.head) {
        if (c.ray) {
            out.push_back({"wait-cluster.sh", detail::wait_cluster_script(c)});
            out.push_back({"serve.sh", detail::serve_script(c)});
        }
        out.push_back({"smoke.sh", detail::smoke_script(c)});
    }
    return out;
}

DSDEPLOY_NAMESPACE_END
