// SPDX-License-Identifier: Apache-2.0
// The inventory's model: defaults, planning options, validation, the ports each node's
// services use, and the source map. Its file formats: inventory_schema_inl.hpp (every key,
// described once), inventory_read_inl.hpp and inventory_write_inl.hpp.
#pragma once

#include <dsdeploy/detail/derived_flags.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/engine_version.hpp>
#include <dsdeploy/inventory.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(runtime_kind k) { return k == runtime_kind::docker ? "docker" : "process"; }

DSDEPLOY_INLINE std::optional<runtime_kind> parse_runtime_kind(std::string_view s) {
    const std::string k = detail::to_lower(detail::trim(s));
    if (k == "docker" || k == "compose") return runtime_kind::docker;
    if (k == "process" || k == "bare" || k == "bare-metal") return runtime_kind::process;
    return std::nullopt;
}

DSDEPLOY_INLINE std::string_view to_string(launcher_kind k) {
    switch (k) {
    case launcher_kind::ray: return "ray";
    case launcher_kind::mp: return "mp";
    case launcher_kind::automatic: break;
    }
    return "auto";
}

DSDEPLOY_INLINE std::optional<launcher_kind> parse_launcher_kind(std::string_view s) {
    const std::string k = detail::to_lower(detail::trim(s));
    if (k == "ray") return launcher_kind::ray;
    if (k == "mp" || k == "multiprocessing") return launcher_kind::mp;
    if (k == "auto") return launcher_kind::automatic;
    return std::nullopt;
}

DSDEPLOY_INLINE std::string_view to_string(dp_load_balancing b) { return b == dp_load_balancing::hybrid ? "hybrid" : "internal"; }

DSDEPLOY_INLINE std::optional<dp_load_balancing> parse_dp_load_balancing(std::string_view s) {
    const std::string k = detail::to_lower(detail::trim(s));
    if (k == "internal") return dp_load_balancing::internal;
    if (k == "hybrid") return dp_load_balancing::hybrid;
    return std::nullopt;
}

DSDEPLOY_INLINE std::string_view to_string(pull_policy p) {
    switch (p) {
    case pull_policy::never: return "never";
    case pull_policy::missing: return "missing";
    case pull_policy::always: return "always";
    }
    return "missing";
}

DSDEPLOY_INLINE std::optional<pull_policy> parse_pull_policy(std::string_view s) {
    if (s == "never") return pull_policy::never;
    if (s == "missing") return pull_policy::missing;
    if (s == "always") return pull_policy::always;
    return std::nullopt;
}

DSDEPLOY_INLINE inventory default_inventory() {
    inventory inv;
    inv.name = "deepseek-v3-2x8-l20";
    node head;
    head.name = "node1";
    head.address = "10.0.0.1";
    head.role = node_role::head;
    head.gpu_type = "L20";
    head.gpu_count = 8;
    node worker = head;
    worker.name = "node2";
    worker.address = "10.0.0.2";
    worker.role = node_role::worker;
    inv.cluster.nodes = {head, worker};

    inv.network.kind = fabric::infiniband;
    inv.network.interface = "bond0";
    inv.network.hcas = {"mlx5_0", "mlx5_3"};

    inv.serving.model = "deepseek-ai/DeepSeek-V3";
    inv.serving.model_path = "/data/models/DeepSeek-V3";
    inv.serving.served_model_name = "deepseek-v3";
    inv.serving.tensor_parallel_size = 8;
    inv.serving.pipeline_parallel_size = 2;
    inv.serving.gpu_memory_utilization = 0.8;
    inv.serving.max_model_len = 65536;
    return inv;
}

