// SPDX-License-Identifier: Apache-2.0
// Implementation of timeline.hpp's collection: the probe each node runs (its clock, the states
// of the deployment's processes, and the lines of its vLLM log the timeline needs), its parser,
// and timeline() over an executor.
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/impl/orchestrate_inl.hpp>
#include <dsdeploy/timeline.hpp>
// Not impl/timeline_inl.hpp: in the compiled mode src/orchestrate.cpp compiles this file, and the
// timeline room's definitions belong to src/timeline.cpp alone (an object that held both defined
// them twice, which the fuzz preset's unity batches turned into a link error).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace orch {

// The lines the timeline reads (a superset of detail::tl::classify's patterns, as an ERE).
inline constexpr const char* timeline_pattern =
    "world_size=[0-9]+ rank=|is assigned as|DP group leader|vLLM is using nccl|NCCL INFO.*Init (START|COMPLETE)|Starting to load model|"
    "Loading model from scratch|checkpoint shards|Loading weights took|Model loading took|Warming up|Dynamo bytecode transform|"
    "Compiling a graph|torch.compile t|Capturing CUDA graph|Graph capturing finished|Available KV cache memory|for KV cache|"
    "KV cache size:|Maximum concurrency for|init engine \\(profile|Starting vLLM server|Starting vLLM API server|"
    "Application startup complete|\"POST /|Received request |Added request ";

