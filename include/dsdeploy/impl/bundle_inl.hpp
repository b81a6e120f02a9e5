// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/bundle.hpp>
#include <dsdeploy/detail/shell.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/version.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <system_error>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE const bundle_file* bundle::find(std::string_view path) const {
    for (const auto& f : files)
        if (f.path == path) return &f;
    return nullptr;
}

namespace detail {

inline std::string md_code(std::string_view s) {
    // Inline code that survives any content: fence with more backticks than the text holds.
    std::size_t longest = 0, run = 0;
    for (char c : s) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    const std::string fence(longest + 1, '`');
    std::string body(s);
    for (auto& c : body)
        if (c == '\n' || c == '\r') c = ' ';
    // CommonMark drops one space on each side, which lets a value start or end with '`'.
    const bool pad = !body.empty() && (body.front() == '`' || body.back() == '`' || body.front() == ' ' || body.back() == ' ');
    return pad ? fence + " " + body + " " + fence : fence + body + fence;
}

inline std::string bundle_readme(const inventory& inv, const plan& p, const launch_plan& l, const bundle_options& o,
                                 const std::vector<std::string>& warnings) {
    const bool docker = l.runtime == runtime_kind::docker;
    const bool ray = l.launcher == launcher_kind::ray;
    const node_launch& head = l.nodes[l.head];
    std::string r;
    r += "# Deployment bundle: " + inv.name + "\n\n";
    r += "Rendered by dsdeploy " DSDEPLOY_VERSION " from " + (o.inventory_file.empty() ? std::string("the built-in default inventory") : md_code(o.inventory_file)) +
         " (a copy is in `inventory.toml`; the plan is in `plan.txt`). Every file here is derived from that one inventory, so the nodes "
         "agree by construction: re-render instead of editing.\n\n";
    r += "- Model: " + md_code(inv.serving.model) + " from " + md_code(model_path(inv)) + " on every node, served as " +
         md_code(l.served_model_name) + ".\n";
    const bool sglang = l.engine == engine_kind::sglang;
    const std::string engine = sglang ? "SGLang" : "vLLM";
    r += fmt::format("- Layout: TP {} x PP {} x DP {} = {} {} on {} node{}; {} {} {}.\n", p.parallel.tp, p.parallel.pp, p.parallel.dp,
                     p.parallel.world_size(), p.gpus_per_node > 0 ? "GPUs" : "CPU workers", p.nodes, p.nodes == 1 ? "" : "s", engine, l.version.text,
                     sglang ? "on every node (`python3 -m sglang.launch_server` with `--nnodes`/`--node-rank`/`--dist-init-addr`, no Ray)"
                     : ray  ? "over a Ray cluster (`--distributed-executor-backend ray`)"
                            : "multi-node without Ray (`--nnodes`, mp executor)");
    if (p.memory_checked)
        r += p.memory.fits ? fmt::format("- Memory: FITS, {} tokens of KV cache ({:.1f} sequences of {}).\n", p.memory.kv_tokens, p.memory.max_concurrency,
                                         p.memory.max_model_len)
                           : fmt::format("- Memory: **DOES NOT FIT** as written ({:.2f} GiB needed per GPU against a {:.2f} GiB budget). vLLM will "
                                         "refuse to start after loading the weights. `plan.txt` lists the options that would fit; change the "
                                         "inventory and re-render.\n",
                                         p.memory.need_gib, p.memory.budget_gib);
    else
        r += "- Memory: not checked (no GPUs; vLLM's CPU backend).\n";
    r += "- Runtime: " + std::string(docker ? "Docker: one container per node from " + md_code(inv.runtime.image) + " (the same image everywhere)."
                                            : "processes from a Python environment on each host (" +
                                                  (inv.runtime.python_env.empty() ? std::string("found on PATH") : md_code(inv.runtime.python_env)) +
                                                  "; `DSDEPLOY_PYTHON_ENV` overrides it).") +
         "\n";
    r += "- API: " + l.api_url + "/v1" +
         (l.api_key ? " with an API key (" + o.api_key_source + "), stored as `VLLM_API_KEY` in `" + head.name + "/.env` (mode 0600)."
                    : " **without an API key**.") +
         "\n\n";
    if (!warnings.empty()) {
        r += "## Warnings\n\n";
        for (const auto& w : warnings) r += "- " + w + "\n";
        r += "\n";
    }
    r += "## Nodes\n\n| node | role | address | GPUs | runs |\n|---|---|---|---|---|\n";
    for (const auto& n : l.nodes) {
        std::string runs = ray      ? (n.index == l.head ? "Ray head, vLLM API server" : "Ray worker")
                           : sglang ? (n.index == l.head ? "SGLang node rank 0, API server" : "SGLang (node rank > 0, health endpoint only)")
                                    : (n.index == l.head ? "vLLM rank 0, API server" : "vLLM (headless)");
        r += "| " + n.name + " | " + std::string(to_string(n.role)) + " | " + n.address + " | " + std::to_string(n.gpus) + " | " + runs + " |\n";
    }
    r += "\n## Bring-up\n\n";
    r += "1. Prepare every node: ";
    r += docker ? "Docker with the NVIDIA container toolkit and `docker compose` (or docker-compose 1.29); `docker pull` the image; "
                : "the same Python environment (same Ray, vLLM and Python versions) at the same path; ";
    r += "the weights at " + md_code(model_path(inv)) + "; the ports below open between the nodes.\n";
    r += "2. Copy each node's folder to that node (any path), e.g. ";
    bool first = true;
    for (const auto& nd : inv.cluster.nodes) {
        if (!first) r += ", ";
        first = false;
        r += "`scp -r " + nd.name + " " + (nd.ssh.empty() ? nd.address : nd.ssh) + ":`";
    }
    r += ".\n";
    r += "3. On the head: `" + head.name + "/start.sh`. Then on every worker: `<node>/start.sh` (it waits until the head answers).\n";
    if (ray) {
        r += fmt::format("4. On the head: `{}/wait-cluster.sh`: waits until Ray has {} nodes and {} GPUs (TP x PP x DP).\n", head.name,
                         l.expected_nodes, l.expected_gpus);
        r += "5. On the head: `" + head.name + "/serve.sh`: waits for the cluster again, then starts `vllm serve` (the command is in the script).\n";
        r += "6. On the head: `" + head.name + "/smoke.sh`: waits for `/health` (loading the weights takes tens of minutes for a 671B model), lists the models and sends one chat request.\n";
    } else {
        r += "4. On the head: `" + head.name + "/smoke.sh`: waits for `/health`, lists the models and sends one chat request.\n";
    }
    r += "\nStop with `stop.sh` on every node (workers first). ";
    r += docker ? "It runs `docker compose down` for this node's project only.\n"
                : "It stops only the processes this node's `start.sh`/`serve.sh` started (they carry `DSDEPLOY_NODE_DIR` in their environment); it never runs `ray stop`, which would kill every Ray process on the machine.\n";
    r += "\nThe scripts honour `DSDEPLOY_WAIT_SECONDS` (how long to wait for the head, the cluster or `/health`)";
    if (!docker) r += " and `DSDEPLOY_PYTHON_ENV` (the environment holding `bin/ray` and `bin/vllm`)";
    r += ". State stays in each node's folder: " +
         std::string(docker ? "`ray/` (Ray's logs and the vLLM log `ray/dsdeploy-vllm.log`, mounted at `/tmp/ray`)."
                            : "`run/` (PID files), `logs/` (`ray.log`, `vllm.log`) and `ray/` (Ray's temp dir, or a link to `/tmp/dsdeploy-<n>` when the path is too long for Ray's sockets).") +
         "\n";
    r += "\n## Ports\n\nEvery port is pinned; open them between the nodes only, and the API port to the clients.\n\n| node | service | port |\n|---|---|---|\n";
    for (std::size_t i = 0; i < inv.cluster.nodes.size(); ++i)
        for (const auto& u : node_ports(inv, i))
            r += "| " + inv.cluster.nodes[i].name + " | " + u.service + " | " +
                 (u.first == u.last ? std::to_string(u.first) : std::to_string(u.first) + "-" + std::to_string(u.last)) + " |\n";
    if (sglang) r += "\nSGLang's NCCL, Gloo and torch.distributed also open ephemeral ports between the nodes (its other channels are local `ipc://`).\n";
    else if (!ray) r += "\nvLLM also opens NCCL and ZeroMQ sockets on ephemeral ports between the nodes.\n";
    else r += "\nNCCL and torch.distributed also open ephemeral ports between the nodes.\n";
    r += "\n## Network\n\n";
    r += "Fabric " + std::string(to_string(inv.network.kind)) + ". Each node's environment sets `VLLM_HOST_IP` to its address (the same IP Ray "
         "registers with `--node-ip-address`), the NCCL/Gloo/TensorPipe socket interface";
    if (inv.network.kind != fabric::tcp) r += ", `NCCL_IB_HCA` and `NCCL_IB_DISABLE=0`";
    else r += " and `NCCL_IB_DISABLE=1`";
    r += ". To confirm NCCL uses RDMA rather than falling back to TCP silently, set `network.nccl_debug = true`, re-render, and look for "
         "`NET/IB` (good) or `NET/Socket` (fallback) in the " + engine + " log.\n";
    r += "\n## Security\n\n";
    r += "- The Ray dashboard and job API listen on " + std::string(inv.api.expose_dashboard ? "**0.0.0.0** (`api.expose_dashboard`): anyone who reaches it can run code on every node." : "127.0.0.1 only; reach it with `ssh -L " + std::to_string(inv.ports.dashboard) + ":127.0.0.1:" + std::to_string(inv.ports.dashboard) + " <head>`.") + "\n";
    if (ray)
        r += "- Ray's GCS (" + std::to_string(inv.ports.ray) + ") and client server (" + std::to_string(inv.ports.ray_client) +
             ") accept anyone who reaches them, and a Ray client can run code on every node: firewall them to the cluster's nodes.\n";
    r += "- Ray and NCCL traffic is not encrypted: keep the cluster network private.\n";
    if (l.api_key && sglang)
        r += "- SGLang " + l.version.text + " reads the API key only from `--api-key`: the head's start script (or its container's `sh -c`) "
             "passes it from `VLLM_API_KEY` in `.env`, so it is in no file but `.env`, yet **anyone who can list the head's processes can "
             "read it**; `/health` answers without it. `smoke.sh` passes it to curl on stdin.\n";
    else if (l.api_key)
        r += "- vLLM reads the API key from `VLLM_API_KEY` (not `--api-key`), so it never appears in a process list; `smoke.sh` passes it to curl on stdin.\n";
    if (docker)
        r += std::string("- Containers are ") + (inv.runtime.privileged ? "**privileged** (`runtime.privileged`)." : "not privileged" +
             std::string(inv.network.kind != fabric::tcp ? "; RDMA gets `/dev/infiniband` and `cap_add: [IPC_LOCK]` instead." : ".")) + "\n";
    r += "- Every inventory value placed in a script is shell-quoted, and every value in a compose file is YAML-quoted with `$` escaped, so no value can become a command.\n";
    r += "\n## Files\n\n";
    r += "| file | what |\n|---|---|\n";
    r += "| `README.md` | this page |\n| `inventory.toml` | the inventory (without the API key) |\n| `plan.txt` | the plan: layout, memory, options |\n"
         "| `bundle.json` | a machine-readable summary; marks the folder as a dsdeploy bundle |\n";
    r += "| `<node>/.env` | mode 0600; the head's holds `VLLM_API_KEY` |\n";
    if (docker) r += "| `<node>/compose.yaml` | the node's container |\n";
    r += "| `<node>/start.sh`, `stop.sh` | start or stop this node |\n";
    if (ray) r += "| `" + head.name + "/wait-cluster.sh`, `serve.sh` | wait for the Ray cluster; start vllm serve |\n";
    r += "| `" + head.name + "/smoke.sh` | wait for /health, one chat request |\n";
    return r;
}

inline std::string env_file_text(const inventory& inv, const node_launch& n, bool head, const std::string& key) {
    std::string s = "# " + n.name + " of deployment " + inv.name + ": mode 0600; read by " +
                    (inv.runtime.kind == runtime_kind::docker ? std::string("compose.yaml (env_file) and ") : std::string()) + "the scripts.\n";
    if (head && !key.empty()) s += "VLLM_API_KEY=" + key + "\n";
    else s += "# No secrets on this node.\n";
    return s;
}

// render_bundle with the launch plan already made, for validate_inventory (validated_inventory.hpp).
bundle render_bundle_with_launch(const inventory& inv, const plan& p, launch_plan launch, const bundle_options& o);
}  // namespace detail