DSDEPLOY_INLINE plan_options to_plan_options(const serving_options& s) {
    plan_options o;
    o.gpu_memory_utilization = s.gpu_memory_utilization;
    o.engine = s.engine;
    o.attention_dp = s.attention_data_parallel_size;
    o.mem_fraction_static = s.mem_fraction_static;
    o.max_model_len = s.max_model_len;
    o.kv_cache_dtype = s.kv_cache_dtype;
    o.headroom_gib = s.headroom_gib;
    o.allow_cross_node_tp = s.allow_cross_node_tp;
    o.pp_layer_partition = s.pp_layer_partition;
    // What the memory account needs from extra_args: --enforce-eager, --max-num-seqs N,
    // --max-num-batched-tokens N (also as --flag=N).
    for (std::size_t i = 0; i < s.extra_args.size(); ++i) {
        const std::string& a = s.extra_args[i];
        const auto eq = a.find('=');
        const std::string flag = a.substr(0, eq);
        auto value = [&]() -> int {
            const std::string v = eq != std::string::npos ? a.substr(eq + 1) : (i + 1 < s.extra_args.size() ? s.extra_args[i + 1] : "");
            try { return std::stoi(v); } catch (...) { return 0; }
        };
        if (flag == "--enforce-eager") o.enforce_eager = true;
        else if (flag == "--no-enforce-eager") o.enforce_eager = false;
        else if (flag == "--max-num-seqs") o.max_num_seqs = std::max(0, value());
        else if (flag == "--max-num-batched-tokens") o.max_num_batched_tokens = std::max(0, value());
    }
    if (s.tensor_parallel_size || s.pipeline_parallel_size || s.data_parallel_size || s.enable_expert_parallel) {
        parallelism p;
        p.tp = s.tensor_parallel_size.value_or(1);
        p.pp = s.pipeline_parallel_size.value_or(1);
        p.dp = s.data_parallel_size.value_or(1);
        p.ep = s.enable_expert_parallel;
        o.num_redundant_experts = s.num_redundant_experts;
        o.parallel = p;
    }
    return o;
}

namespace detail {
// plan_for once validate(inv) passed, for validate_inventory (validated_inventory.hpp).
plan plan_for_validated(const inventory& inv);
}  // namespace detail

DSDEPLOY_INLINE plan plan_for(const inventory& inv) {
    validate(inv.cluster);
    validate(inv.network);
    return detail::plan_for_validated(inv);
}

DSDEPLOY_INLINE plan detail::plan_for_validated(const inventory& inv) {
    const model_spec m = resolve_model(inv.serving.model, "serving.model");
    plan_options o = to_plan_options(inv.serving);
    o.vllm_version = inv.runtime.vllm_version;
    o.sglang_version = inv.runtime.sglang_version;
    // Only some sizes given: let the planner fill the rest from the cluster.
    if (o.parallel && !(inv.serving.tensor_parallel_size && inv.serving.pipeline_parallel_size)) {
        const parallelism chosen = choose_parallelism(inv.cluster, m);
        if (!inv.serving.tensor_parallel_size) o.parallel->tp = chosen.tp;
        if (!inv.serving.pipeline_parallel_size) o.parallel->pp = inv.cluster.total_gpus() > 0
                                                                       ? std::max(1, inv.cluster.total_gpus() / (o.parallel->tp * o.parallel->dp))
                                                                       : chosen.pp;
    }
    return make_plan(inv.cluster, m, o);
}

DSDEPLOY_INLINE std::string served_model_name(const inventory& inv) {
    return inv.serving.served_model_name.empty() ? inv.serving.model : inv.serving.served_model_name;
}

DSDEPLOY_INLINE std::string model_path(const inventory& inv) {
    return inv.serving.model_path.empty() ? inv.serving.model : inv.serving.model_path;
}

// --- validation --------------------------------------------------------------------------------

namespace detail {
inline bool has_control(std::string_view s, bool allow_newline = false) {
    return std::any_of(s.begin(), s.end(), [&](unsigned char c) { return (c < 0x20 && !(allow_newline && (c == '\n' || c == '\t'))) || c == 0x7f; });
}


inline bool is_size_text(std::string_view s) {
    // Compose/Docker byte sizes: 64g, 10.24gb, 512m, 1073741824
    std::size_t i = 0;
    bool digits = false, dot = false;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
        if (s[i] == '.') dot = true;
        else digits = true;
        ++i;
    }
    if (!digits) return false;
    std::string unit = to_lower(s.substr(i));
    return unit.empty() || unit == "b" || unit == "k" || unit == "kb" || unit == "m" || unit == "mb" || unit == "g" || unit == "gb";
}

inline bool is_restart_policy(std::string_view s) {
    if (s == "no" || s == "always" || s == "unless-stopped" || s == "on-failure") return true;
    if (starts_with(s, "on-failure:")) {
        auto n = s.substr(11);
        return !n.empty() && n.size() <= 6 && std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isdigit(c); });
    }
    return false;
}


