// SPDX-License-Identifier: Apache-2.0
// The inventory's schema: every key of the file, described once. Each table ([runtime],
// [ports], [[nodes]], ...) lists its fields in file order; a field knows its key, the TOML
// comment `dsdeploy init` writes beside it, how its value is read (with the error for a wrong
// type or value), how it is written to TOML and JSON, and when it is an optional setting
// (written commented out, with an example). The allow-list and the "did you mean" hints
// (inventory_read_inl.hpp) and both writers (inventory_write_inl.hpp) are driven by it: a new
// key is one row here.
#pragma once

#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/inventory.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {
namespace schema {

using json = nlohmann::json;

// --- values as TOML text -------------------------------------------------------------------------

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

// --- values read from the JSON form (TOML is converted to it first) ------------------------------

// A value and its JSON type for error messages: "\"x\" (a string)", cut at 60 characters.
inline std::string describe_json(const json& v) {
    std::string text = v.dump();
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    const char* what = v.is_string() ? "a string" : v.is_boolean() ? "a boolean" : v.is_number_integer() ? "an integer" : v.is_number() ? "a number"
                       : v.is_array() ? "an array" : v.is_object() ? "a table" : "null";
    return text + " (" + what + ")";
}

// Reads typed values strictly; every error names the field's file and line.
class reader {
public:
    explicit reader(const source_map& src) : src_(src) {}

    [[noreturn]] void fail(errc code, const std::string& path, const std::string& detail) const { raise(code, src_.locate(path), detail); }

    const json& table(const json& v, const std::string& path) const {
        if (!v.is_object()) fail(errc::inventory_field, path, "expected a table, got " + describe_json(v));
        return v;
    }
    std::string string(const json& v, const std::string& path) const {
        if (!v.is_string()) fail(errc::inventory_field, path, "expected a string, got " + describe_json(v));
        return v.get<std::string>();
    }
    bool boolean(const json& v, const std::string& path) const {
        if (!v.is_boolean()) fail(errc::inventory_field, path, "expected true or false, got " + describe_json(v));
        return v.get<bool>();
    }
    int integer(const json& v, const std::string& path) const {
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
    double number(const json& v, const std::string& path) const {
        if (!v.is_number()) fail(errc::inventory_field, path, "expected a number, got " + describe_json(v));
        return v.get<double>();
    }
    std::vector<std::string> strings(const json& v, const std::string& path) const {
        if (!v.is_array()) fail(errc::inventory_field, path, "expected an array of strings, got " + describe_json(v));
        std::vector<std::string> out;
        for (std::size_t i = 0; i < v.size(); ++i) out.push_back(string(v[i], path + "[" + std::to_string(i) + "]"));
        return out;
    }
    std::vector<int> integers(const json& v, const std::string& path) const {
        if (!v.is_array()) fail(errc::inventory_field, path, "expected an array of integers, got " + describe_json(v));
        std::vector<int> out;
        for (std::size_t i = 0; i < v.size(); ++i) out.push_back(integer(v[i], path + "[" + std::to_string(i) + "]"));
        return out;
    }
    env_list env(const json& v, const std::string& path) const {
        if (!v.is_object()) fail(errc::inventory_field, path, "expected a table of NAME = \"value\" pairs, got " + describe_json(v));
        env_list out;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (it->is_string()) out.emplace_back(it.key(), it->get<std::string>());
            else if (it->is_number_integer()) out.emplace_back(it.key(), std::to_string(it->get<std::int64_t>()));
            else if (it->is_boolean()) out.emplace_back(it.key(), it->get<bool>() ? "1" : "0");
            else fail(errc::inventory_field, path + "." + it.key(), "expected a string value, got " + describe_json(*it));
        }
        return out;
    }

private:
    const source_map& src_;
};

// How a member type is read and written.
template <class T>
struct codec;
template <>
struct codec<std::string> {
    static std::string read(const reader& r, const json& v, const std::string& path) { return r.string(v, path); }
    static std::string toml(const std::string& s) { return toml_string(s); }
};
template <>
struct codec<bool> {
    static bool read(const reader& r, const json& v, const std::string& path) { return r.boolean(v, path); }
    static std::string toml(bool b) { return b ? "true" : "false"; }
};
template <>
struct codec<int> {
    static int read(const reader& r, const json& v, const std::string& path) { return r.integer(v, path); }
    static std::string toml(int i) { return std::to_string(i); }
};
template <>
struct codec<double> {
    static double read(const reader& r, const json& v, const std::string& path) { return r.number(v, path); }
    static std::string toml(double d) { return toml_number(d); }
};
template <>
struct codec<std::vector<std::string>> {
    static std::vector<std::string> read(const reader& r, const json& v, const std::string& path) { return r.strings(v, path); }
    static std::string toml(const std::vector<std::string>& s) { return toml_strings(s); }
};
template <>
struct codec<std::vector<int>> {
    static std::vector<int> read(const reader& r, const json& v, const std::string& path) { return r.integers(v, path); }
    static std::string toml(const std::vector<int>& s) { return toml_ints(s); }
};
template <>
struct codec<env_list> {
    static env_list read(const reader& r, const json& v, const std::string& path) { return r.env(v, path); }
    static std::string toml(const env_list& e) { return toml_env(e); }
    static json to_json(const env_list& env) {
        json o = json::object();
        for (const auto& [k, v] : env) o[k] = v;
        return o;
    }
};

template <class T, class = void>
struct has_to_json : std::false_type {};
template <class T>
struct has_to_json<T, std::void_t<decltype(codec<T>::to_json(std::declval<const T&>()))>> : std::true_type {};

template <class T>
json codec_json(const T& v) {
    if constexpr (has_to_json<T>::value) return codec<T>::to_json(v);
    else return json(v);
}

// --- fields and tables ---------------------------------------------------------------------------

// One key of a table whose values live in an S.
template <class S>
struct field {
    std::string key;
    std::string doc;  // the comment beside it in the TOML `dsdeploy init` writes
    // Reads the value (present in the file) at `path` into s; throws inventory.field.
    std::function<void(const reader&, const json&, const std::string& path, S&)> read;
    // The value as TOML text.
    std::function<std::string(const S&)> toml;
    // An optional setting that is not set: the TOML line is commented out and shows `example`
    // (or the value itself when there is no example).
    std::function<bool(const S&)> unset;
    std::function<std::string(const S&)> example;
    // The value in the JSON form; nullopt leaves the key out.
    std::function<std::optional<json>(const S&)> to_json;

