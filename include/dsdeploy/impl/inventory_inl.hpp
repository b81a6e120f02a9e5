// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/inventory.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string_view to_string(runtime_kind k) { return k == runtime_kind::docker ? "docker" : "process"; }

DSDEPLOY_INLINE std::optional<runtime_kind> parse_runtime_kind(std::string_view s) {
    const std::string k = detail::to_lower(detail::trim(s));
    if (k == "docker" || k == "compose") return runtime_kind::docker;
    if (k == "process" || k == "bare" || k == "bare-metal") return runtime_kind::process;
    return std::nullopt;
}

DSDEPLOY_INLINE std::string_view to_string(launcher_kind k) { return k == launcher_kind::ray ? "ray" : "mp"; }

DSDEPLOY_INLINE std::optional<launcher_kind> parse_launcher_kind(std::string_view s) {
    const std::string k = detail::to_lower(detail::trim(s));
    if (k == "ray") return launcher_kind::ray;
    if (k == "mp" || k == "multiprocessing") return launcher_kind::mp;
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
        o.parallel = p;
    }
    return o;
}

DSDEPLOY_INLINE plan plan_for(const inventory& inv) {
    validate(inv.cluster);
    validate(inv.network);
    const model_spec m = resolve_model(inv.serving.model, "serving.model");
    plan_options o = to_plan_options(inv.serving);
    o.vllm_version = inv.runtime.vllm_version;
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


// Flags dsdeploy derives from the inventory; extra_args may not set them.
inline const std::vector<std::pair<std::string, std::string>>& derived_vllm_flags() {
    static const std::vector<std::pair<std::string, std::string>> flags = {
        {"--model", "serving.model_path (the model is given positionally to vllm serve)"},
        {"--served-model-name", "serving.served_model_name"},
        {"--tensor-parallel-size", "serving.tensor_parallel_size"},
        {"-tp", "serving.tensor_parallel_size"},
        {"--pipeline-parallel-size", "serving.pipeline_parallel_size"},
        {"-pp", "serving.pipeline_parallel_size"},
        {"--data-parallel-size", "serving.data_parallel_size"},
        {"-dp", "serving.data_parallel_size"},
        {"--enable-expert-parallel", "serving.enable_expert_parallel"},
        {"--no-enable-expert-parallel", "serving.enable_expert_parallel"},
        {"--distributed-executor-backend", "runtime.launcher"},
        {"--gpu-memory-utilization", "serving.gpu_memory_utilization"},
        {"--max-model-len", "serving.max_model_len"},
        {"--kv-cache-dtype", "serving.kv_cache_dtype"},
        {"--host", "api.host"},
        {"--port", "ports.api"},
        {"--api-key", "api.key (vLLM reads it from VLLM_API_KEY, so it never shows in a process list)"},
        {"--headless", "the node roles"},
        {"--nnodes", "the nodes"},
        {"--node-rank", "the node order"},
        {"--master-addr", "the head's address"},
        {"--master-port", "ports.master"},
    };
    return flags;
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

DSDEPLOY_INLINE std::vector<port_use> node_ports(const inventory& inv, std::size_t index) {
    const auto& p = inv.ports;
    const bool head = index < inv.cluster.nodes.size() && inv.cluster.nodes[index].role == node_role::head;
    std::vector<port_use> out;
    auto add = [&](const char* service, const char* field, int first, int last) { out.push_back({service, field, first, last}); };
    if (inv.runtime.launcher == launcher_kind::ray) {
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
    } else if (head) {
        add("vLLM multi-node rendezvous", "ports.master", p.master, p.master);
    }
    if (head) add("vLLM API", "ports.api", p.api, p.api);
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
    }
    if (!r.python_env.empty() && (r.python_env.front() != '/' || r.python_env.find('\0') != std::string::npos))
        raise(errc::inventory_field, "runtime.python_env",
              detail::quoted(r.python_env) + " is not an absolute path; give the environment's prefix (the folder holding bin/ray and bin/vllm), or leave it empty to use PATH");
    if (r.num_cpus < 0 || r.num_cpus > 100000)
        raise(errc::inventory_field, "runtime.num_cpus", std::to_string(r.num_cpus) + " is not a CPU count; use 0 (detect) or a positive number");
    if (r.launcher == launcher_kind::mp && s.data_parallel_size.value_or(1) > 1)
        raise(errc::inventory_field, "runtime.launcher",
              "the \"mp\" launcher is rendered for TP x PP only; use launcher = \"ray\" with data parallelism");

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

// --- reading -------------------------------------------------------------------------------

namespace detail {

// Line numbers of every value in a JSON text that nlohmann already accepted; stops quietly
// at nesting deeper than any inventory has.
class json_line_scanner {
public:
    json_line_scanner(std::string_view text, std::map<std::string, int>& lines) : s_(text), lines_(lines) {}
    void run() {
        try {
            value("", 0);
        } catch (const too_deep&) {
        }
    }

private:
    struct too_deep {};
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) {
            if (s_[i_] == '\n') ++line_;
            ++i_;
        }
    }
    std::string str() {
        std::string out;
        ++i_;  // opening quote
        while (i_ < s_.size() && s_[i_] != '"') {
            if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
                const char e = s_[i_ + 1];
                if (e == 'u') {
                    out += '?';
                    i_ += 6;
                    continue;
                }
                out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
                i_ += 2;
                continue;
            }
            out += s_[i_++];
        }
        ++i_;  // closing quote
        return out;
    }
    void value(const std::string& path, int depth) {
        if (depth > 64) throw too_deep{};
        ws();
        if (i_ >= s_.size()) return;
        if (!path.empty() && !lines_.count(path)) lines_[path] = line_;
        const char c = s_[i_];
        if (c == '{') {
            ++i_;
            ws();
            if (i_ < s_.size() && s_[i_] == '}') {
                ++i_;
                return;
            }
            while (i_ < s_.size()) {
                ws();
                const int key_line = line_;
                const std::string key = str();
                const std::string child = path.empty() ? key : path + "." + key;
                if (!lines_.count(child)) lines_[child] = key_line;
                ws();
                ++i_;  // ':'
                value(child, depth + 1);
                ws();
                if (i_ < s_.size() && s_[i_] == ',') {
                    ++i_;
                    continue;
                }
                ++i_;  // '}'
                break;
            }
        } else if (c == '[') {
            ++i_;
            ws();
            if (i_ < s_.size() && s_[i_] == ']') {
                ++i_;
                return;
            }
            for (std::size_t k = 0; i_ < s_.size(); ++k) {
                value(path + "[" + std::to_string(k) + "]", depth + 1);
                ws();
                if (i_ < s_.size() && s_[i_] == ',') {
                    ++i_;
                    continue;
                }
                ++i_;  // ']'
                break;
            }
        } else if (c == '"') {
            (void)str();
        } else {
            while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ' && s_[i_] != '\n' && s_[i_] != '\t' &&
                   s_[i_] != '\r')
                ++i_;
        }
    }

    std::string_view s_;
    std::map<std::string, int>& lines_;
    std::size_t i_ = 0;
    int line_ = 1;
};