// Names the renderers set themselves; serving.env and network.env may not override them.
inline const std::set<std::string>& reserved_serving_env() {
    static const std::set<std::string> names = {"VLLM_API_KEY", "RAY_ADDRESS", "VLLM_PP_LAYER_PARTITION", "CUDA_VISIBLE_DEVICES",
                                                "DSDEPLOY_NODE_DIR"};
    return names;
}

inline void check_ports(const inventory& inv) {
    const auto& p = inv.ports;
    const std::pair<const char*, int> all[] = {
        {"ray", p.ray},
        {"dashboard", p.dashboard},
        {"ray_client", p.ray_client},
        {"node_manager", p.node_manager},
        {"object_manager", p.object_manager},
        {"runtime_env_agent", p.runtime_env_agent},
        {"dashboard_agent_grpc", p.dashboard_agent_grpc},
        {"metrics_export", p.metrics_export},
        {"dashboard_agent_listen", p.dashboard_agent_listen},
        {"min_worker", p.min_worker},
        {"max_worker", p.max_worker},
        {"api", p.api},
        {"master", p.master},
    };
    for (const auto& [name, value] : all)
        if (value < 1 || value > 65535)
            raise(errc::inventory_ports, std::string("ports.") + name, std::to_string(value) + " is not a TCP port; use 1..65535");
    if (p.min_worker > p.max_worker)
        raise(errc::inventory_ports, "ports.min_worker",
              fmt::format("the worker range {}..{} is empty; min_worker must not exceed max_worker", p.min_worker, p.max_worker));
    for (std::size_t n = 0; n < inv.cluster.nodes.size(); ++n) {
        const auto uses = node_ports(inv, n);
        for (std::size_t i = 0; i < uses.size(); ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (uses[i].first <= uses[j].last && uses[j].first <= uses[i].last)
                    raise(errc::inventory_ports, uses[i].field,
                          fmt::format("{} wants port {} on {}, which {} ({}) already uses; give every service on a node its own port",
                                      uses[i].service, uses[i].first == uses[i].last ? std::to_string(uses[i].first)
                                                                                      : fmt::format("{}-{}", uses[i].first, uses[i].last),
                                      inv.cluster.nodes[n].name, uses[j].service, uses[j].field));
    }
}

inline void check_env_list(const env_list& env, const std::string& field) {
    for (std::size_t i = 0; i < env.size(); ++i) {
        const auto& [name, value] = env[i];
        if (!is_env_name(name))
            raise(errc::inventory_field, field + "[" + std::to_string(i) + "]",
                  "\"" + name + "\" is not an environment variable name; use letters, digits and '_', not starting with a digit");
        if (value.find('\n') != std::string::npos || value.find('\r') != std::string::npos || value.find('\0') != std::string::npos)
            raise(errc::inventory_field, field + "." + name, "the value contains a line break or NUL, which env files cannot carry; use a single line");
        if (derived_env_names().count(name) || reserved_serving_env().count(name))
            raise(errc::inventory_field, field + "." + name,
                  name + " is set by dsdeploy from the inventory (node address, network, API key, layer partition); set the corresponding field instead");
    }
}
}  // namespace detail

