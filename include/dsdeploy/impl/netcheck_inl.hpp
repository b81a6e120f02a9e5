// SPDX-License-Identifier: Apache-2.0
// The netcheck room's implementation: the command per node, reading the worker's JSON lines,
// the verdict, running every node at once, text and JSON.
#pragma once

#include <dsdeploy/netcheck.hpp>

#include <dsdeploy/compose.hpp>
#include <dsdeploy/detail/address.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose_nccl.hpp>
#include <dsdeploy/network.hpp>
#include <dsdeploy/orchestrate.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <future>
#include <sstream>

#include <arpa/inet.h>
#include <sys/socket.h>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
namespace netcheck {

constexpr std::size_t max_line = 64 * 1024;       // a worker line longer than this is not ours
constexpr std::size_t max_ranks_per_node = 1024;
constexpr std::size_t max_sizes = 64;
constexpr std::size_t max_text = 2000;            // error messages kept per rank
constexpr std::size_t max_interfaces = 256;


inline int planned_local_ranks(const node& n) { return n.gpu_count > 0 ? n.gpu_count : 1; }

inline bool any_gpu(const inventory& inv) {
    return std::any_of(inv.cluster.nodes.begin(), inv.cluster.nodes.end(), [](const node& n) { return n.gpu_count > 0; });
}

inline std::string sizes_arg(const std::vector<std::uint64_t>& sizes) {
    std::string s;
    for (auto b : sizes) s += (s.empty() ? "" : ",") + std::to_string(b);
    return s;
}

// The fixed wrapper for the docker runtime: compose v2, else docker-compose 1.x; values arrive as
// positional parameters ($1 the node folder, $2 the project, $3 the service, then python's args).
// The service's environment is vLLM's; NCCL_DEBUG=INFO is added so that NCCL says its transport.
constexpr const char* compose_run_script = R"sh(set -eu
cd "$1"; project=$2; service=$3; shift 3
if docker compose version >/dev/null 2>&1; then
    exec docker compose --project-name "$project" --file compose.yaml run --rm --no-deps -T \
        -e NCCL_DEBUG=INFO -e NCCL_DEBUG_SUBSYS=INIT,NET --entrypoint python3 "$service" "$@"
elif command -v docker-compose >/dev/null 2>&1; then
    exec docker-compose --project-name "$project" --file compose.yaml run --rm --no-deps -T \
        -e NCCL_DEBUG=INFO -e NCCL_DEBUG_SUBSYS=INIT,NET --entrypoint python3 "$service" "$@"
fi
echo "netcheck: neither docker compose (v2) nor docker-compose (1.x) is installed" >&2
exit 3
)sh";

struct finder {
    std::vector<finding> out;
    void add(std::string id, severity level, std::string node, std::string message, std::string evidence, std::string fix) {
        out.push_back(finding{std::move(id), level, std::move(node), "netcheck", std::move(message), std::move(evidence), std::move(fix)});
    }
};

inline std::string clip(std::string s, std::size_t n = max_text) {
    if (s.size() > n) s = s.substr(0, n) + "...";
    return s;
}

inline std::string gbs(double v) { return fmt::format("{:.3g} GB/s", v); }

inline std::string bytes_text(std::uint64_t b) {
    if (b >= (1u << 20) && b % (1u << 20) == 0) return std::to_string(b >> 20) + " MiB";
    if (b >= 1024 && b % 1024 == 0) return std::to_string(b >> 10) + " KiB";
    return std::to_string(b) + " B";
}

}  // namespace netcheck
}  // namespace detail

DSDEPLOY_INLINE std::optional<double> netcheck_report::min_busbw_gbs() const {
    std::optional<double> lo;
    std::uint64_t largest = 0;
    for (const auto& n : nodes)
        for (const auto& r : n.ranks)
            for (const auto& s : r.sizes) largest = std::max(largest, s.bytes);
    for (const auto& n : nodes)
        for (const auto& r : n.ranks) {
            auto it = std::find_if(r.sizes.begin(), r.sizes.end(), [&](const netcheck_size& s) { return s.bytes == largest; });
            if (it == r.sizes.end()) return std::nullopt;
            lo = lo ? std::min(*lo, it->busbw_gbs) : it->busbw_gbs;
        }
    return lo;
}

DSDEPLOY_INLINE int netcheck_report::exit_code() const {
    bool error = false;
    for (const auto& f : findings)
        if (f.level == severity::error) {
            if (f.id == "netcheck.unreachable") return 3;
            error = true;
        }
    return error ? 1 : 0;
}