inline void toml_to_json(const toml::node& n, const std::string& path, nlohmann::json& out, source_map& src) {
    const int line = static_cast<int>(n.source().begin.line);
    if (!path.empty() && line > 0 && !src.lines.count(path)) src.lines[path] = line;
    if (const auto* t = n.as_table()) {
        out = nlohmann::json::object();
        for (auto&& [k, v] : *t) {
            const std::string key(k.str());
            const std::string child = path.empty() ? key : path + "." + key;
            const int key_line = static_cast<int>(k.source().begin.line);
            if (key_line > 0 && !src.lines.count(child)) src.lines[child] = key_line;
            toml_to_json(v, child, out[key], src);
        }
    } else if (const auto* a = n.as_array()) {
        out = nlohmann::json::array();
        for (std::size_t i = 0; i < a->size(); ++i) {
            nlohmann::json item;
            toml_to_json(*a->get(i), path + "[" + std::to_string(i) + "]", item, src);
            out.push_back(std::move(item));
        }
    } else if (const auto* s = n.as_string()) {
        out = s->get();
    } else if (const auto* i = n.as_integer()) {
        out = i->get();
    } else if (const auto* f = n.as_floating_point()) {
        out = f->get();
    } else if (const auto* b = n.as_boolean()) {
        out = b->get();
    } else {
        raise(errc::inventory_field, src.locate(path), "dates and times are not inventory values; use a string or a number");
    }
}

inline std::string describe_json(const nlohmann::json& v) {
    std::string text = v.dump();
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    const char* what = v.is_string() ? "a string" : v.is_boolean() ? "a boolean" : v.is_number_integer() ? "an integer" : v.is_number() ? "a number"
                       : v.is_array() ? "an array" : v.is_object() ? "a table" : "null";
    return text + " (" + what + ")";
}

inline std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// Reads the JSON form of an inventory (TOML is converted to it first), strictly.
class inventory_reader {
public:
    explicit inventory_reader(const source_map& src) : src_(src) {}

    [[noreturn]] void fail(errc code, const std::string& path, const std::string& detail) const { raise(code, src_.locate(path), detail); }

    static std::string join_path(const std::string& base, const std::string& key) { return base.empty() ? key : base + "." + key; }

    void only(const nlohmann::json& obj, const std::string& path, const std::vector<std::string>& known, const std::string& where) const {
        for (auto it = obj.begin(); it != obj.end(); ++it) {
            if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
            std::string best;
            std::size_t best_d = 3;
            for (const auto& k : known) {
                const std::size_t d = edit_distance(to_lower(it.key()), k);
                if (d < best_d) {
                    best_d = d;
                    best = k;
                }
            }
            std::string msg = "unknown key \"" + it.key() + "\" in " + where + ";";
            if (!best.empty()) msg += " did you mean \"" + best + "\"?";
            msg += " Known keys: " + join(known, ", ");
            fail(errc::inventory_unknown_key, join_path(path, it.key()), msg);
        }
    }