// serving.engine = "sglang": what dsdeploy renders for SGLang, and what it does not.
DSDEPLOY_INLINE void detail::validate_sglang(const inventory& inv) {
    const auto& s = inv.serving;
    const auto& r = inv.runtime;
    if (r.sglang_version.empty())
        raise(errc::inventory_field, "runtime.sglang_version",
              "serving.engine is \"sglang\": name the SGLang release in the image or environment (it decides which flags exist), e.g. "
              "\"0.5.23\"");
    const engine_version v = parse_engine_version(r.sglang_version, "runtime.sglang_version");
    if (v < engine_version{0, 4, 10, "0.4.10"})
        raise(errc::launch_version, "runtime.sglang_version",
              "SGLang " + v.text + " is older than 0.4.10, the oldest release dsdeploy's SGLang flag table reads; use a newer image or environment");
    if (r.launcher == launcher_kind::ray)
        raise(errc::inventory_field, "runtime.launcher",
              "SGLang starts its own processes on every node (--nnodes/--node-rank/--dist-init-addr) and has no Ray launcher; use "
              "launcher = \"auto\" (or \"mp\")");
    if (r.kind == runtime_kind::docker && detail::official_vllm_image(r.image))
        raise(errc::inventory_field, "runtime.image",
              detail::quoted(r.image) + " is vLLM's image, which has no SGLang; use SGLang's, e.g. \"lmsysorg/sglang:v" + v.text +
                  "\" (Docker Hub lmsysorg/sglang), or an image of your own with SGLang " + v.text);
    if (!(s.mem_fraction_static == 0 || (s.mem_fraction_static > 0 && s.mem_fraction_static < 1)))
        raise(errc::inventory_field, "serving.mem_fraction_static",
              fmt::format("{} is not a fraction of GPU memory; use 0 (SGLang's default for the GPU) or a value in (0, 1), typically "
                          "0.7-0.9", s.mem_fraction_static));
    if (served_model_name(inv).find(':') != std::string::npos)
        raise(errc::inventory_field, "serving.served_model_name",
              detail::quoted(served_model_name(inv)) + " contains ':', which SGLang refuses in a served model name (ServerArgs "
              "check_server_args, 0.5.23); choose a name without ':'");
    if (s.data_parallel_size.value_or(1) > 1)
        raise(errc::inventory_field, "serving.data_parallel_size",
              "SGLang refuses data-parallel replicas across nodes (ServerArgs, 0.5.23); its multi-node data parallelism is DP attention "
              "inside the TP group: set data_parallel_size = 1 and attention_data_parallel_size (e.g. = tensor_parallel_size)");
    const int adp = s.attention_data_parallel_size;
    if (adp > 1 && s.tensor_parallel_size && *s.tensor_parallel_size % adp != 0)
        raise(errc::inventory_field, "serving.attention_data_parallel_size",
              std::to_string(adp) + " attention groups cannot split TP " + std::to_string(*s.tensor_parallel_size) +
                  " (SGLang: tp_size must be a multiple of it); use a divisor of tensor_parallel_size, e.g. " +
                  std::to_string(*s.tensor_parallel_size));
    if (s.data_parallel_lb != dp_load_balancing::internal)
        raise(errc::inventory_field, "serving.data_parallel_lb", "load balancing over data-parallel ranks is vLLM's; remove it with SGLang");
    if (s.api_server_count != 0)
        raise(errc::inventory_field, "serving.api_server_count", "--api-server-count is vLLM's; SGLang serves HTTP from node rank 0 only. Use 0");
    if (!s.pp_layer_partition.empty())
        raise(errc::inventory_field, "serving.pp_layer_partition",
              "the layer partition is vLLM's VLLM_PP_LAYER_PARTITION; SGLang splits the layers itself. Remove it");
    for (std::size_t i = 0; i < s.extra_args.size(); ++i) {
        const std::string flag = s.extra_args[i].substr(0, s.extra_args[i].find('='));
        for (const auto& [derived, field] : detail::derived_sglang_flags())
            if (flag == derived)
                raise(errc::inventory_field, "serving.extra_args[" + std::to_string(i) + "]",
                      flag + " is derived from the inventory; set " + field + " instead");
    }
}

DSDEPLOY_INLINE int detail::dp_local_size(const inventory& inv) {
    const auto& s = inv.serving;
    const int dp = s.data_parallel_size.value_or(1);
    const int nnodes = static_cast<int>(inv.cluster.nodes.size());
    const int tp = s.tensor_parallel_size.value_or(1);
    const int pp = s.pipeline_parallel_size.value_or(1);
    if (pp != 1)
        raise(errc::inventory_field, "serving.pipeline_parallel_size",
              "data parallelism across nodes with vLLM's own launcher runs each replica inside one node (TP x DP per node); "
              "pipeline_parallel_size " + std::to_string(pp) + " with data_parallel_size " + std::to_string(dp) +
                  " is not rendered: use pipeline_parallel_size = 1, or data_parallel_size = 1 (TP x PP across the nodes)");
    if (dp % nnodes != 0)
        raise(errc::inventory_field, "serving.data_parallel_size",
              std::to_string(dp) + " data-parallel ranks cannot be split evenly over " + std::to_string(nnodes) +
                  " nodes (each node runs data_parallel_size / nodes of them); use a multiple of " + std::to_string(nnodes));
    const int local = dp / nnodes;
    for (std::size_t i = 0; i < inv.cluster.nodes.size(); ++i) {
        const int g = inv.cluster.nodes[i].gpus();
        if (g > 0 && g != local * tp)
            raise(errc::inventory_field, "serving.data_parallel_size",
                  "node " + inv.cluster.nodes[i].name + " has " + std::to_string(g) + " GPUs, but " + std::to_string(local) +
                      " data-parallel ranks of TP " + std::to_string(tp) + " per node need " + std::to_string(local * tp) +
                      "; use data_parallel_size = " + std::to_string(nnodes * std::max(1, g / tp)) + " with tensor_parallel_size " +
                      std::to_string(tp) + " (every node the same GPU count)");
    }
    return local;
}