DSDEPLOY_INLINE command_spec netcheck_command(const deployment& d, std::size_t i, const netcheck_options& o) {
    namespace nc = detail::netcheck;
    const auto& inv = d.inv;
    const auto& n = inv.cluster.nodes.at(i);
    const auto& l = d.bundle.launch;
    const auto& nl = l.nodes.at(i);
    int nnodes = static_cast<int>(inv.cluster.nodes.size());
    const int local = nc::planned_local_ranks(n);
    int node_rank = 0;  // the head is node rank 0 (it hosts the rendezvous), the others in inventory order
    if (i != l.head) node_rank = 1 + static_cast<int>(i < l.head ? i : i - 1);
    const bool gpu = nc::any_gpu(inv);
    const int port = o.port > 0 ? o.port : inv.ports.master;
    std::vector<std::string> args = {"-c", netcheck_worker_program(), "--node-rank", std::to_string(node_rank), "--nnodes",
                                     std::to_string(nnodes), "--local-ranks", std::to_string(local), "--master-addr", l.head_address,
                                     "--master-port", std::to_string(port), "--backend", gpu ? "nccl" : "gloo", "--sizes",
                                     nc::sizes_arg(o.sizes), "--iters", std::to_string(o.iterations), "--warmup",
                                     std::to_string(o.warmup), "--timeout", std::to_string(o.join_timeout.count()), "--interface",
                                     node_interface(inv.network, n)};
    command_spec c;
    // The join timeout, then every size at a few seconds each, then the interpreter's start.
    c.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.join_timeout) +
                std::chrono::seconds(60 + 10 * static_cast<long long>(o.sizes.size()));
    if (inv.runtime.kind == runtime_kind::docker) {
        c.argv = {"bash", "-c", nc::compose_run_script, "dsdeploy-netcheck", d.node_dir(i), compose_project_name(inv, i),
                  compose_service_name(l, i)};
        c.argv.insert(c.argv.end(), args.begin(), args.end());
        return c;
    }
    c.argv = {"env"};
    for (const auto& [k, v] : nl.env) c.argv.push_back(k + "=" + v);
    if (gpu) c.argv.insert(c.argv.end(), {"NCCL_DEBUG=INFO", "NCCL_DEBUG_SUBSYS=INIT,NET"});
    c.argv.push_back(inv.runtime.python_env.empty() ? std::string("python3") : inv.runtime.python_env + "/bin/python");
    c.argv.insert(c.argv.end(), args.begin(), args.end());
    return c;
}

DSDEPLOY_INLINE void parse_netcheck_output(std::string_view out, netcheck_node& node) {
    namespace nc = detail::netcheck;
    auto rank_of = [&](int rank) -> netcheck_rank* {
        for (auto& r : node.ranks)
            if (r.rank == rank) return &r;
        if (node.ranks.size() >= nc::max_ranks_per_node || rank < 0) return nullptr;
        node.ranks.push_back(netcheck_rank{});
        node.ranks.back().rank = rank;
        return &node.ranks.back();
    };
    std::size_t pos = 0;
    while (pos < out.size()) {
        std::size_t end = out.find('\n', pos);
        if (end == std::string_view::npos) end = out.size();
        std::string_view line = out.substr(pos, end - pos);
        pos = end + 1;
        if (line.size() > nc::max_line || line.empty() || line.front() != '{') continue;
        nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
        if (!j.is_object() || !j.contains("event") || !j["event"].is_string()) continue;
        const std::string ev = j["event"].get<std::string>();
        auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? nc::clip(j[k].get<std::string>()) : std::string(); };
        auto num = [&](const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : 0.0; };
        auto integer = [&](const char* k) -> std::optional<int> {
            if (!j.contains(k) || !j[k].is_number_integer()) return std::nullopt;
            const auto v = j[k].get<std::int64_t>();
            if (v < -1000000 || v > 1000000000) return std::nullopt;
            return static_cast<int>(v);
        };
        if (ev == "node") {
            node.hostname = nc::clip(str("hostname"), 255);
            if (j.contains("interface_exists") && j["interface_exists"].is_boolean()) node.interface_exists = j["interface_exists"].get<bool>();
            node.link_mbps = integer("link_mbps");
            if (node.link_mbps && *node.link_mbps <= 0) node.link_mbps.reset();  // veth/virtual: -1 or 0, unknown
            node.addresses.clear();
            if (j.contains("addresses") && j["addresses"].is_object())
                for (const auto& [name, list] : j["addresses"].items()) {
                    if (node.addresses.size() >= nc::max_interfaces || name.size() > 64 || !list.is_array()) continue;
                    auto& v = node.addresses[name];
                    for (const auto& a : list)
                        if (a.is_string() && a.get<std::string>().size() <= 64 && v.size() < 64) v.push_back(a.get<std::string>());
                }
            continue;
        }
        const auto rank = integer("rank");
        if (!rank) continue;
        netcheck_rank* r = rank_of(*rank);
        if (!r) continue;
        if (ev == "start") {
            if (auto lr = integer("local_rank")) r->local_rank = *lr;
            if (j.contains("backend") && j["backend"].is_string()) node.backend = nc::clip(j["backend"].get<std::string>(), 16);
        } else if (ev == "joined") {
            r->joined = true;
            r->join_s = num("seconds");
        } else if (ev == "result") {
            if (r->sizes.size() >= nc::max_sizes) continue;
            netcheck_size s;
            const double b = num("bytes");
            if (!(b >= 0 && b < 1e15)) continue;
            s.bytes = static_cast<std::uint64_t>(b);
            s.time_us = num("time_us");
            s.algbw_gbs = num("algbw_gbs");
            s.busbw_gbs = num("busbw_gbs");
            r->sizes.push_back(s);
        } else if (ev == "done") {
            r->done = true;
        } else if (ev == "error") {
            r->error_stage = nc::clip(str("stage"), 200);
            r->error = str("message");
        }
    }
    std::sort(node.ranks.begin(), node.ranks.end(), [](const netcheck_rank& a, const netcheck_rank& b) { return a.rank < b.rank; });
}