// Arguments: dir runtime project service pattern. Prints now=, utc_offset=, year=, then for the
// process runtime procs_probed=yes and proc=PID STATE NAME for every process under the PID files
// of run/, run_started= (run/vllm.pid's mtime), vllm_pid=, log=, log_mtime=, and the selected log lines as "NR<TAB>line": each process's first
// and last line, every stage line (at most 4000; only the first POST), the last 50 lines; a line
// over 1200 characters (a progress bar rewritten with \r) keeps its first 300 and last 800.
// Finally log_lines=N.
inline constexpr const char* timeline_script = R"SH(set -u
d=$1; runtime=$2; project=$3; service=$4; export DSDEPLOY_TL_PATTERN="$5"
case $d in "~") d=$HOME ;; "~/"*) d=$HOME/${d#"~/"} ;; esac
echo "now=$(date +%s)"
echo "utc_offset=$(date +%z)"
echo "year=$(date +%Y)"
if [ ! -d "$d" ]; then echo "deployed=no"; exit 0; fi
cd "$d" || exit 1
select_lines() {
    awk '
    function out(nr, l) { if (length(l) > 1200) l = substr(l, 1, 300) "\r" substr(l, length(l) - 799); print nr "\t" l }
    BEGIN { pat = ENVIRON["DSDEPLOY_TL_PATTERN"]; n = 0; post = 0 }
    {
        line = $0; key = ""
        if (match(line, /^\([^)]* pid=[0-9]+[^)]*\)/)) key = substr(line, 1, RLENGTH)
        if (!(key in last)) out(NR, line)
        last[key] = NR; lastline[key] = line
        if (line ~ pat) {
            if (line ~ /"POST \//) { if (!post) { post = 1; out(NR, line) } }
            else if (n < 4000) { n++; out(NR, line) }
        }
        ring[NR % 50] = line
    }
    END {
        for (k in last) out(last[k], lastline[k])
        for (i = NR - 49; i <= NR; i++) if (i > 0) out(i, ring[i % 50])
        print "log_lines=" NR
    }'
}
if [ "$runtime" = process ]; then
    if command -v ps >/dev/null 2>&1; then
        roots=""
        for f in run/*.pid; do
            [ -e "$f" ] || continue
            p=$(cat "$f" 2>/dev/null || true)
            case $p in '' | *[!0-9]*) continue ;; esac
            roots="$roots $p"
        done
        echo "procs_probed=yes"
        ps -e -o pid=,ppid=,stat=,comm= 2>/dev/null | awk -v roots="$roots" '
            BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1 }
            { pid[NR] = $1; parent[$1] = $2; st[$1] = $3; name[$1] = $4 }
            END {
                for (i = 1; i <= NR; i++) {
                    p = pid[i]; q = p; hops = 0
                    while (q != "" && q != "0" && q != "1" && hops < 64) { if (q in root) { print "proc=" p " " st[p] " " name[p]; break } q = parent[q]; hops++ }
                }
            }'
    fi
    if [ -f run/vllm.pid ]; then
        echo "run_started=$(stat -c %Y run/vllm.pid 2>/dev/null || echo 0)"
        echo "vllm_pid=$(cat run/vllm.pid 2>/dev/null)"
    fi
    log=logs/vllm.log
elif [ -f ray/dsdeploy-vllm.log ]; then
    log=ray/dsdeploy-vllm.log
else
    log=
fi
if [ -n "$log" ]; then
    [ -f "$log" ] || { echo "log=none"; exit 0; }
    echo "log=$d/$log"
    echo "log_mtime=$(stat -c %Y "$log" 2>/dev/null || echo 0)"
    select_lines < "$log"
elif docker compose version >/dev/null 2>&1; then
    echo "log=docker compose logs $service"
    docker compose --project-name "$project" --file compose.yaml logs --no-color --no-log-prefix "$service" 2>&1 | select_lines
else
    echo "log=docker-compose logs $service"
    docker-compose --project-name "$project" --file compose.yaml logs --no-color --no-log-prefix "$service" 2>&1 | select_lines
fi
exit 0
)SH";

}  // namespace orch
}  // namespace detail

DSDEPLOY_INLINE std::vector<std::string> detail::orch::timeline_argv(const deployment& d, std::size_t i) {
    return {"bash", "-c", timeline_script, "dsdeploy-timeline", d.node_dir(i), std::string(to_string(d.inv.runtime.kind)),
            docker(d) ? project_of(d, i) : std::string(), docker(d) ? service_of(d, i) : std::string(), timeline_pattern};
}

DSDEPLOY_INLINE timeline_node_input parse_timeline_probe(std::string_view text, const std::string& node) {
    timeline_node_input n;
    n.name = node;
    n.log_found = false;
    bool probed = false;
    std::vector<timeline_node_input::process> procs;
    for (const auto raw : detail::split_lines(text)) {
        std::string_view l = raw;
        // "NR<TAB>line"
        std::size_t i = 0;
        while (i < l.size() && i < 12 && l[i] >= '0' && l[i] <= '9') ++i;
        if (i > 0 && i < l.size() && l[i] == '\t') {
            std::size_t k = 0;
            const auto nr = detail::read_digits(l, k);
            if (nr) n.lines.push_back({static_cast<std::size_t>(*nr), std::string(l.substr(i + 1))});
            continue;
        }
        const auto eq = l.find('=');
        if (eq == std::string_view::npos || eq == 0) continue;
        const std::string_view key = l.substr(0, eq), value = detail::trim(l.substr(eq + 1));
        auto number = [&]() -> std::optional<long long> {
            std::size_t k = 0;
            const bool neg = !value.empty() && value[0] == '-';
            if (neg) k = 1;
            const auto v = detail::read_digits(value, k, 15);
            if (!v) return std::nullopt;
            return neg ? -*v : *v;
        };
        if (key == "now") {
            if (const auto v = number()) n.now = *v;
        } else if (key == "year") {
            if (const auto v = number(); v && *v > 1900 && *v < 10000) n.year = static_cast<int>(*v);
        } else if (key == "utc_offset") {
            // +HHMM / -HHMM
            if (value.size() == 5 && (value[0] == '+' || value[0] == '-')) {
                std::size_t k = 1;
                if (const auto v = detail::read_digits(value, k, 4); v && k == 5) {
                    const int s = static_cast<int>(*v / 100) * 3600 + static_cast<int>(*v % 100) * 60;
                    n.utc_offset_seconds = value[0] == '-' ? -s : s;
                }
            }
        } else if (key == "log_mtime") {
            if (const auto v = number(); v && *v > 0) n.log_mtime = *v;
        } else if (key == "run_started") {
            if (const auto v = number(); v && *v > 0) n.run_started = *v;
        } else if (key == "vllm_pid") {
            if (!value.empty() && value.size() < 12 && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
                n.main_pid = std::string(value);
        } else if (key == "log_lines") {
            if (const auto v = number(); v && *v >= 0) n.total_lines = static_cast<std::size_t>(*v);
        } else if (key == "log") {
            n.log_found = value != "none";
            if (!n.log_found) n.error = "no vLLM log yet";
        } else if (key == "deployed") {
            if (value == "no") {
                n.deployed = false;
                n.error = "nothing deployed";
            }
        } else if (key == "procs_probed") {
            probed = true;
        } else if (key == "proc") {
            const auto w = detail::split(value, ' ');
            if (w.size() >= 2) procs.push_back({std::string(w[0]), std::string(w[1]), w.size() >= 3 ? std::string(w[2]) : std::string()});
        }
    }
    if (probed) n.processes = std::move(procs);
    std::stable_sort(n.lines.begin(), n.lines.end(), [](const log_line& a, const log_line& b) { return a.number < b.number; });
    return n;
}

DSDEPLOY_INLINE timeline_report timeline(const deployment& d, const executor_fn& ex, const cluster_status& status, const timeline_options& o) {
    using namespace detail::orch;
    const std::size_t n = d.inv.cluster.nodes.size();
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    auto results = parallel(all, [&](std::size_t i) {
        command_spec c;
        c.argv = timeline_argv(d, i);
        c.timeout = milliseconds(60000);
        return ex(d.target(i), c);
    });
    std::vector<timeline_node_input> nodes;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string name = d.inv.cluster.nodes[i].name;
        const auto& r = results[i];
        timeline_node_input in;
        if (!r.ok()) {
            in.name = name;
            in.reachable = !r.unreachable && r.started;
            in.log_found = false;
            in.error = describe_exit(r) + ": " + last_line(combined(r));
        } else {
            in = parse_timeline_probe(r.out, name);
        }
        for (const auto& ns : status.nodes) {
            if (ns.name != name) continue;
            if (!ns.reachable) in.reachable = false;
            for (const auto& p : ns.processes)
                if (p.name == "vllm") in.vllm_alive = p.alive;
        }
        nodes.push_back(std::move(in));
    }
    timeline_options oo = o;
    if (oo.head.empty()) oo.head = d.inv.cluster.nodes.at(d.head()).name;
    if (d.bundle.plan.parallel.tp > 0) oo.tensor_parallel_size = d.bundle.plan.parallel.tp;
    return build_timeline(std::move(nodes), oo);
}

DSDEPLOY_NAMESPACE_END