    const nlohmann::json* find(const nlohmann::json& obj, const char* key) const {
        auto it = obj.find(key);
        return it == obj.end() ? nullptr : &*it;
    }

    const nlohmann::json& table(const nlohmann::json& obj, const std::string& path) const {
        if (!obj.is_object()) fail(errc::inventory_field, path, "expected a table, got " + describe_json(obj));
        return obj;
    }

    void string(const nlohmann::json& obj, const std::string& base, const char* key, std::string& out) const {
        if (const auto* v = find(obj, key)) {
            if (!v->is_string()) fail(errc::inventory_field, join_path(base, key), "expected a string, got " + describe_json(*v));
            out = v->get<std::string>();
        }
    }
    void boolean(const nlohmann::json& obj, const std::string& base, const char* key, bool& out) const {
        if (const auto* v = find(obj, key)) {
            if (!v->is_boolean()) fail(errc::inventory_field, join_path(base, key), "expected true or false, got " + describe_json(*v));
            out = v->get<bool>();
        }
    }
    int to_int(const nlohmann::json& v, const std::string& path) const {
        if (v.is_number_integer()) {
            const auto i = v.get<std::int64_t>();
            if (i >= -2147483647 && i <= 2147483647) return static_cast<int>(i);
            fail(errc::inventory_field, path, describe_json(v) + " is out of range");
        }
        if (v.is_number_float()) {
            const double d = v.get<double>();
            if (std::floor(d) == d && d >= -2147483647.0 && d <= 2147483647.0) return static_cast<int>(d);
        }
        fail(errc::inventory_field, path, "expected an integer, got " + describe_json(v));
    }
    void integer(const nlohmann::json& obj, const std::string& base, const char* key, int& out) const {
        if (const auto* v = find(obj, key)) out = to_int(*v, join_path(base, key));
    }
    void optional_integer(const nlohmann::json& obj, const std::string& base, const char* key, std::optional<int>& out) const {
        if (const auto* v = find(obj, key)) out = to_int(*v, join_path(base, key));
    }
    void number(const nlohmann::json& obj, const std::string& base, const char* key, double& out) const {
        if (const auto* v = find(obj, key)) {
            if (!v->is_number()) fail(errc::inventory_field, join_path(base, key), "expected a number, got " + describe_json(*v));
            out = v->get<double>();
        }
    }
    void strings(const nlohmann::json& obj, const std::string& base, const char* key, std::vector<std::string>& out) const {
        if (const auto* v = find(obj, key)) {
            const std::string path = join_path(base, key);
            if (!v->is_array()) fail(errc::inventory_field, path, "expected an array of strings, got " + describe_json(*v));
            out.clear();
            for (std::size_t i = 0; i < v->size(); ++i) {
                const auto& item = (*v)[i];
                if (!item.is_string())
                    fail(errc::inventory_field, path + "[" + std::to_string(i) + "]", "expected a string, got " + describe_json(item));
                out.push_back(item.get<std::string>());
            }
        }
    }
    void integers(const nlohmann::json& obj, const std::string& base, const char* key, std::vector<int>& out) const {
        if (const auto* v = find(obj, key)) {
            const std::string path = join_path(base, key);
            if (!v->is_array()) fail(errc::inventory_field, path, "expected an array of integers, got " + describe_json(*v));
            out.clear();
            for (std::size_t i = 0; i < v->size(); ++i) out.push_back(to_int((*v)[i], path + "[" + std::to_string(i) + "]"));
        }
    }
    void env(const nlohmann::json& obj, const std::string& base, const char* key, env_list& out) const {
        if (const auto* v = find(obj, key)) {
            const std::string path = join_path(base, key);
            if (!v->is_object())
                fail(errc::inventory_field, path, "expected a table of NAME = \"value\" pairs, got " + describe_json(*v));
            out.clear();
            for (auto it = v->begin(); it != v->end(); ++it) {
                const std::string f = path + "." + it.key();
                if (it->is_string()) out.emplace_back(it.key(), it->get<std::string>());
                else if (it->is_number_integer()) out.emplace_back(it.key(), std::to_string(it->get<std::int64_t>()));
                else if (it->is_boolean()) out.emplace_back(it.key(), it->get<bool>() ? "1" : "0");
                else fail(errc::inventory_field, f, "expected a string value, got " + describe_json(*it));
            }
        }
    }