DSDEPLOY_INLINE bundle render_bundle(const inventory& inv, const plan& p, const bundle_options& o) {
    return detail::render_bundle_with_launch(inv, p, make_launch(inv, p), o);
}

DSDEPLOY_INLINE bundle detail::render_bundle_with_launch(const inventory& inv, const plan& p, launch_plan launch, const bundle_options& o) {
    bundle b;
    b.name = inv.name;
    b.plan = p;
    b.launch = std::move(launch);
    const launch_plan& l = b.launch;
    if (inv.api.auth && o.api_key.empty())
        raise(errc::inventory_field, "api.key", "api.auth is true but no API key was given to the renderer; resolve_api_key() finds or makes one");
    if (!o.api_key.empty() && !detail::is_api_key_text(o.api_key))
        raise(errc::inventory_field, "api.key",
              "the API key must be 16-512 characters of letters, digits and . _ ~ + / = -");
    b.warnings = l.warnings;
    if (p.memory_checked && !p.memory.fits)
        b.warnings.insert(b.warnings.begin(),
                          fmt::format("serving: the plan DOES NOT FIT ({:.2f} GiB per GPU needed, {:.2f} GiB budget): vLLM would fail after loading "
                                      "the weights; plan.txt lists the options that fit",
                                      p.memory.need_gib, p.memory.budget_gib));
    const std::string key = inv.api.auth ? o.api_key : std::string();
    bundle_options shown = o;
    if (shown.api_key_source.empty()) shown.api_key_source = "given to the renderer";

    b.files.push_back({"README.md", detail::bundle_readme(inv, p, l, shown, b.warnings), 0644, false});
    b.files.push_back({"inventory.toml", to_toml(inv), 0644, false});
    b.files.push_back({"plan.txt", to_text(p), 0644, false});
    nlohmann::json nodes = nlohmann::json::array();
    for (std::size_t i = 0; i < l.nodes.size(); ++i) {
        const node_launch& n = l.nodes[i];
        const bool head = i == l.head;
        const std::string dir = n.name + "/";
        nlohmann::json files = nlohmann::json::array();
        auto add = [&](const std::string& name, std::string content, unsigned mode, bool secret) {
            files.push_back(name);
            b.files.push_back({dir + name, std::move(content), mode, secret});
        };
        script_options so;
        if (l.runtime == runtime_kind::docker) {
            so.compose_service = compose_service_name(l, i);
            so.compose_project = compose_project_name(inv, i);
            add("compose.yaml", to_yaml(make_compose(inv, l, i)), 0644, false);
        }
        add(".env", detail::env_file_text(inv, n, head, key), 0600, head && !key.empty());
        for (auto& s : node_scripts(inv, l, i, so)) add(s.name, std::move(s.text), 0755, false);
        nlohmann::json nj = {{"name", n.name}, {"role", std::string(to_string(n.role))}, {"address", n.address}, {"gpus", n.gpus}, {"files", files}};
        if (!n.ray_start.empty()) nj["ray_start"] = n.ray_start;
        if (!n.vllm_serve.empty()) nj["vllm_serve"] = n.vllm_serve;
        if (l.runtime == runtime_kind::docker) nj["compose_project"] = so.compose_project;
        nodes.push_back(nj);
    }
    nlohmann::json marker = {{"dsdeploy_bundle", 1},
                             {"dsdeploy_version", DSDEPLOY_VERSION},
                             {"deployment", inv.name},
                             {"runtime", std::string(to_string(l.runtime))},
                             {"launcher", std::string(to_string(l.launcher))},
                             {"launcher_why", l.launcher_why},
                             {"layout_advice", l.layout_advice},
                             {"vllm_version", l.version.text},
                             {"head", l.nodes[l.head].name},
                             {"api_url", l.api_url},
                             {"served_model_name", l.served_model_name},
                             {"expected_nodes", l.expected_nodes},
                             {"expected_gpus", l.expected_gpus},
                             {"fits", p.fits()},
                             {"nodes", nodes}};
    b.files.push_back({"bundle.json", marker.dump(2) + "\n", 0644, false});
    return b;
}

