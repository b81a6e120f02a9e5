// SPDX-License-Identifier: Apache-2.0
// Implementation of diagnose.hpp: severities, expectations and their validation, diagnose() (the
// driver that runs every rule set on every node, then the rules across nodes, and puts errors
// first), the findings' text and JSON, and evidence_from_output.
#pragma once

#include <dsdeploy/detail/diagnose_text.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/impl/diagnose_across_nodes_rules_inl.hpp>
#include <dsdeploy/impl/diagnose_events_rules_inl.hpp>
#include <dsdeploy/impl/diagnose_gpu_rules_inl.hpp>
#include <dsdeploy/impl/diagnose_nccl_rules_inl.hpp>
#include <dsdeploy/impl/diagnose_probe_inl.hpp>
#include <dsdeploy/impl/diagnose_probe_rules_inl.hpp>
#include <dsdeploy/impl/diagnose_ray_rules_inl.hpp>
#include <dsdeploy/impl/diagnose_rdma_rules_inl.hpp>
#include <dsdeploy/impl/diagnose_rules_inl.hpp>
#include <dsdeploy/impl/diagnose_stream_inl.hpp>
#include <dsdeploy/impl/diagnose_versions_rules_inl.hpp>
#include <dsdeploy/impl/diagnose_vllm_rules_inl.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(severity s) {
    switch (s) {
        case severity::error: return "error";
        case severity::warning: return "warning";
        case severity::info: return "info";
    }
    return "error";
}

DSDEPLOY_INLINE expectations expectations_for(const cluster& c, const network_profile& p) {
    expectations e;
    e.fabric_kind = p.kind;
    e.interface = p.interface;
    e.gid_index = p.gid_index;
    e.nodes = static_cast<int>(c.nodes.size());
    int gpus = 0;
    for (const auto& n : c.nodes) {
        e.node_list.push_back(expected_node{n.name, n.address, n.gpus()});
        gpus += std::max(0, n.gpus());
    }
    e.gpus = gpus;
    return e;
}

DSDEPLOY_INLINE void validate(const expectations& e) {
    if (e.nodes && *e.nodes < 0)
        raise(errc::diagnose_expectations, "expectations.nodes", std::to_string(*e.nodes) + " nodes; expect 0 or more (e.g. 2)");
    if (e.gpus && *e.gpus < 0)
        raise(errc::diagnose_expectations, "expectations.gpus", std::to_string(*e.gpus) + " GPUs; expect 0 or more (e.g. 16)");
    if (e.max_model_len && *e.max_model_len <= 0)
        raise(errc::diagnose_expectations, "expectations.max_model_len",
              std::to_string(*e.max_model_len) + " tokens; expect a positive context length (e.g. 65536)");
    if (e.gid_index && (*e.gid_index < 0 || *e.gid_index > 255))
        raise(errc::diagnose_expectations, "expectations.gid_index", std::to_string(*e.gid_index) + " is not a GID index; use 0..255");
    if (e.dashboard_port < 1 || e.dashboard_port > 65535)
        raise(errc::diagnose_expectations, "expectations.dashboard_port",
              std::to_string(e.dashboard_port) + " is not a TCP port; use 1..65535 (Ray's default is 8265)");
    if (!e.interface.empty() && !detail::is_valid_interface_name(e.interface.front() == '=' ? e.interface.substr(1) : e.interface))
        raise(errc::diagnose_expectations, "expectations.interface",
              "\"" + e.interface + "\" is not a Linux interface name; use 1-15 characters without '/', ':' or spaces (e.g. \"bond0\")");
    std::set<std::string> names;
    for (std::size_t i = 0; i < e.node_list.size(); ++i) {
        const auto& n = e.node_list[i];
        const std::string f = "expectations.node_list[" + std::to_string(i) + "]";
        if (n.name.empty()) raise(errc::diagnose_expectations, f + ".name", "a node needs a name (the one its evidence carries, e.g. \"gpu-a\")");
        if (!names.insert(n.name).second) raise(errc::diagnose_expectations, f + ".name", "\"" + n.name + "\" is listed twice; node names must be unique");
        if (!n.address.empty() && classify_address(n.address) == address_kind::invalid)
            raise(errc::diagnose_expectations, f + ".address", "\"" + n.address + "\" is not an IP address or hostname (e.g. \"10.0.0.2\")");
        if (n.gpus < 0) raise(errc::diagnose_expectations, f + ".gpus", std::to_string(n.gpus) + " GPUs; expect 0 or more");
    }
}

