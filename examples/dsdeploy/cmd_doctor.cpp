// SPDX-License-Identifier: Apache-2.0
// dsdeploy doctor: turn tool output and logs into findings with fixes.
#include "cli.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

namespace dsdeploy_cli {

namespace {

struct doctor_options {
    // evidence files; each belongs to the --node given before it
    std::vector<std::string> nodes, nccl_logs, vllm_logs, logs, ray_statuses, ray_list_nodes, ibv_devinfos, nvidia_smis, nvidia_smi_topos,
        outputs, vllm_host_ips;
    bool probe = false;
    // expectations
    bool expect_inventory = false;
    std::string expect_fabric, expect_interface;
    std::optional<int> expect_nodes, expect_gpus, dashboard_port;
    std::optional<std::int64_t> expect_max_model_len;
    std::optional<double> min_shm_gib;
    // local probes
    std::string ray = "ray", ray_address;
    int probe_timeout = 60;
};

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "local";
    return buf;
}

void append(std::optional<std::string>& slot, const std::string& text) {
    if (!slot) slot = text;
    else *slot += "\n" + text;
}

}  // namespace

command add_doctor_command(CLI::App& root, options& o) {
    auto d = std::make_shared<doctor_options>();
    CLI::App* app = root.add_subcommand(
        "doctor", "find what is wrong: read ibv_devinfo, nvidia-smi, ray status, NCCL and vLLM logs (files, or this machine's probes) "
                  "and print findings with fixes");
    app->add_flag("--json", o.json, "print the findings as JSON");
    auto file_option = [&](const char* name, std::vector<std::string>& into, const char* what) {
        app->add_option(name, into, what)->allow_extra_args(false)->type_name("FILE");
    };
    app->add_option("--node", d->nodes, "the node the following files come from (repeat for each node; default: local)")
        ->allow_extra_args(false)
        ->type_name("NAME");
    file_option("--nccl-log", d->nccl_logs, "NCCL log (NCCL_DEBUG=INFO); repeat for several ranks");
    file_option("--vllm-log", d->vllm_logs,
                "vllm serve log (its NCCL and Ray lines are read too); its memory lines are printed, and with --inventory FILE "
                "compared with the plan for that rank");
    file_option("--log", d->logs, "any other log: a Ray driver, SGLang, a container's output, dmesg");
    file_option("--ray-status", d->ray_statuses, "`ray status` output");
    file_option("--ray-list-nodes", d->ray_list_nodes, "`ray list nodes` output");
    file_option("--ibv-devinfo", d->ibv_devinfos, "`ibv_devinfo` output");
    file_option("--nvidia-smi", d->nvidia_smis, "`nvidia-smi`, `nvidia-smi -L` or `--query-gpu ... --format=csv` output");
    file_option("--nvidia-smi-topo", d->nvidia_smi_topos, "`nvidia-smi topo -m` output");
    file_option("--output", d->outputs, "any captured output or log; dsdeploy recognises what it holds");
    app->add_option("--vllm-host-ip", d->vllm_host_ips, "VLLM_HOST_IP of the current --node")->allow_extra_args(false)->type_name("IP");
    app->add_flag("--probe", d->probe, "also probe this machine when files are given");
    app->add_flag("--expect-inventory", d->expect_inventory,
                  "compare against the inventory (--inventory FILE, or the built-in default): nodes, GPUs, addresses, fabric");
    app->add_option("--expect-fabric", d->expect_fabric, "infiniband, roce or tcp");
    app->add_option("--expect-interface", d->expect_interface, "the socket interface NCCL should use (e.g. bond0)");
    app->add_option("--expect-nodes", d->expect_nodes, "nodes the Ray cluster should have");
    app->add_option("--expect-gpus", d->expect_gpus, "GPUs the Ray cluster should have in total");
    app->add_option("--expect-max-model-len", d->expect_max_model_len, "context length one request must fit in the KV cache");
    app->add_option("--min-shm-gib", d->min_shm_gib, "smallest acceptable /dev/shm (default 1)");
    app->add_option("--dashboard-port", d->dashboard_port, "the Ray dashboard's port (default 8265)");
    app->add_option("--ray", d->ray, "ray executable for the local `ray status`");
    app->add_option("--ray-address", d->ray_address, "Ray cluster for the local `ray status` (default: RAY_ADDRESS, or the one started here)");
    app->add_option("--probe-timeout", d->probe_timeout, "seconds each local probe may take (default 60)");
    app->footer(
        "Files are grouped by --node: `doctor --node gpu-a --nccl-log a.log --node gpu-b --nccl-log b.log` compares the two nodes. "
        "With no file, doctor probes this machine (ibv_devinfo, /sys/class/infiniband, nvidia-smi, ray status, /dev/shm, listening "
        "sockets).\nExit status: 0 no error found, 1 at least one finding of severity error, 2 invalid input, 3 a file could not be read.");

    return {app, [app, d, &o]() {
                // expectations
                dsdeploy::expectations ex;
                // Every inventory doctor reads goes through the one gate (an invalid inventory exits 2, as for
                // plan and render); with a vLLM log, its memory lines are compared with the plan it gives.
                std::optional<dsdeploy::validated_inventory> validated;
                if (d->expect_inventory || !o.inventory_path.empty()) validated.emplace(load_validated_inventory(o));
                if (validated) {
                    const dsdeploy::inventory& inv = validated->inv();
                    ex = dsdeploy::expectations_for(inv.cluster, inv.network);
                    if (inv.serving.max_model_len > 0) ex.max_model_len = inv.serving.max_model_len;
                }
                if (!d->expect_fabric.empty()) {
                    auto f = dsdeploy::parse_fabric(d->expect_fabric);
                    if (!f)
                        throw dsdeploy::config_error(dsdeploy::errc::cli_usage, "--expect-fabric",
                                                     "\"" + d->expect_fabric + "\" is not a fabric; use infiniband, roce or tcp");
                    ex.fabric_kind = *f;
                }
                if (!d->expect_interface.empty()) ex.interface = d->expect_interface;
                if (d->expect_nodes) ex.nodes = *d->expect_nodes;
                if (d->expect_gpus) ex.gpus = *d->expect_gpus;
                if (d->expect_max_model_len) ex.max_model_len = *d->expect_max_model_len;
                if (d->min_shm_gib) {
                    if (!(*d->min_shm_gib >= 0 && *d->min_shm_gib < 1e6))
                        throw dsdeploy::config_error(dsdeploy::errc::cli_usage, "--min-shm-gib", "use a size in GiB, e.g. 1 or 10.24");
                    ex.min_shm_bytes = static_cast<std::uint64_t>(*d->min_shm_gib * 1024.0 * 1024.0 * 1024.0);
                }
                if (d->dashboard_port) ex.dashboard_port = *d->dashboard_port;
                dsdeploy::validate(ex);

                // evidence, node by node in the order given
                dsdeploy::evidence ev;
                std::map<std::string, std::size_t> index;
                std::string current = "local";
                auto node = [&]() -> dsdeploy::node_evidence& {
                    auto it = index.find(current);
                    if (it == index.end()) {
                        it = index.emplace(current, ev.nodes.size()).first;
                        ev.nodes.emplace_back();
                        ev.nodes.back().name = current;
                    }
                    return ev.nodes[it->second];
                };
                const std::map<std::string, std::optional<std::string> dsdeploy::node_evidence::*> slots = {
                    {"--nccl-log", &dsdeploy::node_evidence::nccl_log},
                    {"--vllm-log", &dsdeploy::node_evidence::vllm_log},
                    {"--log", &dsdeploy::node_evidence::log},
                    {"--ray-status", &dsdeploy::node_evidence::ray_status},
                    {"--ray-list-nodes", &dsdeploy::node_evidence::ray_list_nodes},
                    {"--ibv-devinfo", &dsdeploy::node_evidence::ibv_devinfo},
                    {"--nvidia-smi", &dsdeploy::node_evidence::nvidia_smi},
                    {"--nvidia-smi-topo", &dsdeploy::node_evidence::nvidia_smi_topo},
                };
                std::vector<std::string> unrecognised;  // files in which no parser recognised a single line
                std::vector<std::string> notes;
                std::map<const CLI::Option*, std::size_t> used;  // values consumed per option
                bool any_file = false;
                // Logs are read as streams, in memory that does not grow with them: one reader per node and
                // log slot (the files of one slot are read as one, in the order given), one per --output file,
                // and one vLLM memory-line parser per node.
                struct node_stream {
                    std::map<std::string, std::unique_ptr<dsdeploy::log_reader>> slots;  // "nccl_log", "vllm_log", "log"
                    std::vector<dsdeploy::log_digest> outputs;
                    dsdeploy::vllm_memory_log_parser memory;
                };
                std::map<std::string, node_stream> streams;
                constexpr std::size_t head_bytes = std::size_t{1} << 20;        // what tool outputs are recognised in
                constexpr std::size_t tool_output_bytes = std::size_t{16} << 20;  // no tool's output is longer
                // Streams `path` through `reader`; true when a parser recognised a line of it.
                auto stream_file = [&](const std::string& path, dsdeploy::log_reader& reader, std::string& head) {
                    auto count = [&reader]() {
                        return reader.nccl().recognised_lines() + reader.vllm().recognised_lines() + reader.events().recognised_lines();
                    };
                    const std::size_t before = count();
                    dsdeploy::read_file_chunks(path, [&](std::string_view chunk) {
                        if (head.size() < head_bytes) head.append(chunk.substr(0, head_bytes - head.size()));
                        reader.feed(chunk);
                    });
                    reader.end_input();
                    return count() > before || !dsdeploy::recognised_in(head).empty();
                };
                const std::set<std::string> log_slots = {"--nccl-log", "--vllm-log", "--log"};
                for (const CLI::Option* opt : app->parse_order()) {
                    const auto& values = opt->results();
                    std::size_t& k = used[opt];
                    if (k >= values.size()) continue;
                    const std::string value = values[k++];
                    const std::string name = opt->get_name();
                    if (name == "--node") {
                        if (value.empty()) throw dsdeploy::config_error(dsdeploy::errc::cli_usage, "--node", "give the node a name (e.g. gpu-a)");
                        current = value;
                        (void)node();
                    } else if (log_slots.count(name)) {
                        (void)node();
                        const std::string slot = name.substr(2, name.size() - 2) == "log" ? "log" : name == "--nccl-log" ? "nccl_log" : "vllm_log";
                        node_stream& ns = streams[current];
                        auto& reader = ns.slots[slot];
                        if (!reader) {
                            reader = std::make_unique<dsdeploy::log_reader>(slot);
                            if (slot == "vllm_log") reader->on_line([&ns](std::size_t n, std::string_view l) { ns.memory.line(n, l); });
                        }
                        std::string head;
                        if (!stream_file(value, *reader, head)) unrecognised.push_back(value);
                        any_file = true;
                    } else if (auto s = slots.find(name); s != slots.end()) {
                        // a tool's output: kept as text (the first 16 MiB; none is that long)
                        std::string text;
                        std::uint64_t total = 0;
                        dsdeploy::read_file_chunks(value, [&](std::string_view chunk) {
                            total += chunk.size();
                            if (text.size() < tool_output_bytes) text.append(chunk.substr(0, tool_output_bytes - text.size()));
                        });
                        if (total > text.size())
                            notes.push_back("only the first 16 MiB of " + value + " were read as " + name.substr(2) + " output (the file has " +
                                            std::to_string(total >> 20) + " MiB)");
                        if (dsdeploy::recognised_in(text).empty()) unrecognised.push_back(value);
                        append(node().*(s->second), text);
                        any_file = true;
                    } else if (name == "--output") {
                        (void)node();
                        node_stream& ns = streams[current];
                        dsdeploy::log_reader reader("output");
                        reader.on_line([&ns](std::size_t n, std::string_view l) { ns.memory.line(n, l); });
                        std::string head;
                        if (!stream_file(value, reader, head)) unrecognised.push_back(value);
                        const bool whole = head.size() < head_bytes;
                        auto digest = reader.finish();
                        if (digest.recognised()) ns.outputs.push_back(std::move(digest));
                        // tool outputs (ray status, nvidia-smi, ...) in a captured output: recognised in its text
                        if (whole) {
                            auto found = dsdeploy::evidence_from_output(current, head);
                            auto& n = node();
                            for (const auto& [flag, slot] : slots)
                                if (!log_slots.count(flag) && found.*slot) append(n.*slot, *(found.*slot));
                        }
                        any_file = true;
                    } else if (name == "--vllm-host-ip") {
                        if (!dsdeploy::is_ip_address(value))
                            throw dsdeploy::config_error(dsdeploy::errc::cli_usage, "--vllm-host-ip", "\"" + value + "\" is not an IP address");
                        node().vllm_host_ip = value;
                    }
                }
                std::map<std::string, dsdeploy::vllm_memory_log> memory_logs;
                for (auto& [node_name, ns] : streams) {
                    auto& n = ev.nodes[index.at(node_name)];
                    for (const char* slot : {"nccl_log", "vllm_log", "log"})  // (the order the text slots are judged in)
                        if (auto it = ns.slots.find(slot); it != ns.slots.end()) n.streamed.push_back(it->second->finish());
                    for (auto& g : ns.outputs) n.streamed.push_back(std::move(g));
                    for (const auto& g : n.streamed)
                        if (g.truncated_lines > 0)
                            notes.push_back(std::to_string(g.truncated_lines) + " line(s) of the " + g.source + " of " + node_name +
                                            " are longer than 1 MiB; only their first 1 MiB was read");
                    memory_logs[node_name] = ns.memory.finish();
                }
                std::vector<std::string> unavailable;
                if (!any_file || d->probe) {
                    dsdeploy::probe_options po;
                    po.ray = d->ray;
                    po.ray_address = d->ray_address;
                    po.timeout = std::chrono::seconds(std::max(1, d->probe_timeout));
                    if (!o.json) std::cerr << "probing this machine (ibv_devinfo, sysfs, nvidia-smi, ray status, /dev/shm, sockets)...\n";
                    auto probed = dsdeploy::probe_local(host_name(), po);
                    unavailable = probed.unavailable;
                    ev.nodes.push_back(std::move(probed.evidence));
                }
                if (!ex.node_list.empty()) {
                    std::string planned;
                    for (const auto& n : ex.node_list) planned += (planned.empty() ? "" : ", ") + n.name;
                    for (const auto& n : ev.nodes) {
                        bool known = false;
                        for (const auto& e : ex.node_list) known = known || e.name == n.name;
                        if (!known)
                            notes.push_back("node " + n.name + " is not in the inventory (" + planned +
                                            "); its per-node checks (GPU count, VLLM_HOST_IP) are skipped - name it with --node");
                    }
                }
                auto findings = dsdeploy::diagnose(ev, ex);
                // vLLM's memory lines, and beside them what the plan predicted for that rank
                struct memory_section {
                    std::string node;
                    dsdeploy::vllm_memory_log logged;
                    std::optional<dsdeploy::vllm_memory_reconciliation> reconciled;
                };
                std::vector<memory_section> memory;
                for (const auto& n : ev.nodes) {
                    auto logged = memory_logs.find(n.name);
                    if (logged == memory_logs.end()) continue;
                    memory_section m{n.name, std::move(logged->second), std::nullopt};
                    if (!m.logged.recognised) continue;
                    if (validated) {
                        m.reconciled = dsdeploy::reconcile_vllm_memory(m.logged, validated->plan());
                        if (auto f = dsdeploy::memory_finding(*m.reconciled, n.name)) findings.push_back(std::move(*f));
                    }
                    memory.push_back(std::move(m));
                }
                int errors = 0, warnings = 0;
                for (const auto& f : findings) {
                    if (f.level == dsdeploy::severity::error) ++errors;
                    if (f.level == dsdeploy::severity::warning) ++warnings;
                }
                if (o.json) {
                    nlohmann::json j;
                    j["findings"] = findings;
                    j["errors"] = errors;
                    j["warnings"] = warnings;
                    j["nodes"] = nlohmann::json::array();
                    for (const auto& n : ev.nodes) j["nodes"].push_back(n.name);
                    j["unavailable_probes"] = unavailable;
                    j["notes"] = notes;
                    j["vllm_memory"] = nlohmann::json::array();
                    for (const auto& m : memory)
                        j["vllm_memory"].push_back({{"node", m.node},
                                                    {"logged", m.logged},
                                                    {"plan", m.reconciled ? nlohmann::json(*m.reconciled) : nlohmann::json(nullptr)}});
                    j["unrecognised_inputs"] = unrecognised;
                    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
                } else {
                    std::string names;
                    for (const auto& n : ev.nodes) names += (names.empty() ? "" : ", ") + n.name;
                    std::cout << "dsdeploy doctor: " << ev.nodes.size() << " node(s) (" << names << "), "
                              << findings.size() << " finding(s): " << errors << " error(s), " << warnings << " warning(s)\n";
                    for (const auto& u : unavailable) std::cout << "  not probed: " << u << "\n";
                    for (const auto& n : notes) std::cout << "  note: " << n << "\n";
                    for (const auto& m : memory) {
                        std::cout << "\n[" << m.node << "] " << dsdeploy::to_text(m.logged);
                        if (m.reconciled) std::cout << "[" << m.node << "] " << dsdeploy::to_text(*m.reconciled);
                        else std::cout << "  (give the deployment's inventory with --inventory FILE to see them beside the plan)\n";
                    }
                    for (const auto& u : unrecognised)
                        std::cout << "  nothing recognisable in " << u
                                  << ": no line of it is one dsdeploy knows (vLLM, NCCL, Gloo, Ray, nvidia-smi, ibv_devinfo, Hugging Face, "
                                     "dmesg); it was not judged\n";
                    if (findings.empty() && !unrecognised.empty())
                        std::cout << "\nNo findings, but " << unrecognised.size() << " of the inputs held nothing recognisable (above).\n";
                    else
                        std::cout << "\n" << dsdeploy::to_text(findings);
                }
                return dsdeploy::has_errors(findings) ? exit_check_failed : exit_ok;
            }};
}

}  // namespace dsdeploy_cli