    // Written commented out when `when(s)`, showing `example_toml` if given.
    field& optional_when(std::function<bool(const S&)> when, std::function<std::string(const S&)> example_toml = nullptr) {
        unset = std::move(when);
        example = std::move(example_toml);
        return *this;
    }
    // Left out of the JSON form when `when(s)`.
    field& json_omitted_when(std::function<bool(const S&)> when) {
        auto all = to_json;
        to_json = [all, when](const S& s) -> std::optional<json> {
            if (when(s)) return std::nullopt;
            return all(s);
        };
        return *this;
    }

    bool is_unset(const S& s) const { return unset && unset(s); }
    std::string toml_value(const S& s) const { return is_unset(s) && example ? example(s) : toml(s); }
};

// A plain member: string, bool, int, double, string and integer lists, environment tables.
template <class S, class T>
field<S> member(std::string key, T S::*m, std::string doc) {
    field<S> f;
    f.key = std::move(key);
    f.doc = std::move(doc);
    f.read = [m](const reader& r, const json& v, const std::string& path, S& s) { s.*m = codec<T>::read(r, v, path); };
    f.toml = [m](const S& s) { return codec<T>::toml(s.*m); };
    f.to_json = [m](const S& s) -> std::optional<json> { return codec_json(s.*m); };
    return f;
}

// A member that may stay unset (the planner or the engine decides): commented out in TOML with
// `example`, left out of JSON.
template <class S>
field<S> member(std::string key, std::optional<int> S::*m, int example, std::string doc) {
    field<S> f;
    f.key = std::move(key);
    f.doc = std::move(doc);
    f.read = [m](const reader& r, const json& v, const std::string& path, S& s) { s.*m = r.integer(v, path); };
    f.toml = [m, example](const S& s) { return std::to_string((s.*m).value_or(example)); };
    f.unset = [m](const S& s) { return !(s.*m); };
    f.to_json = [m](const S& s) -> std::optional<json> {
        if (!(s.*m)) return std::nullopt;
        return json(*(s.*m));
    };
    return f;
}

// A member with a fixed set of names (an enum): read as a string, then `parse`d; a name it does
// not know is `invalid(name)`.
template <class S, class E, class Parse>
field<S> choice(std::string key, E S::*m, Parse parse, std::string (*invalid)(const std::string&), std::string doc) {
    field<S> f;
    f.key = std::move(key);
    f.doc = std::move(doc);
    f.read = [m, parse, invalid](const reader& r, const json& v, const std::string& path, S& s) {
        const std::string name = r.string(v, path);
        const std::optional<E> e = parse(name);
        if (!e) r.fail(errc::inventory_field, path, invalid(name));
        s.*m = *e;
    };
    f.toml = [m](const S& s) { return toml_string(to_string(s.*m)); };
    f.to_json = [m](const S& s) -> std::optional<json> { return std::string(to_string(s.*m)); };
    return f;
}

template <class S>
struct table {
    std::string key;    // "runtime"; empty for the top level
    std::string where;  // "[runtime]", for unknown-key errors
    std::string intro;  // the TOML text before its first field (comments and the [header])
    std::vector<field<S>> fields;