    inventory read(const nlohmann::json& root) const {
        inventory inv;
        inv.cluster.nodes.clear();
        table(root, "");
        only(root, "", {"name", "nodes", "network", "serving", "runtime", "ports", "api"}, "the top level");
        string(root, "", "name", inv.name);
        if (const auto* nodes = find(root, "nodes")) {
            if (!nodes->is_array()) fail(errc::inventory_field, "nodes", "expected [[nodes]] tables (an array), got " + describe_json(*nodes));
            for (std::size_t i = 0; i < nodes->size(); ++i) inv.cluster.nodes.push_back(read_node((*nodes)[i], "nodes[" + std::to_string(i) + "]"));
        }
        if (const auto* n = find(root, "network")) read_network(table(*n, "network"), inv.network);
        if (const auto* s = find(root, "serving")) read_serving(table(*s, "serving"), inv.serving);
        if (const auto* r = find(root, "runtime")) read_runtime(table(*r, "runtime"), inv.runtime);
        if (const auto* p = find(root, "ports")) read_ports(table(*p, "ports"), inv.ports);
        if (const auto* a = find(root, "api")) read_api(table(*a, "api"), inv.api);
        return inv;
    }

private:
    node read_node(const nlohmann::json& j, const std::string& at) const {
        table(j, at);
        only(j, at, {"name", "address", "role", "gpu_type", "gpu_count", "gpu_ids", "ssh", "interface"}, "[[nodes]]");
        node n;
        string(j, at, "name", n.name);
        string(j, at, "address", n.address);
        std::string role = "worker";
        string(j, at, "role", role);
        if (role == "head") n.role = node_role::head;
        else if (role == "worker") n.role = node_role::worker;
        else fail(errc::inventory_field, at + ".role", "\"" + role + "\" is not a role; use \"head\" (exactly one node) or \"worker\"");
        string(j, at, "gpu_type", n.gpu_type);
        integer(j, at, "gpu_count", n.gpu_count);
        integers(j, at, "gpu_ids", n.gpu_ids);
        string(j, at, "ssh", n.ssh);
        string(j, at, "interface", n.interface);
        return n;
    }

    void read_network(const nlohmann::json& j, network_profile& p) const {
        only(j, "network", {"fabric", "interface", "hcas", "gid_index", "ib_timeout", "nccl_debug", "env"}, "[network]");
        std::string kind(to_string(p.kind));
        string(j, "network", "fabric", kind);
        const auto f = parse_fabric(kind);
        if (!f) fail(errc::inventory_field, "network.fabric", "\"" + kind + "\" is not a fabric; use \"infiniband\", \"roce\" or \"tcp\"");
        p.kind = *f;
        string(j, "network", "interface", p.interface);
        strings(j, "network", "hcas", p.hcas);
        optional_integer(j, "network", "gid_index", p.gid_index);
        optional_integer(j, "network", "ib_timeout", p.ib_timeout);
        boolean(j, "network", "nccl_debug", p.nccl_debug);
        env(j, "network", "env", p.extra_env);
    }

    void read_serving(const nlohmann::json& j, serving_options& s) const {
        only(j, "serving",
             {"model", "model_path", "served_model_name", "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size",
              "enable_expert_parallel", "allow_cross_node_tp", "pp_layer_partition", "gpu_memory_utilization", "max_model_len",
              "kv_cache_dtype", "headroom_gib", "extra_args", "env"},
             "[serving]");
        string(j, "serving", "model", s.model);
        string(j, "serving", "model_path", s.model_path);
        string(j, "serving", "served_model_name", s.served_model_name);
        optional_integer(j, "serving", "tensor_parallel_size", s.tensor_parallel_size);
        optional_integer(j, "serving", "pipeline_parallel_size", s.pipeline_parallel_size);
        optional_integer(j, "serving", "data_parallel_size", s.data_parallel_size);
        boolean(j, "serving", "enable_expert_parallel", s.enable_expert_parallel);
        boolean(j, "serving", "allow_cross_node_tp", s.allow_cross_node_tp);
        integers(j, "serving", "pp_layer_partition", s.pp_layer_partition);
        number(j, "serving", "gpu_memory_utilization", s.gpu_memory_utilization);
        integer(j, "serving", "max_model_len", s.max_model_len);
        if (const auto* v = find(j, "kv_cache_dtype")) {
            if (!v->is_string()) fail(errc::inventory_field, "serving.kv_cache_dtype", "expected a string, got " + describe_json(*v));
            const std::string t = v->get<std::string>();
            if (t == "auto") {
                s.kv_cache_dtype.reset();
            } else {
                const auto d = parse_dtype(t);
                if (!d || (*d != dtype::fp8 && *d != dtype::bf16 && *d != dtype::fp16))
                    fail(errc::inventory_field, "serving.kv_cache_dtype", "\"" + t + "\" is not a KV cache dtype; use \"auto\", \"fp8\" or \"bfloat16\"");
                s.kv_cache_dtype = *d;
            }
        }
        number(j, "serving", "headroom_gib", s.headroom_gib);
        strings(j, "serving", "extra_args", s.extra_args);
        env(j, "serving", "env", s.env);
    }

