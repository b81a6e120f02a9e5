// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/compose.hpp>
#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/detail/yaml.hpp>
#include <dsdeploy/version.hpp>

#include <cctype>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE std::string compose_service_name(const launch_plan& l, std::size_t index) {
    if (l.launcher == launcher_kind::mp) return "vllm";
    return index == l.head ? "ray-head" : "ray-worker";
}

DSDEPLOY_INLINE std::string compose_project_name(const inventory& inv, std::size_t index) {
    std::string raw = "dsdeploy-" + inv.name + "-" + inv.cluster.nodes.at(index).name;
    std::string out;
    for (unsigned char c : raw) {
        if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
        else if (c == '_' || c == '-') out += static_cast<char>(c);
        else out += '-';
    }
    return out;
}

DSDEPLOY_INLINE compose_file make_compose(const inventory& inv, const launch_plan& l, std::size_t index) {
    const node_launch& n = l.nodes.at(index);
    const node& nd = inv.cluster.nodes.at(index);
    const bool head = index == l.head;
    const bool ray = l.launcher == launcher_kind::ray;
    compose_file f;
    f.header = {
        "compose.yaml for node " + n.name + " (" + std::string(to_string(n.role)) + ", " + n.address + ") of deployment " + inv.name +
            ", rendered by dsdeploy " DSDEPLOY_VERSION ".",
        "Start and stop it with ./start.sh and ./stop.sh beside this file; ../README.md has the whole bring-up.",
        "Re-render from the inventory instead of editing: the files of all nodes must agree.",
    };
    compose_service s;
    s.name = compose_service_name(l, index);
    s.image = inv.runtime.image;
    s.container_name = "dsdeploy-" + inv.name + "-" + n.name;
    s.shm_size = inv.runtime.shm_size;
    s.privileged = inv.runtime.privileged;
    if (!s.privileged && inv.network.kind != fabric::tcp) {
        // RDMA without privileged mode: the verbs devices and the right to pin memory.
        s.cap_add = {"IPC_LOCK"};
        s.devices = {"/dev/infiniband:/dev/infiniband"};
    }
    if (!s.privileged) s.security_opt = {"no-new-privileges:true"};
    const auto& u = inv.runtime.ulimits;
    s.ulimits = {{"memlock", u.memlock, u.memlock}, {"stack", u.stack, u.stack}, {"nofile", u.nofile, u.nofile}};
    if (inv.runtime.pull != pull_policy::missing) s.pull_policy = std::string(to_string(inv.runtime.pull));
    s.entrypoint = ray ? n.ray_start : n.vllm_serve;
    if (l.engine == engine_kind::sglang && head && l.api_key) {
        // SGLang reads the key only from --api-key: a literal sh -c script appends it from the
        // container's environment (the head's .env, VLLM_API_KEY), so it is in no file but .env.
        s.entrypoint = {"sh", "-c", "exec \"$@\" --api-key \"$VLLM_API_KEY\"", "sglang"};
        s.entrypoint.insert(s.entrypoint.end(), n.vllm_serve.begin(), n.vllm_serve.end());
    }
    s.env_file = {".env"};
    s.environment = n.env;
    const std::string host_model = model_path(inv);
    s.volumes.push_back({"bind", host_model, l.model_path, true});
    if (ray) s.volumes.push_back({"bind", "./ray", "/tmp/ray", false});
    for (const auto& text : inv.runtime.volumes)
        if (const auto v = detail::parse_volume(text)) s.volumes.push_back({"bind", v->source, v->target, v->read_only});
    for (int id : nd.device_ids()) s.gpu_device_ids.push_back(std::to_string(id));
    s.restart = inv.runtime.restart;
    if (ray && head) {
        compose_healthcheck h;
        h.test = {"CMD", "ray", "health-check", "--address=" + l.ray_address};
        h.start_period = "60s";
        s.healthcheck = h;
    } else if (!ray && head) {
        compose_healthcheck h;
        h.test = {"CMD", "python3", "-c", "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)", l.health_url};
        h.start_period = "3600s";
        s.healthcheck = h;
    }
    s.labels = {{"dev.dsdeploy.deployment", inv.name}, {"dev.dsdeploy.node", n.name}, {"dev.dsdeploy.role", std::string(to_string(n.role))}};
    f.services.push_back(std::move(s));
    return f;
}