DSDEPLOY_INLINE std::string generate_api_key() {
    unsigned char bytes[24];
    bool ok = false;
    {
        std::ifstream in("/dev/urandom", std::ios::binary);
        ok = in && in.read(reinterpret_cast<char*>(bytes), sizeof bytes).gcount() == static_cast<std::streamsize>(sizeof bytes);
    }
    if (!ok) {
        std::random_device rd;
        for (auto& b : bytes) b = static_cast<unsigned char>(rd() & 0xff);
    }
    std::string key = "dsd-";
    static const char* hex = "0123456789abcdef";
    for (unsigned char b : bytes) {
        key += hex[b >> 4];
        key += hex[b & 15];
    }
    return key;
}

DSDEPLOY_INLINE std::string resolve_api_key(const inventory& inv, const std::filesystem::path& out, std::string* source) {
    auto say = [&](std::string s) {
        if (source) *source = std::move(s);
    };
    if (!inv.api.auth) {
        say("none (api.auth = false)");
        return {};
    }
    if (!inv.api.key.empty()) {
        say("from the inventory (api.key)");
        return inv.api.key;
    }
    if (!inv.api.key_env.empty())
        if (const char* v = std::getenv(inv.api.key_env.c_str()); v && *v) {
            if (!detail::is_api_key_text(v))
                raise(errc::inventory_field, "api.key_env",
                      "$" + inv.api.key_env + " is set but is not a usable API key (16-512 characters of letters, digits and . _ ~ + / = -)");
            say("from $" + inv.api.key_env);
            return v;
        }
    try {
        const std::string head = inv.cluster.head().name;
        std::ifstream in(out / head / ".env");
        std::string line;
        while (in && std::getline(in, line))
            if (detail::starts_with(line, "VLLM_API_KEY=")) {
                const std::string key = line.substr(13);
                if (detail::is_api_key_text(key)) {
                    say("kept from the earlier bundle in this folder");
                    return key;
                }
            }
    } catch (const error&) {
    }
    say("generated by dsdeploy");
    return generate_api_key();
}

