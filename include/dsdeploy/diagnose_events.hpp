// SPDX-License-Identifier: Apache-2.0
// Failure lines that can appear in any log (a vLLM or SGLang server, a Ray driver, a container's
// output, dmesg): Gloo's connectFullMesh and interface errors, Ray's version check and its
// connections to the head, the NVIDIA driver (too old, library mismatch, Xid 79), and the Hugging
// Face download (gated repository, cache not writable). The parser takes any text and never
// throws; what it does not recognise it ignores. The rule set is impl/diagnose_events_rules_inl.hpp,
// run by diagnose() on every text of a node (diagnose.hpp).
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/log_line.hpp>

#include <cstddef>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

struct log_events {
    bool recognised = false;
    // Gloo (torch.distributed's CPU process group)
    std::optional<log_line> gloo_connect_full_mesh;  // "Gloo connectFullMesh failed ..."
    std::string gloo_node_ip;                        // ip= of the Ray prefix on that line
    std::optional<log_line> gloo_loopback;           // "Using the loopback address", "remote=[127.0.0.1]"
    std::optional<log_line> gloo_no_interface;       // "Unable to find address for: <name>" (gloo device.cc)
    std::string gloo_interface;                      // <name>
    // Ray
    std::optional<log_line> ray_version_mismatch;    // "Version mismatch: The cluster was started with:"
    std::vector<log_line> ray_version_block;         // that line and the version lines after it, verbatim
    std::map<std::string, std::string> ray_cluster_versions, ray_process_versions;  // "Ray" -> "2.43.0", "Python", "Pyarrow"
    std::string ray_process_node;                    // "This process on node <ip>"
    std::optional<log_line> ray_gcs_unreachable;     // "Failed to connect to GCS at address ..."
    std::optional<log_line> ray_redis_unreachable;   // "Could not establish connection to redis <host>:<port>"
    std::optional<int> ray_redis_port;
    // NVIDIA driver and GPU
    std::optional<log_line> driver_too_old;          // "The NVIDIA driver on your system is too old (found version N)"
    std::optional<int> driver_found_cuda;            // N (11000 = CUDA 11.0)
    std::optional<log_line> driver_library_mismatch; // "Driver/library version mismatch"
    std::optional<log_line> xid_fallen_off_bus;      // "NVRM: Xid (PCI:...): 79, GPU has fallen off the bus"
    std::string xid_pci;                             // "0000:02:00"
    // Hugging Face downloads
    std::optional<log_line> gated_repo;              // "Cannot access gated repo", "Access to model X is restricted", 401
    std::string gated_model;
    std::optional<log_line> cache_not_writable;      // "[Errno 13] Permission denied: '...huggingface...'"
    std::string cache_path;
};
log_events parse_log_events(std::string_view text);

// The same parser line by line, for a log of any size (doctor streams its files through it): give
// it each line with its 1-based number, colour codes removed (log_reader in diagnose.hpp does
// both), then take the report. Its state is bounded (the previous line, capped blocks).
// parse_log_events(text) is this over the lines of `text`.
class log_events_parser {
public:
    void line(std::size_t number, std::string_view text);
    std::size_t recognised_lines() const { return recognised_lines_; }
    log_events finish();  // the report; the parser starts afresh

private:
    void process(std::size_t number, std::string_view text);
    enum class block_kind { none, cluster, process };
    log_events r_;
    block_kind in_block_ = block_kind::none;
    std::string prev_;  // the previous line (gloo prints the interface error under its source line)
    bool has_prev_ = false;
    std::size_t recognised_lines_ = 0;
};

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/diagnose_events_inl.hpp>
#endif