namespace detail {
inline std::string no_interpolation(std::string_view s) {
    std::string out;
    for (char c : s) {
        out += c;
        if (c == '$') out += '$';
    }
    return out;
}

inline yaml::node text(std::string_view s) { return yaml::node(no_interpolation(s)); }

inline yaml::node text_list(const std::vector<std::string>& v) {
    yaml::sequence out;
    for (const auto& s : v) out.push_back(text(s));
    return out;
}
}  // namespace detail

DSDEPLOY_INLINE std::string to_yaml(const compose_file& f) {
    using detail::text;
    using detail::text_list;
    namespace y = detail::yaml;
    y::mapping services;
    for (const auto& s : f.services) {
        y::mapping m;
        m.emplace_back("image", text(s.image));
        if (!s.pull_policy.empty()) m.emplace_back("pull_policy", text(s.pull_policy));
        m.emplace_back("container_name", text(s.container_name));
        m.emplace_back("network_mode", text(s.network_mode));
        m.emplace_back("init", s.init);
        if (!s.shm_size.empty()) m.emplace_back("shm_size", text(s.shm_size));
        if (s.privileged) m.emplace_back("privileged", true);
        if (!s.cap_add.empty()) m.emplace_back("cap_add", text_list(s.cap_add));
        if (!s.devices.empty()) m.emplace_back("devices", text_list(s.devices));
        if (!s.security_opt.empty()) m.emplace_back("security_opt", text_list(s.security_opt));
        if (!s.ulimits.empty()) {
            y::mapping u;
            for (const auto& l : s.ulimits)
                u.emplace_back(l.name, y::mapping{{"soft", static_cast<std::int64_t>(l.soft)}, {"hard", static_cast<std::int64_t>(l.hard)}});
            m.emplace_back("ulimits", u);
        }
        if (!s.entrypoint.empty()) m.emplace_back("entrypoint", text_list(s.entrypoint));
        if (!s.env_file.empty()) m.emplace_back("env_file", text_list(s.env_file));
        if (!s.environment.empty()) {
            y::mapping env;
            for (const auto& [k, v] : s.environment) env.emplace_back(k, text(v));
            m.emplace_back("environment", env);
        }
        if (!s.volumes.empty()) {
            y::sequence vols;
            for (const auto& v : s.volumes) {
                y::mapping vm = {{"type", text(v.type)}, {"source", text(v.source)}, {"target", text(v.target)}};
                if (v.read_only) vm.emplace_back("read_only", true);
                vols.push_back(vm);
            }
            m.emplace_back("volumes", vols);
        }
        if (!s.gpu_device_ids.empty()) {
            y::mapping device = {{"driver", "nvidia"}, {"device_ids", text_list(s.gpu_device_ids)}, {"capabilities", y::sequence{"gpu"}}};
            m.emplace_back("deploy",
                           y::mapping{{"resources", y::mapping{{"reservations", y::mapping{{"devices", y::sequence{device}}}}}}});
        }
        if (s.healthcheck) {
            const auto& h = *s.healthcheck;
            m.emplace_back("healthcheck", y::mapping{{"test", text_list(h.test)},
                                                     {"interval", text(h.interval)},
                                                     {"timeout", text(h.timeout)},
                                                     {"retries", h.retries},
                                                     {"start_period", text(h.start_period)}});
        }
        if (!s.restart.empty()) m.emplace_back("restart", text(s.restart));
        if (!s.stop_grace_period.empty()) m.emplace_back("stop_grace_period", text(s.stop_grace_period));
        if (!s.labels.empty()) {
            y::mapping labels;
            for (const auto& [k, v] : s.labels) labels.emplace_back(k, text(v));
            m.emplace_back("labels", labels);
        }
        services.emplace_back(s.name, m);
    }
    return y::emit(y::mapping{{"services", services}}, f.header);
}

DSDEPLOY_NAMESPACE_END