DSDEPLOY_INLINE launcher_choice effective_launcher(const inventory& inv) {
    launcher_choice c;
    if (inv.serving.engine == engine_kind::sglang) {
        // validate() refuses launcher "ray" with SGLang.
        c.kind = launcher_kind::mp;
        c.automatic = inv.runtime.launcher == launcher_kind::automatic;
        c.why = "SGLang launches its own processes on every node (--nnodes/--node-rank/--dist-init-addr, node rank 0 serves HTTP; "
                "sgl-project/sglang docs/basic_usage/deepseek_v3.md); no Ray";
        return c;
    }
    const launcher_kind set = inv.runtime.launcher;
    if (set != launcher_kind::automatic) {
        c.kind = set;
        c.why = "runtime.launcher = \"" + std::string(to_string(set)) + "\"";
        return c;
    }
    c.automatic = true;
    engine_version v;
    try {
        v = parse_engine_version(inv.runtime.vllm_version);
    } catch (const error&) {
        c.kind = launcher_kind::ray;
        c.why = "auto: runtime.vllm_version cannot be read";
        return c;
    }
    if (v < mp_multinode_version()) {
        c.kind = launcher_kind::ray;
        c.why = "auto: vLLM " + v.text + " predates multi-node without Ray (" + mp_multinode_version().text +
                ", vllm-project/vllm #23691), so a Ray cluster";
    } else {
        c.kind = launcher_kind::mp;
        c.why = "auto: vLLM " + v.text + " launches multi-node itself (--nnodes/--node-rank/--master-addr, vllm #23691; data parallel "
                "with --data-parallel-address/-size-local/-start-rank), upstream's default for more than one node; no Ray needed (it "
                "left vLLM's images in " + ray_dropped_version().text + ")";
    }
    return c;
}

DSDEPLOY_INLINE std::vector<port_use> node_ports(const inventory& inv, std::size_t index) {
    const auto& p = inv.ports;
    const bool head = index < inv.cluster.nodes.size() && inv.cluster.nodes[index].role == node_role::head;
    std::vector<port_use> out;
    auto add = [&](const char* service, const char* field, int first, int last) { out.push_back({service, field, first, last}); };
    if (effective_launcher(inv).kind == launcher_kind::ray) {
        if (head) {
            add("Ray GCS", "ports.ray", p.ray, p.ray);
            add("Ray dashboard", "ports.dashboard", p.dashboard, p.dashboard);
            add("Ray client server", "ports.ray_client", p.ray_client, p.ray_client);
        }
        add("raylet (node manager)", "ports.node_manager", p.node_manager, p.node_manager);
        add("Ray object manager", "ports.object_manager", p.object_manager, p.object_manager);
        add("Ray runtime-env agent", "ports.runtime_env_agent", p.runtime_env_agent, p.runtime_env_agent);
        add("Ray dashboard agent (gRPC)", "ports.dashboard_agent_grpc", p.dashboard_agent_grpc, p.dashboard_agent_grpc);
        add("Ray metrics export", "ports.metrics_export", p.metrics_export, p.metrics_export);
        add("Ray dashboard agent (HTTP)", "ports.dashboard_agent_listen", p.dashboard_agent_listen, p.dashboard_agent_listen);
        add("Ray workers", "ports.min_worker", p.min_worker, p.max_worker);
    } else if (inv.serving.engine == engine_kind::sglang) {
        if (head) add("SGLang rendezvous (--dist-init-addr)", "ports.master", p.master, p.master);
        // With DP attention its ZMQ channels go over TCP on the dist-init host: port + 1 .. + 6
        // (sglang 0.5.23 PortArgs.init_new; port - 7 upward near 65535).
        if (head && inv.serving.attention_data_parallel_size > 1)
            add("SGLang DP-attention channels (dist-init port + 1..6)", "ports.master", p.master + 1 <= 65529 ? p.master + 1 : p.master - 7,
                p.master + 1 <= 65529 ? p.master + 6 : p.master - 2);
    } else if (inv.serving.data_parallel_size.value_or(1) > 1) {
        if (head) add("vLLM data-parallel coordination", "ports.dp_rpc", p.dp_rpc, p.dp_rpc);
    } else if (head) {
        add("vLLM multi-node rendezvous", "ports.master", p.master, p.master);
    }
    const bool hybrid = inv.serving.data_parallel_lb == dp_load_balancing::hybrid;
    if (inv.serving.engine == engine_kind::sglang)
        // Ranks > 0 serve a health-only endpoint on their own --host:--port (sglang
        // srt/utils/common.py launch_dummy_health_check_server, 0.4.10-0.5.23).
        add(head ? "SGLang API" : "SGLang health endpoint (rank > 0)", "ports.api", p.api, p.api);
    else if (head || hybrid)
        add("vLLM API", "ports.api", p.api, p.api);
    return out;
}