DSDEPLOY_INLINE std::vector<finding> judge_netcheck(const inventory& inv, const netcheck_report& rep, const netcheck_options& o) {
    namespace nc = detail::netcheck;
    nc::finder f;
    const bool fast_fabric = inv.network.kind != fabric::tcp;
    for (const auto& n : rep.nodes) {
        if (!n.reached) {
            f.add("netcheck.unreachable", severity::error, n.name, "the node could not be reached to run the check",
                  n.stderr_tail, "check SSH to the node (dsdeploy up --until preflight says more)");
            continue;
        }
        if (!n.interface.empty() && n.hostname.size() + n.addresses.size() > 0) {
            // Where the node's own address lives, to name the interface that would be right.
            std::string holder;
            for (const auto& [name, addrs] : n.addresses)
                for (const auto& a : addrs)
                    if (dsdeploy::detail::same_address(a, n.address)) holder = name;
            if (!n.interface_exists) {
                f.add("netcheck.wrong_interface", severity::error, n.name,
                      "the interface " + n.interface + " does not exist on " + n.name + " (GLOO/NCCL_SOCKET_IFNAME)",
                      "", holder.empty() ? "set network.interface (or nodes[].interface) to the interface that reaches the other nodes"
                                         : "set the interface to " + holder + ", which holds " + n.address);
            } else if (!holder.empty() && holder != n.interface) {
                f.add("netcheck.wrong_interface", severity::error, n.name,
                      "the interface " + n.interface + " on " + n.name + " does not hold the node's address " + n.address +
                          " (it is on " + holder + "): Gloo and NCCL would advertise " + n.interface + "'s address to the other ranks",
                      "", "set the interface of " + n.name + " to " + holder + " (nodes[].interface or network.interface)");
            }
        }
        for (int want = 0; want < n.planned_ranks; ++want) {
            const netcheck_rank* r = nullptr;
            for (const auto& x : n.ranks)
                if (x.local_rank == want) r = &x;
            if (!r || !r->joined) {
                std::string why = r && !r->error.empty() ? " (" + r->error_stage + ": " + r->error + ")"
                                   : n.timed_out       ? " (the worker timed out)"
                                                       : " (the worker exited " + std::to_string(n.exit_code) + ")";
                const bool mesh = r && r->error.find("connectFullMesh") != std::string::npos;
                f.add("netcheck.rank_missing", severity::error, n.name,
                      (r ? "rank " + std::to_string(r->rank) : "local rank " + std::to_string(want)) + " on " + n.name +
                          " never joined the all-reduce at " + rep.master + why,
                      r ? nc::clip(r->error, 400) : dsdeploy::detail::tail_lines(n.stderr_tail, 3, 400),
                      mesh ? "the ranks reached the rendezvous but not each other: Gloo and NCCL connect on ephemeral ports, so "
                             "open TCP between the nodes' cluster addresses (a firewall that allows only the listed ports is "
                             "not enough) and check that each node's interface holds its address"
                           : "check that " + n.name + " reaches " + rep.master + " (firewall, route) and that every node's interface "
                             "holds its address; a rendezvous port already in use on the head gives the same");
            } else if (!r->error.empty() || !r->done) {
                f.add("netcheck.collective_failed", severity::error, n.name,
                      "rank " + std::to_string(r->rank) + " on " + n.name + " joined but the all-reduce failed" +
                          (r->error_stage.empty() ? std::string() : " at " + r->error_stage),
                      nc::clip(r->error, 400), "look at the worker's stderr (dsdeploy netcheck --json) and the NCCL/Gloo lines it printed");
            }
        }
        if (n.backend == "nccl") {
            const auto nccl = parse_nccl_log(n.stderr_tail);
            const bool socket = std::find(nccl.networks.begin(), nccl.networks.end(), "Socket") != nccl.networks.end();
            if (fast_fabric && socket)
                f.add("netcheck.tcp_fallback", severity::error, n.name,
                      "NCCL on " + n.name + " runs over TCP sockets although the inventory's fabric is " +
                          std::string(to_string(inv.network.kind)),
                      nccl.socket_network ? nccl.socket_network->text : std::string(),
                      "make the RDMA devices visible to the runtime (/dev/infiniband, IPC_LOCK, memlock), check NCCL_IB_HCA "
                      "and that the HCAs are up (ibv_devinfo)");
        }
    }
    // Bandwidth against the slowest link the nodes report.
    std::optional<int> link;
    for (const auto& n : rep.nodes)
        if (n.link_mbps) link = link ? std::min(*link, *n.link_mbps) : *n.link_mbps;
    const auto bw = rep.min_busbw_gbs();
    if (bw && link && rep.world > 1) {
        const double link_gbs = *link / 8000.0;
        if (*bw < o.min_link_fraction * link_gbs)
            f.add("netcheck.low_bandwidth", severity::error, "",
                  fmt::format("the all-reduce's bus bandwidth is {} ({:.1f}% of the slowest link, {} Mb/s = {}), below {:.0f}%",
                              nc::gbs(*bw), 100.0 * *bw / link_gbs, *link, nc::gbs(link_gbs), 100.0 * o.min_link_fraction),
                  "", fast_fabric ? "look for a TCP fallback (NCCL_DEBUG=INFO), a degraded port (ibstat) or a throttled link"
                                  : "check the link (ethtool, tc qdisc), the MTU and the interface each node uses");
    } else if (bw && !link && rep.world > 1) {
        f.add("netcheck.link_rate_unknown", severity::info, "",
              "no node reports its link rate (sysfs speed), so the bandwidth (" + nc::gbs(*bw) + ") was not judged", "",
              "compare the figure with the link's rate by hand");
    }
    return std::move(f.out);
}