    void read_runtime(const nlohmann::json& j, runtime_options& r) const {
        only(j, "runtime",
             {"kind", "image", "vllm_version", "launcher", "python_env", "shm_size", "privileged", "restart", "model_mount", "num_cpus"},
             "[runtime]");
        std::string kind(to_string(r.kind));
        string(j, "runtime", "kind", kind);
        const auto k = parse_runtime_kind(kind);
        if (!k) fail(errc::inventory_field, "runtime.kind", "\"" + kind + "\" is not a runtime; use \"docker\" (compose files) or \"process\" (a Python environment on each host)");
        r.kind = *k;
        string(j, "runtime", "image", r.image);
        string(j, "runtime", "vllm_version", r.vllm_version);
        std::string launcher(to_string(r.launcher));
        string(j, "runtime", "launcher", launcher);
        const auto l = parse_launcher_kind(launcher);
        if (!l) fail(errc::inventory_field, "runtime.launcher", "\"" + launcher + "\" is not a launcher; use \"ray\" or \"mp\" (vLLM >= 0.11.1)");
        r.launcher = *l;
        string(j, "runtime", "python_env", r.python_env);
        string(j, "runtime", "shm_size", r.shm_size);
        boolean(j, "runtime", "privileged", r.privileged);
        string(j, "runtime", "restart", r.restart);
        string(j, "runtime", "model_mount", r.model_mount);
        integer(j, "runtime", "num_cpus", r.num_cpus);
    }

    void read_ports(const nlohmann::json& j, port_options& p) const {
        only(j, "ports",
             {"ray", "dashboard", "ray_client", "node_manager", "object_manager", "runtime_env_agent", "dashboard_agent_grpc",
              "metrics_export", "dashboard_agent_listen", "min_worker", "max_worker", "api", "master"},
             "[ports]");
        integer(j, "ports", "ray", p.ray);
        integer(j, "ports", "dashboard", p.dashboard);
        integer(j, "ports", "ray_client", p.ray_client);
        integer(j, "ports", "node_manager", p.node_manager);
        integer(j, "ports", "object_manager", p.object_manager);
        integer(j, "ports", "runtime_env_agent", p.runtime_env_agent);
        integer(j, "ports", "dashboard_agent_grpc", p.dashboard_agent_grpc);
        integer(j, "ports", "metrics_export", p.metrics_export);
        integer(j, "ports", "dashboard_agent_listen", p.dashboard_agent_listen);
        integer(j, "ports", "min_worker", p.min_worker);
        integer(j, "ports", "max_worker", p.max_worker);
        integer(j, "ports", "api", p.api);
        integer(j, "ports", "master", p.master);
    }

    void read_api(const nlohmann::json& j, api_options& a) const {
        only(j, "api", {"host", "auth", "key", "key_env", "expose_dashboard"}, "[api]");
        string(j, "api", "host", a.host);
        boolean(j, "api", "auth", a.auth);
        string(j, "api", "key", a.key);
        string(j, "api", "key_env", a.key_env);
        boolean(j, "api", "expose_dashboard", a.expose_dashboard);
    }

    const source_map& src_;
};

inline int line_of_offset(std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

inline bool looks_like_json(std::string_view text) {
    const auto t = trim(text);
    return !t.empty() && t.front() == '{';
}
}  // namespace detail

DSDEPLOY_INLINE loaded_inventory parse_inventory(std::string_view text, const std::string& file, inventory_format format) {
    loaded_inventory out;
    out.source.file = file;
    if (format == inventory_format::automatic) format = detail::looks_like_json(text) ? inventory_format::json : inventory_format::toml;
    nlohmann::json root;
    if (format == inventory_format::json) {
        try {
            root = nlohmann::json::parse(text.begin(), text.end());
        } catch (const nlohmann::json::parse_error& e) {
            const int line = detail::line_of_offset(text, e.byte > 0 ? e.byte - 1 : 0);
            std::string what = e.what();
            if (auto p = what.find("]: "); p != std::string::npos) what = what.substr(p + 3);
            raise(errc::inventory_syntax, file + ":" + std::to_string(line), "not valid JSON: " + what);
        } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for a double
            std::string what = e.what();
            if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
            raise(errc::inventory_syntax, file, "not valid JSON: " + what);
        }
        detail::json_line_scanner(text, out.source.lines).run();
    } else {
        toml::table t;
        try {
            t = toml::parse(text, file);
        } catch (const toml::parse_error& e) {
            const auto& b = e.source().begin;
            raise(errc::inventory_syntax, file + ":" + std::to_string(b.line),
                  "not valid TOML: " + std::string(e.description()) + " (column " + std::to_string(b.column) + ")");
        }
        detail::toml_to_json(t, "", root, out.source);
    }
    out.inv = detail::inventory_reader(out.source).read(root);
    return out;
}

DSDEPLOY_INLINE loaded_inventory load_inventory_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) raise(errc::inventory_unreadable, path.string(), "cannot open the inventory file (does it exist, can it be read?)");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) raise(errc::inventory_unreadable, path.string(), "reading the inventory file failed");
    const std::string ext = detail::to_lower(path.extension().string());
    const inventory_format f = ext == ".json" ? inventory_format::json : ext == ".toml" ? inventory_format::toml : inventory_format::automatic;
    return parse_inventory(ss.str(), path.string(), f);
}

// --- writing ---------------------------------------------------------------------------------