DSDEPLOY_INLINE void validate(const inventory& inv) {
    if (!detail::is_valid_node_name(inv.name))
        raise(errc::inventory_field, "name",
              detail::quoted(inv.name) + " is not a deployment name; use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
    validate(inv.cluster);
    validate(inv.network);
    for (std::size_t i = 0; i < inv.cluster.nodes.size(); ++i)
        (void)node_environment(inv.network, inv.cluster.nodes[i], "nodes[" + std::to_string(i) + "]");

    const auto& s = inv.serving;
    const std::string path = model_path(inv);
    if (path.empty() || path.front() != '/' || path.find('\0') != std::string::npos)
        raise(errc::inventory_field, "serving.model_path",
              detail::quoted(path) + " is not an absolute path; give the folder that holds the weights on every node (the same path everywhere, e.g. \"/data/models/DeepSeek-V3\")");
    const std::string served = served_model_name(inv);
    if (served.empty() || detail::has_control(served))
        raise(errc::inventory_field, "serving.served_model_name", "the served model name must be one line of printable text");
    for (std::size_t i = 0; i < s.extra_args.size(); ++i) {
        const std::string& a = s.extra_args[i];
        const std::string f = "serving.extra_args[" + std::to_string(i) + "]";
        if (a.find('\0') != std::string::npos) raise(errc::inventory_field, f, "contains a NUL byte, which no command line can carry");
        const std::string flag = detail::normalize_flag(a);
        if (s.engine == engine_kind::vllm)
            for (const auto& [derived, field] : detail::derived_vllm_flags())
                if (flag == derived)
                    raise(errc::inventory_field, f, flag + " is derived from the inventory; set " + field + " instead");
    }
    detail::check_env_list(s.env, "serving.env");
    for (const auto& [name, value] : s.env)
        for (const auto& [other, v2] : inv.network.extra_env)
            if (name == other)
                raise(errc::inventory_field, "serving.env." + name, name + " is also set in network.env; set it in one place");

    const auto& r = inv.runtime;
    if (r.kind == runtime_kind::docker) {
        if (r.image.empty() || std::any_of(r.image.begin(), r.image.end(), [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); }))
            raise(errc::inventory_field, "runtime.image",
                  detail::quoted(r.image) + " is not an image reference; name one image without spaces, the same on every node (e.g. \"vllm/vllm-openai:v0.11.0\")");
        if (!detail::is_size_text(r.shm_size))
            raise(errc::inventory_field, "runtime.shm_size", detail::quoted(r.shm_size) + " is not a size; use a number with an optional unit b, k, m or g (e.g. \"64g\")");
        if (!detail::is_restart_policy(r.restart))
            raise(errc::inventory_field, "runtime.restart",
                  detail::quoted(r.restart) + " is not a restart policy; use \"no\", \"always\", \"on-failure\", \"on-failure:N\" or \"unless-stopped\"");
        if (!r.model_mount.empty() && (r.model_mount.front() != '/' || r.model_mount.find('\0') != std::string::npos))
            raise(errc::inventory_field, "runtime.model_mount", detail::quoted(r.model_mount) + " is not an absolute path inside the container");
        for (std::size_t i = 0; i < r.volumes.size(); ++i)
            if (!detail::parse_volume(r.volumes[i]))
                raise(errc::inventory_field, "runtime.volumes[" + std::to_string(i) + "]",
                      detail::quoted(r.volumes[i]) + " is not a bind mount; use \"/host/path:/container/path\" with absolute paths, "
                      "optionally followed by \":ro\" or \":rw\"");
        for (auto [key, v] : {std::pair<const char*, std::int64_t>{"memlock", r.ulimits.memlock}, {"nofile", r.ulimits.nofile},
                              {"stack", r.ulimits.stack}})
            if (v < -1 || v == 0)
                raise(errc::inventory_field, std::string("runtime.ulimits.") + key,
                      std::to_string(v) + " is not a limit; use a positive number or -1 (unlimited)");
    }
    if (!r.python_env.empty() && (r.python_env.front() != '/' || r.python_env.find('\0') != std::string::npos))
        raise(errc::inventory_field, "runtime.python_env",
              detail::quoted(r.python_env) + " is not an absolute path; give the environment's prefix (the folder holding bin/ray and bin/vllm), or leave it empty to use PATH");
    if (r.num_cpus < 0 || r.num_cpus > 100000)
        raise(errc::inventory_field, "runtime.num_cpus", std::to_string(r.num_cpus) + " is not a CPU count; use 0 (detect) or a positive number");
    if (s.attention_data_parallel_size < 1 || s.attention_data_parallel_size > 1024)
        raise(errc::inventory_field, "serving.attention_data_parallel_size",
              std::to_string(s.attention_data_parallel_size) + " is not a group count; use 1 (off) or a divisor of tensor_parallel_size");
    if (s.attention_data_parallel_size > 1 && s.engine != engine_kind::sglang)
        raise(errc::inventory_field, "serving.attention_data_parallel_size",
              "DP attention is SGLang's (serving.engine = \"sglang\"); with vLLM use data_parallel_size with enable_expert_parallel");
    if (s.engine == engine_kind::sglang) detail::validate_sglang(inv);
    const int dp = s.data_parallel_size.value_or(1);
    if (s.api_server_count < 0 || s.api_server_count > 64)
        raise(errc::inventory_field, "serving.api_server_count",
              std::to_string(s.api_server_count) + " is not an API server count; use 0 (vLLM's default) or 1..64");
    if (s.num_redundant_experts < 0 || s.num_redundant_experts > 4096)
        raise(errc::inventory_field, "serving.num_redundant_experts",
              std::to_string(s.num_redundant_experts) + " is not a count of redundant experts; use 0 (no EPLB) or 1..4096");
    if (s.num_redundant_experts > 0 && !s.enable_expert_parallel)
        raise(errc::inventory_field, "serving.num_redundant_experts",
              "redundant experts are EPLB's replicas over the expert-parallel group; set enable_expert_parallel = true, or 0 here");
    if (s.data_parallel_lb == dp_load_balancing::hybrid && (dp < 2 || effective_launcher(inv).kind != launcher_kind::mp))
        raise(errc::inventory_field, "serving.data_parallel_lb",
              "\"hybrid\" balances data-parallel ranks per node with vLLM's own launcher; it needs data_parallel_size > 1 and launcher "
              "\"mp\" (or \"auto\" with vLLM >= 0.11.1); use \"internal\"");
    if (effective_launcher(inv).kind == launcher_kind::mp && dp > 1) detail::dp_local_size(inv);  // throws when the nodes cannot split it

    const auto& a = inv.api;
    if (classify_address(a.host) == address_kind::invalid)
        raise(errc::inventory_field, "api.host", detail::quoted(a.host) + " is not an address to bind; use \"0.0.0.0\" (all interfaces), \"127.0.0.1\" or one of the head's addresses");
    if (!a.key.empty() && !detail::is_api_key_text(a.key))
        raise(errc::inventory_field, "api.key",
              "the API key must be 16-512 characters of letters, digits and . _ ~ + / = -; leave it empty to have one generated");
    if (!a.key_env.empty() && !detail::is_env_name(a.key_env))
        raise(errc::inventory_field, "api.key_env", detail::quoted(a.key_env) + " is not an environment variable name");
    detail::check_ports(inv);
}

// --- source map ------------------------------------------------------------------------------

DSDEPLOY_INLINE std::string source_map::locate(const std::string& field) const {
    std::string key = field;
    while (!key.empty()) {
        auto it = lines.find(key);
        if (it != lines.end()) return file + ":" + std::to_string(it->second) + ": " + field;
        const auto cut = key.find_last_of(".[");
        if (cut == std::string::npos) break;
        key = key.substr(0, cut);
    }
    if (field.empty()) return file;
    return file + ": " + field;
}

DSDEPLOY_NAMESPACE_END
