// SPDX-License-Identifier: Apache-2.0
// Diagnostics: findings with stable ids, the evidence line and the fix, from what was seen on
// every node (node_evidence) against what the plan asked for (expectations). This is the
// diagnose rooms' entry point: it includes the parsers for each tool's output, one room per
// subject: diagnose_gpu.hpp (nvidia-smi, topo -m), diagnose_ray.hpp (ray status, ray list nodes),
// diagnose_nccl.hpp (NCCL logs), diagnose_vllm.hpp (vLLM logs); ibv_devinfo and sysfs come from
// network.hpp. The rule sets that turn them into findings are impl/diagnose_<subject>_rules_inl.hpp
// (rdma, gpu, ray, nccl, vllm, probe, versions, across_nodes), called by diagnose() in that
// order. /proc/net/tcp and the local probes (probe_local) are declared here too.
//
// Every parser takes any text (another version's layout, a truncated paste, binary noise) and
// never throws; what it does not recognise it ignores. Only reading files and validating
// expectations throw, and only dsdeploy::error.
#pragma once

#include <dsdeploy/cluster.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/detail/line_splitter.hpp>
#include <dsdeploy/diagnose_events.hpp>
#include <dsdeploy/diagnose_gpu.hpp>
#include <dsdeploy/diagnose_nccl.hpp>
#include <dsdeploy/diagnose_ray.hpp>
#include <dsdeploy/diagnose_vllm.hpp>
#include <dsdeploy/error.hpp>
#include <dsdeploy/log_line.hpp>
#include <dsdeploy/network.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

// What the local probes read besides the tools' output: TCP listeners.
struct listening_socket {
    std::string address;  // "0.0.0.0", "127.0.0.1", "::", "::ffff:192.0.2.2"
    int port = 0;
};
// /proc/net/tcp or /proc/net/tcp6: the sockets in LISTEN state.
std::vector<listening_socket> parse_proc_net_tcp(std::string_view text);
bool is_loopback(std::string_view address);

// Findings: what diagnose() concludes, one per problem, with its evidence and fix.
enum class severity { error, warning, info };
std::string_view to_string(severity s);

struct finding {
    std::string id;         // stable ("nccl.ib_fallback_to_socket"); docs/findings.md lists them all
    severity level = severity::error;
    std::string node;       // where the evidence came from; empty when it concerns the cluster
    std::string source;     // "nccl_log", "vllm_log", "ray_status", "ray_list_nodes", "ibv_devinfo",
                            // "sysfs", "nvidia_smi", "nvidia_smi_topo", "probe", "versions", "expectations"
    std::string message;    // what is wrong, with the numbers
    std::string evidence;   // the line(s) that show it, verbatim (colour codes removed)
    std::string fix;        // what to do
};

// A log read as a stream (log_reader): what the log parsers found in it, without its text, so a
// log of any size is judged in memory that does not grow with it. diagnose() judges it as it
// judges the text slot named by `source`.
struct log_digest {
    std::string source;          // "nccl_log", "vllm_log", "log"; "output": judged as whatever its lines are
    nccl_report nccl;
    vllm_report vllm;
    log_events events;
    std::uint64_t bytes = 0, lines = 0;
    std::uint64_t truncated_lines = 0;  // lines longer than the reader's max_line (read up to it)
    std::size_t nccl_lines = 0, vllm_lines = 0, event_lines = 0;  // lines each parser recognised
    bool recognised() const { return nccl.recognised || vllm.recognised || events.recognised; }
};

// What was seen on one node. Every text is optional; absent ones are not judged.
struct node_evidence {
    std::string name;
    std::optional<std::string> ibv_devinfo, nvidia_smi, nvidia_smi_topo, ray_status, ray_list_nodes, nccl_log,
        vllm_log;
    std::optional<std::string> log;             // any other log (a Ray driver, SGLang, a container's output, dmesg)
    std::optional<rdma_report> sysfs;           // read_sysfs_infiniband()
    std::optional<std::uint64_t> shm_bytes;     // size of /dev/shm
    std::optional<std::vector<listening_socket>> listening;  // TCP listeners; nullopt: not probed
    std::map<std::string, std::string> versions;  // "vllm", "ray", "python", "torch", "nccl", "driver", "cuda", "image"
    std::optional<std::string> vllm_host_ip;    // VLLM_HOST_IP in the node's serving environment
    std::vector<log_digest> streamed;           // logs read as streams (log_reader), judged beside the text slots
};

struct evidence {
    std::vector<node_evidence> nodes;
};

struct expected_node {
    std::string name;
    std::string address;  // the IP Ray and VLLM_HOST_IP must use
    int gpus = 0;
};

// What the plan asked for. Unset fields are not checked.
struct expectations {
    std::optional<fabric> fabric_kind;
    std::string interface;               // NCCL_SOCKET_IFNAME
    std::optional<int> gid_index;        // NCCL_IB_GID_INDEX (RoCE)
    std::optional<int> nodes;            // default: node_list.size() when given
    std::optional<int> gpus;             // total; default: the sum over node_list
    std::vector<expected_node> node_list;
    std::optional<std::int64_t> max_model_len;
    std::uint64_t min_shm_bytes = std::uint64_t{1} << 30;  // /dev/shm below this is an error
    int dashboard_port = 8265;
};