namespace detail {
[[noreturn]] inline void write_failed(const std::filesystem::path& p, const std::string& what, int err) {
    raise(errc::bundle_write, p.string(), what + ": " + std::generic_category().message(err));
}

inline void write_file_exclusive(const std::filesystem::path& p, const std::string& content, unsigned mode) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, static_cast<mode_t>(mode & 0777));
    if (fd < 0) write_failed(p, "cannot create the file", errno);
    // The mode exactly as asked, whatever the umask: 0600 stays 0600, 0755 stays 0755.
    if (::fchmod(fd, static_cast<mode_t>(mode & 0777)) != 0) {
        const int e = errno;
        ::close(fd);
        write_failed(p, "cannot set the file mode", e);
    }
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::close(fd);
            write_failed(p, "cannot write the file", e);
        }
        done += static_cast<std::size_t>(n);
    }
    // No fsync here: write_bundle syncs the whole temporary folder once (sync_files).
    if (::close(fd) != 0) write_failed(p, "cannot write the file", errno);
}

// Makes the files and folders written under the temporary folder durable before it is renamed
// into place, once per bundle. One fsync per file used to follow each write: 4,007 files for
// 1,000 nodes, each fsync a journal commit and a disk cache flush of its own (1.7 s on an idle
// disk, 5-15 s on a busy one). Now: one syncfs() on the folder's file system (Linux), which
// writes what is dirty there, commits the journal once and flushes the disk cache once. Where
// syncfs is missing or fails, one fsync per file and per folder, after all were written.
// (BENCHMARKS.md: on tmpfs 0.4-0.7 s for 1,000 nodes under load; on a disk saturated by other
// builds both ways take 6-30 s, bound by the device writing ~4,000 small files.)
inline void sync_files(const std::filesystem::path& root, const std::vector<std::filesystem::path>& files,
                       const std::set<std::filesystem::path>& folders) {
#if defined(__linux__)
    if (const int dfd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        const bool synced = ::syncfs(dfd) == 0;
        ::close(dfd);
        if (synced) return;
    }
#else
    (void)root;
#endif
    auto sync_one = [](const std::filesystem::path& p, int flags) {
        const int fd = ::open(p.c_str(), flags | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) write_failed(p, "cannot open it to flush it", errno);
        if (::fsync(fd) != 0) {
            const int e = errno;
            ::close(fd);
            write_failed(p, "cannot flush it to disk", e);
        }
        ::close(fd);
    };
    for (const auto& f : files) sync_one(f, 0);
    for (auto it = folders.rbegin(); it != folders.rend(); ++it) sync_one(*it, O_DIRECTORY);  // deepest first
}