DSDEPLOY_INLINE netcheck_report run_netcheck(const deployment& d, const executor_fn& ex, const netcheck_options& o) {
    namespace nc = detail::netcheck;
    using steady = std::chrono::steady_clock;
    const auto t0 = steady::now();
    netcheck_report rep;
    const auto& inv = d.inv;
    rep.backend = nc::any_gpu(inv) ? "nccl" : "gloo";
    rep.master = dsdeploy::detail::host_port(d.bundle.launch.head_address, o.port > 0 ? o.port : inv.ports.master);
    for (const auto& n : inv.cluster.nodes) rep.world += nc::planned_local_ranks(n);
    if (o.progress)
        o.progress("netcheck: one " + rep.backend + " all-reduce across " + std::to_string(rep.world) + " ranks on " +
                   std::to_string(inv.cluster.nodes.size()) + " nodes, rendezvous " + rep.master);
    std::vector<std::future<command_result>> futures;
    for (std::size_t i = 0; i < inv.cluster.nodes.size(); ++i) {
        command_spec c = netcheck_command(d, i, o);
        std::string target = d.target(i);
        futures.push_back(std::async(std::launch::async, [&ex, c = std::move(c), target = std::move(target)] { return ex(target, c); }));
    }
    for (std::size_t i = 0; i < inv.cluster.nodes.size(); ++i) {
        const auto& node = inv.cluster.nodes[i];
        const command_result r = futures[i].get();
        netcheck_node n;
        n.name = node.name;
        n.address = node.address;
        n.interface = node_interface(inv.network, node);
        n.planned_ranks = nc::planned_local_ranks(node);
        n.backend = rep.backend;
        n.reached = r.started && !r.unreachable;
        n.timed_out = r.timed_out;
        n.exit_code = r.exit_code;
        n.stderr_tail = dsdeploy::detail::tail_lines(r.err, 60, 16 * 1024);
        parse_netcheck_output(r.out, n);
        if (rep.backend == "gloo") {
            n.transport = "Gloo over TCP (" + (n.interface.empty() ? std::string("default interface") : n.interface) + ")";
        } else {
            const auto nccl = parse_nccl_log(r.err);
            n.transport = "NCCL";
            for (const auto& t : nccl.transports) n.transport += " " + t;
            if (nccl.transports.empty() && !nccl.networks.empty()) n.transport += " network " + nccl.networks.front();
        }
        if (o.progress) {
            std::string line = "netcheck: " + n.name + ": ";
            if (!n.reached) {
                line += "not reached";
            } else {
                int joined = 0;
                for (const auto& x : n.ranks) joined += x.joined ? 1 : 0;
                line += std::to_string(joined) + "/" + std::to_string(n.planned_ranks) + " ranks joined, " + n.transport;
            }
            o.progress(line);
        }
        rep.nodes.push_back(std::move(n));
    }
    rep.findings = judge_netcheck(inv, rep, o);
    rep.seconds = std::chrono::duration<double>(steady::now() - t0).count();
    return rep;
}