namespace detail {
inline std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04X}", c);
                else out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

inline std::string toml_key(std::string_view k) {
    const bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
    return bare ? std::string(k) : toml_string(k);
}

inline std::string toml_number(double v) {
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

inline std::string toml_strings(const std::vector<std::string>& v) {
    std::vector<std::string> q;
    for (const auto& s : v) q.push_back(toml_string(s));
    return "[" + join(q, ", ") + "]";
}

inline std::string toml_ints(const std::vector<int>& v) {
    std::vector<std::string> q;
    for (int i : v) q.push_back(std::to_string(i));
    return "[" + join(q, ", ") + "]";
}

inline std::string toml_env(const env_list& env) {
    std::vector<std::string> q;
    for (const auto& [k, v] : env) q.push_back(toml_key(k) + " = " + toml_string(v));
    return q.empty() ? "{}" : "{ " + join(q, ", ") + " }";
}

// "key = value" padded so the comments line up.
inline std::string toml_line(const std::string& assignment, std::string_view comment, bool commented_out = false) {
    std::string line = (commented_out ? "# " : "") + assignment;
    if (!comment.empty()) {
        if (line.size() < 34) line += std::string(34 - line.size(), ' ');
        else line += "  ";
        line += "# ";
        line += comment;
    }
    return line + "\n";
}
}  // namespace detail