    std::vector<std::string> keys() const {
        std::vector<std::string> out;
        for (const auto& f : fields) out.push_back(f.key);
        return out;
    }
};

// --- the inventory ---------------------------------------------------------------------------

struct inventory_schema {
    table<inventory> top;  // the keys outside any table (name)
    table<node> nodes;     // [[nodes]], one per node
    table<network_profile> network;
    table<serving_options> serving;
    table<runtime_options> runtime;
    table<port_options> ports;
    table<api_options> api;

    // Every key of the top level, in the order the reader reads them.
    std::vector<std::string> top_keys() const {
        std::vector<std::string> out = top.keys();
        for (const std::string* k : {&nodes.key, &network.key, &serving.key, &runtime.key, &ports.key, &api.key}) out.push_back(*k);
        return out;
    }
};

inline std::string invalid_role(const std::string& s) { return "\"" + s + "\" is not a role; use \"head\" (exactly one node) or \"worker\""; }
inline std::string invalid_fabric(const std::string& s) { return "\"" + s + "\" is not a fabric; use \"infiniband\", \"roce\" or \"tcp\""; }
inline std::string invalid_runtime(const std::string& s) {
    return "\"" + s + "\" is not a runtime; use \"docker\" (compose files) or \"process\" (a Python environment on each host)";
}
inline std::string invalid_dp_lb(const std::string& s) {
    return "\"" + s + "\" is not a data-parallel load balancing; use \"internal\" (one API server on the head) or \"hybrid\" (one per node)";
}
inline std::string invalid_engine(const std::string& s) {
    return "\"" + s + "\" is not a serving engine; use \"vllm\" or \"sglang\"";
}

inline std::string invalid_launcher(const std::string& s) {
    return "\"" + s + "\" is not a launcher; use \"auto\" (what upstream recommends for vllm_version), \"ray\" or \"mp\" (vLLM >= 0.11.1)";
}

inline std::string invalid_pull(const std::string& s) { return "\"" + s + "\" is not a pull policy; use \"never\", \"missing\" or \"always\""; }

// runtime.ulimits: { memlock = N, nofile = N, stack = N }, whole numbers, -1 = unlimited;
// a key left out keeps its default.
inline field<runtime_options> ulimits_field() {
    field<runtime_options> f;
    f.key = "ulimits";
    f.doc = "docker: container limits, soft = hard, -1 = unlimited";
    f.read = [](const reader& r, const json& v, const std::string& path, runtime_options& s) {
        r.table(v, path);
        for (auto it = v.begin(); it != v.end(); ++it) {
            std::int64_t* target = it.key() == "memlock" ? &s.ulimits.memlock
                                   : it.key() == "nofile" ? &s.ulimits.nofile
                                   : it.key() == "stack"  ? &s.ulimits.stack
                                                          : nullptr;
            const std::string sub = path + "." + it.key();
            if (!target) r.fail(errc::inventory_unknown_key, sub, "\"" + it.key() + "\" is not a limit dsdeploy sets; use memlock, nofile or stack");
            if (!it->is_number_integer()) r.fail(errc::inventory_field, sub, "expected a whole number (-1 = unlimited), got " + describe_json(*it));
            *target = it->get<std::int64_t>();
        }
    };
    f.toml = [](const runtime_options& s) {
        return "{ memlock = " + std::to_string(s.ulimits.memlock) + ", nofile = " + std::to_string(s.ulimits.nofile) +
               ", stack = " + std::to_string(s.ulimits.stack) + " }";
    };
    f.unset = [](const runtime_options& s) {
        const ulimit_options d;
        return s.ulimits.memlock == d.memlock && s.ulimits.nofile == d.nofile && s.ulimits.stack == d.stack;
    };
    f.to_json = [](const runtime_options& s) -> std::optional<json> {
        return json{{"memlock", s.ulimits.memlock}, {"nofile", s.ulimits.nofile}, {"stack", s.ulimits.stack}};
    };
    return f;
}

inline std::optional<node_role> parse_role(std::string_view s) {
    if (s == "head") return node_role::head;
    if (s == "worker") return node_role::worker;
    return std::nullopt;
}

// serving.kv_cache_dtype: "auto" (unset) or a KV cache dtype.
inline field<serving_options> kv_cache_dtype_field() {
    field<serving_options> f;
    f.key = "kv_cache_dtype";
    f.doc = "auto | fp8";
    f.read = [](const reader& r, const json& v, const std::string& path, serving_options& s) {
        const std::string t = r.string(v, path);
        if (t == "auto") {
            s.kv_cache_dtype.reset();
            return;
        }
        const auto d = parse_dtype(t);
        if (!d || (*d != dtype::fp8 && *d != dtype::bf16 && *d != dtype::fp16))
            r.fail(errc::inventory_field, path, "\"" + t + "\" is not a KV cache dtype; use \"auto\", \"fp8\" or \"bfloat16\"");
        s.kv_cache_dtype = *d;
    };
    auto text = [](const serving_options& s) { return s.kv_cache_dtype ? std::string(to_string(*s.kv_cache_dtype)) : std::string("auto"); };
    f.toml = [text](const serving_options& s) { return toml_string(text(s)); };
    f.to_json = [text](const serving_options& s) -> std::optional<json> { return text(s); };
    return f;
}

template <class S>
std::function<std::string(const S&)> constant(std::string toml_text) {
    return [toml_text](const S&) { return toml_text; };
}

inline inventory_schema make_inventory_schema() {
    inventory_schema s;
    s.top.where = "the top level";
    s.top.intro =
        "# dsdeploy inventory: one description of a multi-node vLLM deployment. Every file of the\n"
        "# bundle (compose files, launch scripts, the vllm serve command) is derived from it:\n"
        "#   dsdeploy plan   --inventory inventory.toml\n"
        "#   dsdeploy render --inventory inventory.toml --out bundle\n"
        "# Unknown keys are errors, so a typo is never silently ignored. Lines starting with '#'\n"
        "# are comments; commented-out keys show optional settings with an example value.\n\n";
    s.top.fields = {member("name", &inventory::name, "names the containers and the bundle")};

    using R = runtime_options;
    s.runtime.key = "runtime";
    s.runtime.where = "[runtime]";
    s.runtime.intro = "\n[runtime]\n";
    s.runtime.fields = {
        choice("kind", &R::kind, parse_runtime_kind, invalid_runtime, "docker (a compose file per node) | process (a Python env per host)"),
        member("image", &R::image, "docker: the same image on every node"),
        member("vllm_version", &R::vllm_version, "the vLLM in the image/env: decides which flags exist"),
        member("sglang_version", &R::sglang_version, "serving.engine = \"sglang\": the SGLang in the image/env")
            .optional_when([](const R& r) { return r.sglang_version.empty(); }, constant<R>(toml_string("0.5.23"))),
        choice("launcher", &R::launcher, parse_launcher_kind, invalid_launcher, "auto (default: upstream's choice for vllm_version) | ray (Ray cluster) | mp (vLLM --nnodes, vLLM >= 0.11.1)"),
        member("python_env", &R::python_env, "process: prefix with bin/ray, bin/vllm; \"\" = PATH").optional_when([](const R& r) { return r.python_env.empty(); }),
        member("shm_size", &R::shm_size, "docker: /dev/shm size for NCCL"),
        member("privileged", &R::privileged, "docker: only if you must; RDMA gets IPC_LOCK + /dev/infiniband"),
        member("restart", &R::restart, "docker: no | always | on-failure[:N] | unless-stopped"),
        member("model_mount", &R::model_mount, "docker: model path in the container; default: serving.model_path")
            .optional_when([](const R& r) { return r.model_mount.empty(); }, constant<R>(toml_string("/models/DeepSeek-V3"))),
        member("num_cpus", &R::num_cpus, "ray --num-cpus; 0 = detect (CPU-only nodes: nproc)"),
        choice("pull", &R::pull, parse_pull_policy, invalid_pull, "docker: never | missing | always (when start.sh pulls the image)")
            .optional_when([](const R& r) { return r.pull == pull_policy::missing; }),
        member("volumes", &R::volumes, "docker: more bind mounts HOST:CONTAINER[:ro|:rw]")
            .optional_when([](const R& r) { return r.volumes.empty(); }, constant<R>("[\"/data/cache:/root/.cache:rw\"]")),
        ulimits_field(),
    };

    using P = port_options;
    s.ports.key = "ports";
    s.ports.where = "[ports]";
    s.ports.intro =
        "\n# Every port is pinned, so a firewall can be written and the bundle checks that no two\n"
        "# services on one node want the same port. Open them between the nodes only.\n[ports]\n";
    s.ports.fields = {
        member("ray", &P::ray, "Ray GCS on the head; workers join HEAD:ray"),
        member("dashboard", &P::dashboard, "Ray dashboard + job API (head, 127.0.0.1 by default)"),
        member("ray_client", &P::ray_client, "Ray client server (head)"),
        member("node_manager", &P::node_manager, "raylet, every node"),
        member("object_manager", &P::object_manager, "every node"),
        member("runtime_env_agent", &P::runtime_env_agent, "every node"),
        member("dashboard_agent_grpc", &P::dashboard_agent_grpc, "every node"),
        member("metrics_export", &P::metrics_export, "every node (Prometheus)"),
        member("dashboard_agent_listen", &P::dashboard_agent_listen, "every node"),
        member("min_worker", &P::min_worker, "Ray worker processes, every node ..."),
        member("max_worker", &P::max_worker, "... up to this port"),
        member("api", &P::api, "vLLM OpenAI API on the head"),
        member("master", &P::master, "vLLM multi-node rendezvous (launcher = \"mp\")"),
        member("dp_rpc", &P::dp_rpc, "vLLM data-parallel coordination (launcher mp, DP > 1; head)"),
    };

    using A = api_options;
    s.api.key = "api";
    s.api.where = "[api]";
    s.api.intro = "\n[api]\n";
    // The key is read but never written: secrets live in the bundle.
    field<A> key = member("key", &A::key, "the key; empty: key_env, else the bundle's existing key, else generated");
    key.toml = constant<A>("\"\"");
    key.optional_when([](const A&) { return true; });
    key.json_omitted_when([](const A&) { return true; });
    s.api.fields = {
        member("host", &A::host, "vllm serve --host"),
        member("auth", &A::auth, "require an API key (sent as VLLM_API_KEY, never on a command line)"),
        key,
        member("key_env", &A::key_env, "environment variable read at render time"),
        member("expose_dashboard", &A::expose_dashboard, "true binds the Ray dashboard to 0.0.0.0: remote code execution for anyone who reaches it"),
    };

    using N = network_profile;
    s.network.key = "network";
    s.network.where = "[network]";
    s.network.intro = "\n# The cluster network: detected with `ibv_devinfo` on each node (dsdeploy doctor) or declared.\n[network]\n";
    s.network.fields = {
        choice("fabric", &N::kind, parse_fabric, invalid_fabric, "infiniband | roce | tcp"),
        member("interface", &N::interface, "NIC for NCCL/Gloo bootstrap (NCCL_SOCKET_IFNAME)"),
        member("hcas", &N::hcas, "RDMA devices (NCCL_IB_HCA), as ibv_devinfo names them")
            .optional_when([](const N& n) { return n.hcas.empty() && n.kind == fabric::tcp; }),
        member("gid_index", &N::gid_index, 3, "RoCE v2 GID index (show_gids)"),
        member("ib_timeout", &N::ib_timeout, 22, "NCCL_IB_TIMEOUT, 1..31"),
        member("nccl_debug", &N::nccl_debug, "NCCL_DEBUG=INFO: confirm NET/IB in the logs"),
        member("env", &N::extra_env, "more NCCL/UCX variables")
            .optional_when([](const N& n) { return n.extra_env.empty(); }, constant<N>("{ NCCL_IB_QPS_PER_CONNECTION = \"2\" }")),
    };

    using V = serving_options;
    s.serving.key = "serving";
    s.serving.where = "[serving]";
    s.serving.intro = "\n[serving]\n";
    s.serving.fields = {
        choice("engine", &V::engine, parse_engine_kind, invalid_engine, "vllm | sglang (python3 -m sglang.launch_server on every node)")
            .optional_when([](const V& v) { return v.engine == engine_kind::vllm; }, constant<V>(toml_string("sglang"))),
        member("model", &V::model, "catalog id, or a local folder with config.json"),
        member("model_path", &V::model_path, "the weights, at the same path on every node"),
        member("served_model_name", &V::served_model_name, "the name clients ask for"),
        member("tensor_parallel_size", &V::tensor_parallel_size, 8, "unset: the planner chooses (TP = GPUs per node)"),
        member("pipeline_parallel_size", &V::pipeline_parallel_size, 2, "unset: PP = nodes"),
        member("data_parallel_size", &V::data_parallel_size, 1, "replicas"),
        member("enable_expert_parallel", &V::enable_expert_parallel, "MoE: EP instead of TP for experts"),
        choice("data_parallel_lb", &V::data_parallel_lb, parse_dp_load_balancing, invalid_dp_lb,
               "DP across nodes: internal (one API on the head) | hybrid (an API per node)"),
        member("api_server_count", &V::api_server_count, "API server processes per API node; 0 = vLLM's default"),
        member("num_redundant_experts", &V::num_redundant_experts, "EPLB replicas per MoE layer (needs enable_expert_parallel)"),
        member("attention_data_parallel_size", &V::attention_data_parallel_size, "SGLang DP attention groups in the TP group; 1 = off")
            .optional_when([](const V& v) { return v.attention_data_parallel_size == 1; }, constant<V>("8")),
        member("allow_cross_node_tp", &V::allow_cross_node_tp, "let one TP group span nodes"),
        member("pp_layer_partition", &V::pp_layer_partition, "layers per stage (VLLM_PP_LAYER_PARTITION)")
            .optional_when([](const V& v) { return v.pp_layer_partition.empty(); }, constant<V>("[32, 29]")),
        member("gpu_memory_utilization", &V::gpu_memory_utilization, "fraction of each GPU vLLM may use"),
        member("mem_fraction_static", &V::mem_fraction_static, "SGLang: fraction for weights + KV cache; 0 = SGLang's default")
            .optional_when([](const V& v) { return v.mem_fraction_static == 0; }, constant<V>("0.85")),
        member("max_model_len", &V::max_model_len, "context length; 0 = the model's"),
        kv_cache_dtype_field(),
        member("headroom_gib", &V::headroom_gib, "per GPU: activations, NCCL buffers, CUDA graphs"),
        member("extra_args", &V::extra_args, "more vllm serve flags, checked against vllm_version")
            .optional_when([](const V& v) { return v.extra_args.empty(); }, constant<V>("[\"--enforce-eager\"]")),
        member("env", &V::env, "more environment for Ray and vLLM on every node")
            .optional_when([](const V& v) { return v.env.empty(); }, constant<V>("{ VLLM_CPU_KVCACHE_SPACE = \"4\" }")),
    };

    s.nodes.key = "nodes";
    s.nodes.where = "[[nodes]]";
    s.nodes.intro =
        "\n# One [[nodes]] table per server. Exactly one has role = \"head\": it runs the Ray head\n"
        "# (or vLLM rank 0) and the API server.\n";
    s.nodes.fields = {
        member("name", &node::name, "unique; the node's folder in the bundle"),
        member("address", &node::address, "IP on the cluster network: VLLM_HOST_IP, ray --node-ip-address"),
        choice("role", &node::role, parse_role, invalid_role, "head | worker"),
        member("gpu_type", &node::gpu_type, "GPU catalog name; \"\" on a CPU-only node"),
        member("gpu_count", &node::gpu_count, "0 on a CPU-only node"),
        member("gpu_ids", &node::gpu_ids, "use these CUDA devices instead of 0..gpu_count-1")
            .optional_when([](const node& n) { return n.gpu_ids.empty(); }, constant<node>("[0, 1, 2, 3]")),
        member("ssh", &node::ssh, "how to reach the node; default: its address")
            .optional_when([](const node& n) { return n.ssh.empty(); }, [](const node& n) { return toml_string("root@" + n.address); })
            .json_omitted_when([](const node& n) { return n.ssh.empty(); }),
        member("interface", &node::interface, "this node's NIC, if not network.interface")
            .optional_when([](const node& n) { return n.interface.empty(); }, constant<node>(toml_string("eth1")))
            .json_omitted_when([](const node& n) { return n.interface.empty(); }),
    };
    return s;
}

inline const inventory_schema& inventory_fields() {
    static const inventory_schema s = make_inventory_schema();
    return s;
}

}  // namespace schema
}  // namespace detail
DSDEPLOY_NAMESPACE_END