// Nodes, addresses, GPUs, fabric, interface and GID index from a cluster and its network.
expectations expectations_for(const cluster& c, const network_profile& p);

// Throws config_error diagnose.expectations naming the field.
void validate(const expectations& e);

// Every finding the evidence supports, errors first. Never throws on any evidence; throws
// diagnose.expectations for invalid expectations.
std::vector<finding> diagnose(const evidence& ev, const expectations& ex = {});

bool has_errors(const std::vector<finding>& findings);
std::string to_text(const std::vector<finding>& findings);
void to_json(nlohmann::json& j, const finding& f);

// For a failed bring-up step: puts `output` into every slot whose parser recognises it (a vLLM
// log with NCCL lines fills both vllm_log and nccl_log; failure lines of any other log fill `log`),
// so diagnose() can explain the failure.
node_evidence evidence_from_output(std::string node, std::string_view output);

// What the parsers recognise in a text: "nccl_log", "vllm_log", "ray_status", "ray_list_nodes",
// "nvidia_smi", "ibv_devinfo", "log" (failure lines of diagnose_events.hpp). Empty: nothing at all,
// which `dsdeploy doctor` says instead of "No findings".
std::vector<std::string> recognised_in(std::string_view text);

// Collecting the evidence on this machine.
struct probe_options {
    std::string ibv_devinfo = "ibv_devinfo";
    std::string nvidia_smi = "nvidia-smi";
    std::string ray = "ray";             // the ray executable
    std::string ray_address;             // empty: RAY_ADDRESS, else the cluster this machine started, else skip
    std::filesystem::path sysfs_root = "/sys/class/infiniband";
    std::filesystem::path shm = "/dev/shm";
    std::filesystem::path proc_net = "/proc/net";
    std::chrono::seconds timeout{60};    // per command
};

struct probe_result {
    node_evidence evidence;
    std::vector<std::string> unavailable;  // "nvidia-smi: not installed", "ray status: no Ray cluster found"
};

// Runs what exists here: ibv_devinfo, /sys/class/infiniband, nvidia-smi (the table and topo -m),
// ray status and ray --version, /dev/shm's size, the TCP listeners. Never throws.
probe_result probe_local(const std::string& node_name, const probe_options& o = {});

// Reads a whole text file (at most max_bytes); throws environment_error diagnose.input. For a tool's
// short output; a log of any size goes through log_reader instead.
std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes = std::size_t{64} << 20);

// Calls on_chunk with the file's bytes in order, chunk_bytes at a time (the memory it takes does
// not grow with the file); throws environment_error diagnose.input when the file cannot be read.
void read_file_chunks(const std::filesystem::path& path, const std::function<void(std::string_view)>& on_chunk,
                      std::size_t chunk_bytes = std::size_t{1} << 20);

// Reads a log of any size as a stream, in memory that does not grow with it: give it the bytes in
// chunks of any size (feed, or feed_file), and it splits lines on LF, CRLF and bare CR (also across
// chunks), drops a leading UTF-8 BOM, removes terminal colour codes (CSI/SGR escape sequences, and
// "[36m" remnants that lost their ESC), and runs the NCCL, vLLM and failure-line parsers over
// every line; finish() gives their reports. A line longer than max_line is read up to max_line.
// Several inputs fed one after the other are read as one (line numbers go on).
class log_reader {
public:
    static constexpr std::size_t default_max_line = std::size_t{1} << 20;
    explicit log_reader(std::string source = "log", std::size_t max_line = default_max_line);

    // Also calls on_line(number, line) for every cleaned line (e.g. vllm_memory_log_parser).
    void on_line(std::function<void(std::size_t, std::string_view)> f) { extra_ = std::move(f); }
    void feed(std::string_view chunk);
    // Feeds a whole file (read_file_chunks), then ends its last line; throws diagnose.input.
    void feed_file(const std::filesystem::path& path, std::size_t chunk_bytes = std::size_t{1} << 20);
    // Ends the input's last line (the next feed starts a new input: its BOM is dropped too).
    void end_input();
    const nccl_log_parser& nccl() const { return nccl_; }
    const vllm_log_parser& vllm() const { return vllm_; }
    const log_events_parser& events() const { return events_; }
    std::uint64_t lines() const;
    log_digest finish();  // ends the input; the reader can be used again

private:
    void line(std::string_view raw);
    std::string source_;
    std::size_t max_line_;
    detail::line_splitter split_;
    std::string clean_buf_;
    std::size_t number_ = 0;
    nccl_log_parser nccl_;
    vllm_log_parser vllm_;
    log_events_parser events_;
    std::function<void(std::size_t, std::string_view)> extra_;
};

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/diagnose_inl.hpp>
#endif
