// SPDX-License-Identifier: Apache-2.0
// The compose document of each node (docker runtime): one service from the shared image on the
// host network, GPUs reserved by device id, a large /dev/shm, memlock unlimited, RDMA devices
// with IPC_LOCK instead of privileged mode, the model at the same container path on every
// node, Ray's folder on the host, the node's environment, and `ray start ... --block` (or
// `vllm serve` with the mp launcher) as the entrypoint. Rendered to YAML that quotes every
// value that could be misread and escapes '$' so Compose interpolates nothing.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/launch.hpp>
#include <dsdeploy/network.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

struct compose_volume {
    std::string type = "bind";
    std::string source;   // host path; relative paths are relative to the compose file
    std::string target;   // container path
    bool read_only = false;
};

struct compose_ulimit {
    std::string name;     // "memlock", "stack", "nofile"
    long long soft = 0;   // -1: unlimited
    long long hard = 0;
};

struct compose_healthcheck {
    std::vector<std::string> test;   // exec form, starting with "CMD"
    std::string interval = "30s";
    std::string timeout = "10s";
    int retries = 3;
    std::string start_period = "60s";
};

struct compose_service {
    std::string name;                     // "ray-head", "ray-worker", "vllm"
    std::string image;
    std::string pull_policy;              // "never", "missing", "always"; empty: not written (Compose's default)
    std::string container_name;
    std::string network_mode = "host";    // Ray and NCCL need the node's own addresses
    bool init = true;                     // reap the many processes Ray starts
    std::string shm_size;
    bool privileged = false;
    std::vector<std::string> cap_add;     // IPC_LOCK for RDMA memory registration
    std::vector<std::string> devices;     // "/dev/infiniband:/dev/infiniband"
    std::vector<std::string> security_opt;
    std::vector<compose_ulimit> ulimits;
    std::vector<std::string> entrypoint;  // exec form: no shell, so no value is ever parsed as code
    std::vector<std::string> env_file;
    env_list environment;
    std::vector<compose_volume> volumes;
    std::vector<std::string> gpu_device_ids;  // deploy.resources.reservations.devices (nvidia)
    std::string restart;
    std::string stop_grace_period = "30s";
    std::optional<compose_healthcheck> healthcheck;
    std::vector<std::pair<std::string, std::string>> labels;
};

struct compose_file {
    std::vector<std::string> header;      // comment lines
    std::vector<compose_service> services;
};

// "ray-head" / "ray-worker" (launcher ray), "vllm" (launcher mp).
std::string compose_service_name(const launch_plan& l, std::size_t index);
// A Compose project name for the node: lowercase letters, digits, '-' and '_'.
std::string compose_project_name(const inventory& inv, std::size_t index);

// The compose document of node `index` (docker runtime).
compose_file make_compose(const inventory& inv, const launch_plan& l, std::size_t index);

// YAML text; '$' in every value is written as "$$" so Compose interpolates nothing.
std::string to_yaml(const compose_file& f);

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/compose_inl.hpp>
#endif
