// SPDX-License-Identifier: Apache-2.0
// NCCL evidence for the diagnosis: a parser for an NCCL_DEBUG=INFO log (versions, NCCL_* settings,
// per-process rank, network and devices, the transports that carry traffic, and the warnings and
// errors that explain a failure). It takes any text and never throws; the NCCL rule set (IB falling
// back to TCP, the wrong interface, completion errors) is impl/diagnose_nccl_rules_inl.hpp, run by
// diagnose() (diagnose.hpp).
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/log_line.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN

struct nccl_process {
    std::string host;
    std::string pid;
    int device = -1;                     // the [N] after host:pid:tid
    std::optional<int> rank, nranks, nnodes;
    std::string network;                 // "IB" or "Socket" ("Using network X")
    std::vector<std::string> socket_interfaces;  // "eth0:192.0.2.2"
    std::vector<std::string> ib_devices;         // "mlx5_0:1/IB", "mlx5_10:1/RoCE"
    std::string version;
};

struct nccl_report {
    bool recognised = false;
    std::vector<std::string> versions;           // distinct, as printed ("2.28.9+cuda13.0")
    std::map<std::string, std::string> env;      // NCCL_* the log says were set
    std::vector<nccl_process> processes;         // one per host:pid, in order of appearance
    std::vector<std::string> networks;           // distinct: "IB", "Socket"
    std::vector<std::string> transports;         // distinct: "NET/IB/0/GDRDMA", "NET/Socket/0", "P2P/CUMEM"...
    std::optional<log_line> ib_no_device;        // "NET/IB : No device found."
    std::optional<log_line> ib_plugin_failed;    // "Failed to initialize NET plugin IB"
    std::optional<log_line> socket_network;      // first sign the Socket transport carries traffic
    std::optional<log_line> ib_network;          // first sign IB/RoCE carries traffic
    std::optional<log_line> no_socket_interface; // bootstrap found no interface
    std::optional<log_line> interface_line;      // first line naming the socket interface NCCL uses
    std::optional<log_line> ib_devices_line;     // first "NET/IB : Using [0]mlx5_0:1/IB ..." line with devices
    std::optional<log_line> ib_completion_error; // "Got completion ... error/status=N"
    std::optional<log_line> shm_error;           // creating a /dev/shm segment failed
    std::optional<log_line> ibverbs_missing;     // "Failed to open libibverbs.so[.1]"
    std::optional<log_line> socket_after_ibverbs; // the "NET/Socket : Using [0]ib0..." line after it
    std::string socket_after_ibverbs_interface;  // "ib0"
    std::optional<log_line> watchdog;            // "Watchdog caught collective operation timeout: WorkNCCL(...)"
    std::optional<int> watchdog_rank;
    std::string watchdog_op, watchdog_ip;        // "ALLREDUCE"; the ip= of a Ray prefix
    std::optional<std::int64_t> watchdog_seq, watchdog_ran_ms;
    std::optional<log_line> version_conflict;    // "Invalid config blocking attribute value", "undefined symbol: nccl..."
    std::optional<log_line> peer_lost;           // "remote process exited or there was a network error"
    std::optional<log_line> init_start;          // last "vLLM is using nccl==X" / "Init START" / "ncclCommInitRank" line
    std::optional<log_line> init_complete;       // last "Init COMPLETE" line
    std::optional<log_line> last_line;           // the last non-empty line of the text
    std::vector<log_line> warnings;              // every "NCCL WARN" line
    std::vector<log_line> errors;                // ncclSystemError, ncclInternalError, "NCCL error" ...

    // The log shows InfiniBand/RoCE was asked for: NCCL_IB_HCA set, or NCCL_IB_DISABLE=0.
    bool ib_requested() const;
};
nccl_report parse_nccl_log(std::string_view text);

// The same parser line by line, for a log of any size (doctor streams its files through it): give
// it each line with its 1-based number, colour codes removed (log_reader in diagnose.hpp does
// both), then take the report. Its state is bounded whatever the input (the report's lists are
// capped). parse_nccl_log(text) is this over the lines of `text`.
class nccl_log_parser {
public:
    void line(std::size_t number, std::string_view text);
    const nccl_report& report() const { return r_; }  // so far (last_line is set by finish())
    std::size_t recognised_lines() const { return recognised_lines_; }  // lines that made the text an NCCL log
    nccl_report finish();                              // the report; the parser starts afresh

private:
    nccl_report r_;
    std::map<std::string, std::size_t, std::less<>> proc_index_;  // "host:pid" -> index in r_.processes (at most 4096)
    std::size_t last_number_ = 0;
    std::string last_text_;
    std::size_t recognised_lines_ = 0;
};

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/diagnose_nccl_inl.hpp>
#endif