DSDEPLOY_INLINE std::string to_text(const netcheck_report& r) {
    namespace nc = detail::netcheck;
    std::ostringstream s;
    s << "netcheck: " << r.backend << " all-reduce, " << r.world << " ranks, rendezvous " << r.master << " ("
      << fmt::format("{:.1f}", r.seconds) << " s)\n";
    for (const auto& n : r.nodes) {
        s << "  " << n.name << " (" << n.address << "): ";
        if (!n.reached) {
            s << "not reached\n";
            continue;
        }
        s << n.transport << ", interface " << (n.interface.empty() ? "-" : n.interface)
          << (n.link_mbps ? ", link " + std::to_string(*n.link_mbps) + " Mb/s" : std::string(", link rate unknown")) << "\n";
        for (const auto& rk : n.ranks) {
            s << "    rank " << rk.rank << ": " << (rk.joined ? fmt::format("joined in {:.2f} s", rk.join_s) : std::string("never joined"));
            for (const auto& z : rk.sizes) {
                if (z.bytes <= 64)
                    s << fmt::format("; latency {:.0f} us", z.time_us);
                else
                    s << fmt::format("; {} busbw {}", nc::bytes_text(z.bytes), nc::gbs(z.busbw_gbs));
            }
            if (!rk.error.empty()) s << "; failed at " << rk.error_stage;
            s << "\n";
        }
    }
    if (auto bw = r.min_busbw_gbs()) s << "slowest rank's bus bandwidth at the largest size: " << nc::gbs(*bw) << "\n";
    s << (r.findings.empty() ? std::string("No findings: the network carries the collective.\n") : to_text(r.findings));
    return s.str();
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const netcheck_report& r) {
    j = nlohmann::json{{"backend", r.backend}, {"world", r.world}, {"master", r.master}, {"seconds", r.seconds}};
    auto nodes = nlohmann::json::array();
    for (const auto& n : r.nodes) {
        nlohmann::json jn = {{"name", n.name},           {"address", n.address},   {"interface", n.interface},
                             {"interface_exists", n.interface_exists}, {"reached", n.reached}, {"timed_out", n.timed_out},
                             {"exit_code", n.exit_code}, {"transport", n.transport}, {"hostname", n.hostname},
                             {"planned_ranks", n.planned_ranks}, {"addresses", n.addresses}, {"stderr_tail", n.stderr_tail}};
        jn["link_mbps"] = n.link_mbps ? nlohmann::json(*n.link_mbps) : nlohmann::json(nullptr);
        auto ranks = nlohmann::json::array();
        for (const auto& rk : n.ranks) {
            auto sizes = nlohmann::json::array();
            for (const auto& z : rk.sizes)
                sizes.push_back({{"bytes", z.bytes}, {"time_us", z.time_us}, {"algbw_gbs", z.algbw_gbs}, {"busbw_gbs", z.busbw_gbs}});
            ranks.push_back({{"rank", rk.rank}, {"local_rank", rk.local_rank}, {"joined", rk.joined}, {"done", rk.done},
                             {"join_s", rk.join_s}, {"sizes", sizes}, {"error_stage", rk.error_stage}, {"error", rk.error}});
        }
        jn["ranks"] = ranks;
        nodes.push_back(jn);
    }
    j["nodes"] = nodes;
    const auto bw = r.min_busbw_gbs();
    j["min_busbw_gbs"] = bw ? nlohmann::json(*bw) : nlohmann::json(nullptr);
    auto fs = nlohmann::json::array();
    for (const auto& f : r.findings) {
        nlohmann::json jf;
        to_json(jf, f);
        fs.push_back(jf);
    }
    j["findings"] = fs;
    j["exit_code"] = r.exit_code();
}

DSDEPLOY_NAMESPACE_END