inline bool is_bundle_dir(const std::filesystem::path& dir) {
    std::ifstream in(dir / "bundle.json");
    if (!in) return false;
    const auto j = nlohmann::json::parse(in, nullptr, false);
    return j.is_object() && j.contains("dsdeploy_bundle");
}

inline std::string unique_suffix() {
    static std::atomic<unsigned> counter{0};
    return std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// Exchanges two paths atomically (Linux renameat2); false when the file system cannot.
inline bool exchange_paths(const std::filesystem::path& a, const std::filesystem::path& b) {
#if defined(__linux__) && defined(RENAME_EXCHANGE)
    return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
#else
    (void)a;
    (void)b;
    return false;
#endif
}
}  // namespace detail

DSDEPLOY_INLINE write_result write_bundle(const bundle& b, const std::filesystem::path& out_arg) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path out = fs::absolute(out_arg, ec);
    if (ec) detail::write_failed(out_arg, "cannot resolve the output folder", ec.value());
    out = out.lexically_normal();
    if (out.filename().empty()) out = out.parent_path();
    if (out.empty() || out == out.root_path()) raise(errc::bundle_exists, out_arg.string(), "refusing to write a bundle to the file system root");
    const fs::path parent = out.parent_path();

    write_result result;
    result.root = out;
    const bool exists = fs::exists(fs::symlink_status(out, ec));
    if (exists) {
        if (fs::is_symlink(fs::symlink_status(out, ec)) || !fs::is_directory(out, ec))
            raise(errc::bundle_exists, out.string(), "exists and is not a folder; choose another output folder");
        const bool empty = fs::is_empty(out, ec);
        if (!empty && !detail::is_bundle_dir(out))
            raise(errc::bundle_exists, out.string(),
                  "exists, is not empty and is not a dsdeploy bundle (no bundle.json); choose another folder, or empty this one");
        result.replaced = !empty;
    }
    fs::create_directories(parent, ec);
    if (ec) detail::write_failed(parent, "cannot create the parent folder", ec.value());

    const std::string base = out.filename().string();
    const fs::path tmp = parent / ("." + base + ".dsdeploy-tmp-" + detail::unique_suffix());
    if (::mkdir(tmp.c_str(), 0755) != 0) detail::write_failed(tmp, "cannot create the temporary folder", errno);
    std::vector<std::pair<fs::path, fs::path>> moved;  // state folders taken from the earlier bundle
    auto undo = [&] {
        for (auto it = moved.rbegin(); it != moved.rend(); ++it) fs::rename(it->second, it->first, ec);
        fs::remove_all(tmp, ec);
    };
    try {
        std::set<fs::path> made{tmp};  // folders already created (1,000 nodes: 4,007 files in 1,001 folders)
        std::vector<fs::path> written;
        written.reserve(b.files.size());
        for (const auto& f : b.files) {
            const fs::path target = tmp / f.path;
            if (made.insert(target.parent_path()).second) {
                fs::create_directories(target.parent_path(), ec);
                if (ec) detail::write_failed(target.parent_path(), "cannot create the folder", ec.value());
                for (fs::path up = target.parent_path().parent_path(); up != tmp && up.has_relative_path(); up = up.parent_path())
                    made.insert(up);
            }
            detail::write_file_exclusive(target, f.content, f.mode);
            written.push_back(target);
            ++result.files;
        }
        detail::sync_files(tmp, written, made);  // durable before it becomes the bundle
        if (result.replaced) {
            // Keep the runtime state of nodes that are still in the bundle: PID files, logs, Ray's folder.
            for (const auto& n : b.launch.nodes)
                for (const char* state : {"run", "logs", "ray"}) {
                    const fs::path from = out / n.name / state;
                    if (!fs::exists(fs::symlink_status(from, ec))) continue;
                    const fs::path to = tmp / n.name / state;
                    fs::rename(from, to, ec);
                    if (ec) detail::write_failed(from, "cannot carry the node's state folder over to the new bundle", ec.value());
                    moved.emplace_back(from, to);
                }
        }
        if (exists && result.replaced) {
            if (detail::exchange_paths(tmp, out)) {
                fs::remove_all(tmp, ec);  // now the earlier bundle
            } else {
                const fs::path old = parent / ("." + base + ".dsdeploy-old-" + detail::unique_suffix());
                fs::rename(out, old, ec);
                if (ec) detail::write_failed(out, "cannot move the earlier bundle aside", ec.value());
                fs::rename(tmp, out, ec);
                if (ec) {
                    const int e = ec.value();
                    fs::rename(old, out, ec);
                    detail::write_failed(out, "cannot move the new bundle into place", e);
                }
                fs::remove_all(old, ec);
            }
        } else {
            fs::rename(tmp, out, ec);  // replaces an empty folder
            if (ec) detail::write_failed(out, "cannot move the new bundle into place", ec.value());
        }
    } catch (...) {
        undo();
        throw;
    }
    if (const int dfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return result;
}