DSDEPLOY_INLINE detail::diag::cluster_facts detail::diag::cluster_facts_for(const expectations& ex) {
    cluster_facts c;
    c.want_nodes = ex.nodes ? *ex.nodes : static_cast<int>(ex.node_list.size());
    if (ex.gpus) c.want_gpus = *ex.gpus;
    else
        for (const auto& n : ex.node_list) c.want_gpus += n.gpus;
    for (const auto& n : ex.node_list)
        if (is_ip_address(n.address)) c.expected_ips.insert(n.address);
    c.want_rdma = ex.fabric_kind && *ex.fabric_kind != fabric::tcp;
    return c;
}

DSDEPLOY_INLINE std::vector<finding> diagnose(const evidence& ev, const expectations& ex) {
    namespace d = detail::diag;
    validate(ex);
    d::finder f;
    d::cluster_facts c = d::cluster_facts_for(ex);
    for (const auto& node : ev.nodes) {
        d::node_facts n(node);
        for (const auto& e : ex.node_list)
            if (e.name == node.name) n.exp = &e;
        d::event_rules(f, ex, c, n);
        d::rdma_rules(f, ex, c, n);
        d::gpu_rules(f, ex, c, n);
        d::ray_rules(f, ex, c, n);
        d::nccl_rules(f, ex, c, n);
        d::roce_gid_rules(f, ex, c, n);
        d::vllm_rules(f, ex, c, n);
        d::probe_rules(f, ex, c, n);
        d::collect_versions(c, n);
    }
    d::fabric_agreement_rules(f, c);
    d::version_rules(f, c);
    d::node_ip_rules(f, c);
    f.close();
    std::stable_sort(f.out.begin(), f.out.end(), [](const finding& a, const finding& b) { return a.level < b.level; });
    return f.out;
}

DSDEPLOY_INLINE bool has_errors(const std::vector<finding>& findings) {
    return std::any_of(findings.begin(), findings.end(), [](const finding& x) { return x.level == severity::error; });
}

DSDEPLOY_INLINE std::string to_text(const std::vector<finding>& findings) {
    if (findings.empty()) return "No findings.\n";
    std::string out;
    for (const auto& x : findings) {
        std::string level(to_string(x.level));
        for (auto& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out += level + "  " + x.id;
        if (!x.node.empty() || !x.source.empty()) out += "  [" + (x.node.empty() ? std::string("cluster") : x.node) + (x.source.empty() ? "" : ", " + x.source) + "]";
        out += "\n  " + x.message + "\n";
        if (!x.evidence.empty()) {
            bool first = true;
            for (auto l : detail::split_lines(x.evidence)) {
                out += first ? "  evidence: " : "            ";
                out.append(l.data(), l.size());
                out += "\n";
                first = false;
            }
        }
        out += "  fix:      " + x.fix + "\n\n";
    }
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const finding& f) {
    j = nlohmann::json{{"id", f.id},           {"severity", to_string(f.level)}, {"node", f.node}, {"source", f.source},
                       {"message", f.message}, {"evidence", f.evidence},         {"fix", f.fix}};
}

DSDEPLOY_INLINE node_evidence evidence_from_output(std::string node, std::string_view output) {
    node_evidence e;
    e.name = std::move(node);
    if (parse_nccl_log(output).recognised) e.nccl_log = std::string(output);
    if (parse_vllm_log(output).recognised) e.vllm_log = std::string(output);
    auto rs = parse_ray_status(output);
    if (rs.recognised || rs.connection_error) e.ray_status = std::string(output);
    if (!parse_ray_list_nodes(output).empty()) e.ray_list_nodes = std::string(output);
    auto smi = parse_nvidia_smi(output);
    if (!smi.gpus.empty() || smi.failure) e.nvidia_smi = std::string(output);
    auto ibv = parse_ibv_devinfo(output);
    if (!ibv.ports.empty() || ibv.no_devices) e.ibv_devinfo = std::string(output);
    if (parse_log_events(output).recognised) e.log = std::string(output);
    return e;
}

DSDEPLOY_INLINE std::vector<std::string> recognised_in(std::string_view text) {
    std::vector<std::string> out;
    if (parse_nccl_log(text).recognised) out.emplace_back("nccl_log");
    if (parse_vllm_log(text).recognised) out.emplace_back("vllm_log");
    auto rs = parse_ray_status(text);
    if (rs.recognised || rs.connection_error) out.emplace_back("ray_status");
    if (!parse_ray_list_nodes(text).empty()) out.emplace_back("ray_list_nodes");
    auto smi = parse_nvidia_smi(text);
    if (!smi.gpus.empty() || smi.failure || !smi.driver_version.empty()) out.emplace_back("nvidia_smi");
    if (parse_nvidia_smi_topo(text).gpu_count() > 0) out.emplace_back("nvidia_smi_topo");
    auto ibv = parse_ibv_devinfo(text);
    if (!ibv.ports.empty() || ibv.no_devices) out.emplace_back("ibv_devinfo");
    if (parse_log_events(text).recognised) out.emplace_back("log");
    return out;
}

DSDEPLOY_NAMESPACE_END