DSDEPLOY_INLINE std::string to_toml(const inventory& inv) {
    using namespace detail;
    std::string out;
    out += "# dsdeploy inventory: one description of a multi-node vLLM deployment. Every file of the\n"
           "# bundle (compose files, launch scripts, the vllm serve command) is derived from it:\n"
           "#   dsdeploy plan   --inventory inventory.toml\n"
           "#   dsdeploy render --inventory inventory.toml --out bundle\n"
           "# Unknown keys are errors, so a typo is never silently ignored. Lines starting with '#'\n"
           "# are comments; commented-out keys show optional settings with an example value.\n\n";
    out += toml_line("name = " + toml_string(inv.name), "names the containers and the bundle");

    const auto& r = inv.runtime;
    out += "\n[runtime]\n";
    out += toml_line("kind = " + toml_string(to_string(r.kind)), "docker (a compose file per node) | process (a Python env per host)");
    out += toml_line("image = " + toml_string(r.image), "docker: the same image on every node");
    out += toml_line("vllm_version = " + toml_string(r.vllm_version), "the vLLM in the image/env: decides which flags exist");
    out += toml_line("launcher = " + toml_string(to_string(r.launcher)), "ray (Ray cluster) | mp (vLLM --nnodes, vLLM >= 0.11.1)");
    out += toml_line("python_env = " + toml_string(r.python_env), "process: prefix with bin/ray, bin/vllm; \"\" = PATH", r.python_env.empty());
    out += toml_line("shm_size = " + toml_string(r.shm_size), "docker: /dev/shm size for NCCL");
    out += toml_line(std::string("privileged = ") + (r.privileged ? "true" : "false"),
                     "docker: only if you must; RDMA gets IPC_LOCK + /dev/infiniband");
    out += toml_line("restart = " + toml_string(r.restart), "docker: no | always | on-failure[:N] | unless-stopped");
    out += toml_line("model_mount = " + toml_string(r.model_mount.empty() ? "/models/DeepSeek-V3" : r.model_mount),
                     "docker: model path in the container; default: serving.model_path", r.model_mount.empty());
    out += toml_line("num_cpus = " + std::to_string(r.num_cpus), "ray --num-cpus; 0 = detect (CPU-only nodes: nproc)");

    const auto& p = inv.ports;
    out += "\n# Every port is pinned, so a firewall can be written and the bundle checks that no two\n"
           "# services on one node want the same port. Open them between the nodes only.\n[ports]\n";
    out += toml_line("ray = " + std::to_string(p.ray), "Ray GCS on the head; workers join HEAD:ray");
    out += toml_line("dashboard = " + std::to_string(p.dashboard), "Ray dashboard + job API (head, 127.0.0.1 by default)");
    out += toml_line("ray_client = " + std::to_string(p.ray_client), "Ray client server (head)");
    out += toml_line("node_manager = " + std::to_string(p.node_manager), "raylet, every node");
    out += toml_line("object_manager = " + std::to_string(p.object_manager), "every node");
    out += toml_line("runtime_env_agent = " + std::to_string(p.runtime_env_agent), "every node");
    out += toml_line("dashboard_agent_grpc = " + std::to_string(p.dashboard_agent_grpc), "every node");
    out += toml_line("metrics_export = " + std::to_string(p.metrics_export), "every node (Prometheus)");
    out += toml_line("dashboard_agent_listen = " + std::to_string(p.dashboard_agent_listen), "every node");
    out += toml_line("min_worker = " + std::to_string(p.min_worker), "Ray worker processes, every node ...");
    out += toml_line("max_worker = " + std::to_string(p.max_worker), "... up to this port");
    out += toml_line("api = " + std::to_string(p.api), "vLLM OpenAI API on the head");
    out += toml_line("master = " + std::to_string(p.master), "vLLM multi-node rendezvous (launcher = \"mp\")");

    const auto& a = inv.api;
    out += "\n[api]\n";
    out += toml_line("host = " + toml_string(a.host), "vllm serve --host");
    out += toml_line(std::string("auth = ") + (a.auth ? "true" : "false"), "require an API key (sent as VLLM_API_KEY, never on a command line)");
    out += toml_line("key = \"\"", "the key; empty: key_env, else the bundle's existing key, else generated", true);
    out += toml_line("key_env = " + toml_string(a.key_env), "environment variable read at render time");
    out += toml_line(std::string("expose_dashboard = ") + (a.expose_dashboard ? "true" : "false"),
                     "true binds the Ray dashboard to 0.0.0.0: remote code execution for anyone who reaches it");

    const auto& n = inv.network;
    out += "\n# The cluster network: detected with `ibv_devinfo` on each node (dsdeploy doctor) or declared.\n[network]\n";
    out += toml_line("fabric = " + toml_string(to_string(n.kind)), "infiniband | roce | tcp");
    out += toml_line("interface = " + toml_string(n.interface), "NIC for NCCL/Gloo bootstrap (NCCL_SOCKET_IFNAME)");
    out += toml_line("hcas = " + toml_strings(n.hcas), "RDMA devices (NCCL_IB_HCA), as ibv_devinfo names them", n.hcas.empty() && n.kind == fabric::tcp);
    out += toml_line("gid_index = " + std::to_string(n.gid_index.value_or(3)), "RoCE v2 GID index (show_gids)", !n.gid_index);
    out += toml_line("ib_timeout = " + std::to_string(n.ib_timeout.value_or(22)), "NCCL_IB_TIMEOUT, 1..31", !n.ib_timeout);
    out += toml_line(std::string("nccl_debug = ") + (n.nccl_debug ? "true" : "false"), "NCCL_DEBUG=INFO: confirm NET/IB in the logs");
    out += toml_line("env = " + (n.extra_env.empty() ? std::string("{ NCCL_IB_QPS_PER_CONNECTION = \"2\" }") : toml_env(n.extra_env)),
                     "more NCCL/UCX variables", n.extra_env.empty());

    const auto& s = inv.serving;
    out += "\n[serving]\n";
    out += toml_line("model = " + toml_string(s.model), "catalog id, or a local folder with config.json");
    out += toml_line("model_path = " + toml_string(s.model_path), "the weights, at the same path on every node");
    out += toml_line("served_model_name = " + toml_string(s.served_model_name), "the name clients ask for");
    out += toml_line("tensor_parallel_size = " + std::to_string(s.tensor_parallel_size.value_or(8)), "unset: the planner chooses (TP = GPUs per node)",
                     !s.tensor_parallel_size);
    out += toml_line("pipeline_parallel_size = " + std::to_string(s.pipeline_parallel_size.value_or(2)), "unset: PP = nodes",
                     !s.pipeline_parallel_size);
    out += toml_line("data_parallel_size = " + std::to_string(s.data_parallel_size.value_or(1)), "replicas", !s.data_parallel_size);
    out += toml_line(std::string("enable_expert_parallel = ") + (s.enable_expert_parallel ? "true" : "false"), "MoE: EP instead of TP for experts");
    out += toml_line(std::string("allow_cross_node_tp = ") + (s.allow_cross_node_tp ? "true" : "false"), "let one TP group span nodes");
    out += toml_line("pp_layer_partition = " + (s.pp_layer_partition.empty() ? std::string("[32, 29]") : toml_ints(s.pp_layer_partition)),
                     "layers per stage (VLLM_PP_LAYER_PARTITION)", s.pp_layer_partition.empty());
    out += toml_line("gpu_memory_utilization = " + toml_number(s.gpu_memory_utilization), "fraction of each GPU vLLM may use");
    out += toml_line("max_model_len = " + std::to_string(s.max_model_len), "context length; 0 = the model's");
    out += toml_line("kv_cache_dtype = " + toml_string(s.kv_cache_dtype ? std::string(to_string(*s.kv_cache_dtype)) : "auto"), "auto | fp8");
    out += toml_line("headroom_gib = " + toml_number(s.headroom_gib), "per GPU: activations, NCCL buffers, CUDA graphs");
    out += toml_line("extra_args = " + (s.extra_args.empty() ? std::string("[\"--enforce-eager\"]") : toml_strings(s.extra_args)),
                     "more vllm serve flags, checked against vllm_version", s.extra_args.empty());
    out += toml_line("env = " + (s.env.empty() ? std::string("{ VLLM_CPU_KVCACHE_SPACE = \"4\" }") : toml_env(s.env)),
                     "more environment for Ray and vLLM on every node", s.env.empty());

    out += "\n# One [[nodes]] table per server. Exactly one has role = \"head\": it runs the Ray head\n"
           "# (or vLLM rank 0) and the API server.\n";
    for (const auto& nd : inv.cluster.nodes) {
        out += "[[nodes]]\n";
        out += toml_line("name = " + toml_string(nd.name), "unique; the node's folder in the bundle");
        out += toml_line("address = " + toml_string(nd.address), "IP on the cluster network: VLLM_HOST_IP, ray --node-ip-address");
        out += toml_line("role = " + toml_string(to_string(nd.role)), "head | worker");
        out += toml_line("gpu_type = " + toml_string(nd.gpu_type), "GPU catalog name; \"\" on a CPU-only node");
        out += toml_line("gpu_count = " + std::to_string(nd.gpu_count), "0 on a CPU-only node");
        out += toml_line("gpu_ids = " + (nd.gpu_ids.empty() ? std::string("[0, 1, 2, 3]") : toml_ints(nd.gpu_ids)),
                         "use these CUDA devices instead of 0..gpu_count-1", nd.gpu_ids.empty());
        out += toml_line("ssh = " + toml_string(nd.ssh.empty() ? "root@" + nd.address : nd.ssh), "how to reach the node; default: its address",
                         nd.ssh.empty());
        out += toml_line("interface = " + toml_string(nd.interface.empty() ? "eth1" : nd.interface), "this node's NIC, if not network.interface",
                         nd.interface.empty());
        out += "\n";
    }
    return out;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const inventory& inv) {
    using nlohmann::json;
    auto env_json = [](const env_list& env) {
        json o = json::object();
        for (const auto& [k, v] : env) o[k] = v;
        return o;
    };
    j = json::object();
    j["name"] = inv.name;
    const auto& r = inv.runtime;
    j["runtime"] = {{"kind", std::string(to_string(r.kind))}, {"image", r.image}, {"vllm_version", r.vllm_version},
                    {"launcher", std::string(to_string(r.launcher))}, {"python_env", r.python_env}, {"shm_size", r.shm_size},
                    {"privileged", r.privileged}, {"restart", r.restart}, {"model_mount", r.model_mount}, {"num_cpus", r.num_cpus}};
    const auto& p = inv.ports;
    j["ports"] = {{"ray", p.ray}, {"dashboard", p.dashboard}, {"ray_client", p.ray_client}, {"node_manager", p.node_manager},
                  {"object_manager", p.object_manager}, {"runtime_env_agent", p.runtime_env_agent},
                  {"dashboard_agent_grpc", p.dashboard_agent_grpc}, {"metrics_export", p.metrics_export},
                  {"dashboard_agent_listen", p.dashboard_agent_listen}, {"min_worker", p.min_worker}, {"max_worker", p.max_worker},
                  {"api", p.api}, {"master", p.master}};
    const auto& a = inv.api;
    j["api"] = {{"host", a.host}, {"auth", a.auth}, {"key_env", a.key_env}, {"expose_dashboard", a.expose_dashboard}};
    const auto& n = inv.network;
    json net = {{"fabric", std::string(to_string(n.kind))}, {"interface", n.interface}, {"hcas", n.hcas}, {"nccl_debug", n.nccl_debug},
                {"env", env_json(n.extra_env)}};
    if (n.gid_index) net["gid_index"] = *n.gid_index;
    if (n.ib_timeout) net["ib_timeout"] = *n.ib_timeout;
    j["network"] = net;
    const auto& s = inv.serving;
    json serving = {{"model", s.model},
                    {"model_path", s.model_path},
                    {"served_model_name", s.served_model_name},
                    {"enable_expert_parallel", s.enable_expert_parallel},
                    {"allow_cross_node_tp", s.allow_cross_node_tp},
                    {"pp_layer_partition", s.pp_layer_partition},
                    {"gpu_memory_utilization", s.gpu_memory_utilization},
                    {"max_model_len", s.max_model_len},
                    {"kv_cache_dtype", s.kv_cache_dtype ? std::string(to_string(*s.kv_cache_dtype)) : std::string("auto")},
                    {"headroom_gib", s.headroom_gib},
                    {"extra_args", s.extra_args},
                    {"env", env_json(s.env)}};
    if (s.tensor_parallel_size) serving["tensor_parallel_size"] = *s.tensor_parallel_size;
    if (s.pipeline_parallel_size) serving["pipeline_parallel_size"] = *s.pipeline_parallel_size;
    if (s.data_parallel_size) serving["data_parallel_size"] = *s.data_parallel_size;
    j["serving"] = serving;
    json nodes = json::array();
    for (const auto& nd : inv.cluster.nodes) {
        json o = {{"name", nd.name},         {"address", nd.address},     {"role", std::string(to_string(nd.role))},
                  {"gpu_type", nd.gpu_type}, {"gpu_count", nd.gpu_count}, {"gpu_ids", nd.gpu_ids}};
        if (!nd.ssh.empty()) o["ssh"] = nd.ssh;
        if (!nd.interface.empty()) o["interface"] = nd.interface;
        nodes.push_back(o);
    }
    j["nodes"] = nodes;
}

DSDEPLOY_NAMESPACE_END