DSDEPLOY_INLINE std::string describe(const bundle& b, const std::filesystem::path& out) {
    std::string s = "would write " + std::to_string(b.files.size()) + " files to " + out.string() + ":\n";
    for (const auto& f : b.files)
        s += fmt::format("  {:04o} {:>7} B  {}{}\n", f.mode, f.content.size(), f.path, f.secret ? "  (holds the API key; not shown)" : "");
    return s;
}

DSDEPLOY_INLINE std::string next_steps(const bundle& b, const std::filesystem::path& out) {
    const launch_plan& l = b.launch;
    const bool ray = l.launcher == launcher_kind::ray;
    std::string s;
    s += fmt::format("Bundle: {} ({} node{}, {} runtime, vLLM {} {})\n", out.string(), l.nodes.size(), l.nodes.size() == 1 ? "" : "s",
                     to_string(l.runtime), l.version.text, ray ? "over Ray" : "multi-node without Ray");
    s += "Copy each node's folder to that node, then run these, in this order:\n";
    const node_launch& head = l.nodes[l.head];
    int step = 1;
    auto line = [&](const node_launch& n, const char* what, const std::string& note) {
        std::string row = fmt::format("  {}. {:<12} {:<7} {:<16} {:<14}{}", step++, n.name, to_string(n.role), n.address, what, note);
        s += std::string(detail::trim(row).empty() ? row : row.substr(0, row.find_last_not_of(' ') + 1)) + "\n";
    };
    line(head, "./start.sh", "");
    for (const auto& n : l.nodes)
        if (n.index != l.head) line(n, "./start.sh", "");
    if (ray) line(head, "./serve.sh", fmt::format("waits for {} nodes and {} GPUs, then starts vllm serve", l.expected_nodes, l.expected_gpus));
    line(head, "./smoke.sh", "waits for /health, then sends one chat request");
    s += "Stop with ./stop.sh on every node. The API: " + l.api_url + "/v1, model \"" + l.served_model_name + "\"" +
         (l.api_key ? ", key in " + head.name + "/.env (mode 0600)" : ", no API key") + ".\n";
    s += "Details: " + (out / "README.md").string() + "\n";
    return s;
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const bundle& b) {
    using nlohmann::json;
    json files = json::array();
    for (const auto& f : b.files)
        files.push_back({{"path", f.path}, {"mode", fmt::format("{:04o}", f.mode)}, {"bytes", f.content.size()}, {"secret", f.secret}});
    json nodes = json::array();
    for (const auto& n : b.launch.nodes) {
        json o = {{"name", n.name}, {"role", std::string(to_string(n.role))}, {"address", n.address}, {"gpus", n.gpus}};
        if (!n.ray_start.empty()) o["ray_start"] = command_line(n.ray_start);
        if (!n.vllm_serve.empty()) o["vllm_serve"] = command_line(n.vllm_serve);
        nodes.push_back(o);
    }
    j = {{"deployment", b.name},
         {"runtime", std::string(to_string(b.launch.runtime))},
         {"launcher", std::string(to_string(b.launch.launcher))},
         {"launcher_why", b.launch.launcher_why},
         {"vllm_version", b.launch.version.text},
         {"api_url", b.launch.api_url},
         {"served_model_name", b.launch.served_model_name},
         {"expected_nodes", b.launch.expected_nodes},
         {"expected_gpus", b.launch.expected_gpus},
         {"fits", b.plan.fits()},
         {"warnings", b.warnings},
         {"nodes", nodes},
         {"files", files}};
}

DSDEPLOY_NAMESPACE_END
