// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/diagnose.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/detail/line_splitter.hpp>
#include <dsdeploy/detail/text.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

namespace diagnose_test {

using namespace dsdeploy;
using dsdeploy_test::fixture;

namespace {

std::vector<std::string> ids(const std::vector<finding>& fs) {
    std::vector<std::string> out;
    for (const auto& f : fs) out.push_back(f.id);
    return out;
}

const finding* find_id(const std::vector<finding>& fs, const std::string& id) {
    for (const auto& f : fs)
        if (f.id == id) return &f;
    return nullptr;
}

evidence one(node_evidence n) {
    evidence ev;
    ev.nodes.push_back(std::move(n));
    return ev;
}

node_evidence with_nccl(const std::string& name, const std::string& log) {
    node_evidence n;
    n.name = name;
    n.nccl_log = log;
    return n;
}

node_evidence with_vllm(const std::string& name, const std::string& log) {
    node_evidence n;
    n.name = name;
    n.vllm_log = log;
    return n;
}

node_evidence with_ray(const std::string& name, const std::string& status) {
    node_evidence n;
    n.name = name;
    n.ray_status = status;
    return n;
}

expectations two_nodes_ib() {
    expectations ex;
    ex.fabric_kind = fabric::infiniband;
    ex.interface = "bond0";
    ex.node_list = {{"gpu-a", "10.0.0.1", 8}, {"gpu-b", "10.0.0.2", 8}};
    return ex;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
    return s;
}

}  // namespace

// --- the GPU host's fixtures -----------------------------------------------------------------

TEST_CASE("each real NCCL log from the GPU host gives the finding it should") {
    // the InfiniBand fallback log: IB asked for in the environment, TCP used
    auto fallback = diagnose(one(with_nccl("vm", fixture("gpu/nccl-ib-requested-absent.log"))));
    REQUIRE(ids(fallback) == std::vector<std::string>{"nccl.ib_fallback_to_socket"});
    CHECK(fallback[0].level == severity::error);
    CHECK(fallback[0].node == "vm");
    CHECK(fallback[0].source == "nccl_log");
    CHECK(fallback[0].evidence == "vm:853:853 [0] NCCL INFO Using network Socket");
    CHECK_THAT(fallback[0].message, Catch::Matchers::Contains("NCCL_IB_HCA=mlx5_0,mlx5_3"));
    CHECK_THAT(fallback[0].message, Catch::Matchers::Contains("NET/IB : No device found."));
    CHECK_THAT(fallback[0].fix, Catch::Matchers::Contains("--device /dev/infiniband"));

    // the bond0 log: an interface that does not exist
    auto bond = diagnose(one(with_nccl("vm", fixture("gpu/nccl-badhca.log"))));
    REQUIRE(ids(bond) == std::vector<std::string>{"nccl.socket_interface_missing"});
    CHECK(bond[0].evidence == "[2026-11-27 23:27:02] vm:762:762 [0] bootstrap.cc:114 NCCL WARN Bootstrap : no socket interface found");
    CHECK_THAT(bond[0].message, Catch::Matchers::Contains("NCCL_SOCKET_IFNAME=bond0"));
    CHECK_THAT(bond[0].fix, Catch::Matchers::Contains("NCCL_SOCKET_IFNAME"));

    // the healthy logs: nothing
    CHECK(diagnose(one(with_nccl("vm", fixture("gpu/nccl-default.log")))).empty());
    CHECK(diagnose(one(with_nccl("vm", fixture("gpu/nccl-socket-lo.log")))).empty());
}

TEST_CASE("with InfiniBand planned, TCP between nodes is a fallback - one node's NVLink run is not") {
    expectations ex;
    ex.fabric_kind = fabric::infiniband;
    // single node (nNodes 1): "Using network Socket" but the traffic went over P2P/CUMEM
    CHECK(diagnose(one(with_nccl("vm", fixture("gpu/nccl-default.log"))), ex).empty());
    // two "nodes" over lo with IB disabled by the environment
    auto lo = diagnose(one(with_nccl("vm", fixture("gpu/nccl-socket-lo.log"))), ex);
    REQUIRE(ids(lo) == std::vector<std::string>{"nccl.ib_fallback_to_socket"});
    CHECK_THAT(lo[0].message, Catch::Matchers::Contains("NCCL_IB_DISABLE=1"));
    CHECK_THAT(lo[0].fix, Catch::Matchers::StartsWith("Remove NCCL_IB_DISABLE=1"));
    // and the planned interface is not the one NCCL used
    ex.interface = "bond0";
    auto wrong = diagnose(one(with_nccl("vm", fixture("gpu/nccl-socket-lo.log"))), ex);
    auto* w = find_id(wrong, "nccl.wrong_interface");
    REQUIRE(w != nullptr);
    CHECK(w->level == severity::warning);
    CHECK_THAT(w->message, Catch::Matchers::Contains("NCCL uses lo, not the planned interface bond0"));
    CHECK(w->evidence == "vm:692:692 [0] NCCL INFO NET/Socket : Using [0]lo:127.0.0.1<0>");
}

TEST_CASE("NCCL logs: version, environment, and per rank the network, interface and rank") {
    auto r = parse_nccl_log(fixture("gpu/nccl-ib-requested-absent.log"));
    CHECK(r.recognised);
    CHECK(r.versions == std::vector<std::string>{"2.28.9+cuda13.0"});
    CHECK(r.env.at("NCCL_SOCKET_IFNAME") == "lo");
    CHECK(r.env.at("NCCL_IB_HCA") == "mlx5_0,mlx5_3");
    CHECK(r.env.at("NCCL_IB_DISABLE") == "0");
    CHECK(r.ib_requested());
    REQUIRE(r.processes.size() == 2);
    for (const auto& p : r.processes) {
        CHECK(p.host == "vm");
        CHECK(p.network == "Socket");
        CHECK(p.socket_interfaces == std::vector<std::string>{"lo:127.0.0.1"});
        CHECK(p.version == "2.28.9+cuda13.0");
        CHECK(p.nranks == 2);
        CHECK(p.nnodes == 2);
    }
    CHECK(r.processes[0].pid == "853");
    CHECK(r.processes[0].rank == 0);
    CHECK(r.processes[1].rank == 1);
    CHECK(r.networks == std::vector<std::string>{"Socket"});
    CHECK(std::find(r.transports.begin(), r.transports.end(), "NET/Socket/0") != r.transports.end());
    REQUIRE(r.ib_no_device);
    CHECK(r.ib_no_device->text == "vm:853:853 [0] NCCL INFO NET/IB : No device found.");
    CHECK(r.ib_no_device->number == 17);

    auto nv = parse_nccl_log(fixture("gpu/nccl-default.log"));
    CHECK_FALSE(nv.ib_requested());
    CHECK(std::find(nv.transports.begin(), nv.transports.end(), "P2P/CUMEM") != nv.transports.end());
    CHECK(nv.processes[0].nnodes == 1);

    auto bad = parse_nccl_log(fixture("gpu/nccl-badhca.log"));
    CHECK(bad.warnings.size() == 1);
    CHECK_FALSE(bad.errors.empty());  // "NCCL error in: ..." from torch
    CHECK(bad.env.at("NCCL_SOCKET_IFNAME") == "bond0");
}

TEST_CASE("NCCL lines quoted in public issues: InfiniBand, RoCE, completion errors, /dev/shm") {
    auto ib = parse_nccl_log(fixture("nccl/public-nv-peer-memory-56-ib-two-nodes.log"));
    CHECK(ib.versions == std::vector<std::string>{"2.5.6+cuda10.0"});
    REQUIRE(ib.processes.size() == 7);
    CHECK(ib.processes[0].host == "master_node");
    CHECK(ib.processes[0].ib_devices == std::vector<std::string>{"mlx5_0:1/IB"});
    CHECK(ib.processes[0].socket_interfaces == std::vector<std::string>{"ib0:192.168.11.1"});
    CHECK(ib.processes.back().host == "secondary_node");
    // healthy InfiniBand; with bond0 planned, NCCL's use of ib0 is worth a warning
    CHECK(diagnose(one(with_nccl("a", fixture("nccl/public-nv-peer-memory-56-ib-two-nodes.log")))).empty());
    CHECK(ids(diagnose(one(with_nccl("a", fixture("nccl/public-nv-peer-memory-56-ib-two-nodes.log"))), two_nodes_ib())) ==
          std::vector<std::string>{"nccl.wrong_interface"});

    auto roce = parse_nccl_log(fixture("nccl/public-nccl-tests-185-roce.log"));
    CHECK(roce.networks == std::vector<std::string>{"IB"});
    CHECK(roce.versions == std::vector<std::string>{"2.19.3+cuda12.3"});
    REQUIRE(roce.processes.size() == 2);
    CHECK(roce.processes[0].ib_devices == std::vector<std::string>{"mlx5_10:1/RoCE", "mlx5_11:1/RoCE"});
    auto roce_findings = diagnose(one(with_nccl("a", fixture("nccl/public-nccl-tests-185-roce.log"))));
    REQUIRE(ids(roce_findings) == std::vector<std::string>{"roce.gid_index_unset"});
    CHECK(roce_findings[0].level == severity::warning);
    CHECK_THAT(roce_findings[0].evidence, Catch::Matchers::Contains("[0]mlx5_10:1/RoCE [1]mlx5_11:1/RoCE"));
    expectations with_gid;
    with_gid.gid_index = 3;
    CHECK(diagnose(one(with_nccl("a", fixture("nccl/public-nccl-tests-185-roce.log"))), with_gid).empty());

    for (const char* f : {"nccl/public-nccl-1814-completion-status-12.log", "nccl/public-nccl-tests-24-completion-error-4.log"}) {
        auto fs = diagnose(one(with_nccl("a", fixture(f))));
        CHECK(ids(fs) == std::vector<std::string>{"nccl.ib_completion_error"});
    }
    for (const char* f : {"nccl/public-nccl-tests-166-shm.log", "nccl/public-pytorch-ci-infra-490-shm-timestamped.log"}) {
        auto fs = diagnose(one(with_nccl("a", fixture(f))));
        REQUIRE(ids(fs) == std::vector<std::string>{"shm.too_small"});
        CHECK_THAT(fs[0].evidence, Catch::Matchers::Contains("/dev/shm/nccl-"));
        CHECK_THAT(fs[0].fix, Catch::Matchers::Contains("--shm-size"));
    }
}

TEST_CASE("an NCCL warning nothing more specific explains becomes nccl.failure") {
    // NCCL's wording for a missing library call, in the log format of the GPU host's fixtures
    const std::string log = "vm:1:1 [0] NCCL INFO NCCL version 2.28.9+cuda13.0\n"
                            "vm:1:9 [0] misc/ibvwrap.cc:187 NCCL WARN Call to ibv_modify_qp failed with error Network is unreachable\n";
    auto fs = diagnose(one(with_nccl("a", log)));
    REQUIRE(ids(fs) == std::vector<std::string>{"nccl.failure"});
    CHECK(fs[0].evidence == "vm:1:9 [0] misc/ibvwrap.cc:187 NCCL WARN Call to ibv_modify_qp failed with error Network is unreachable");
}

// --- nvidia-smi ------------------------------------------------------------------------------

TEST_CASE("nvidia-smi: the table, -L, and --query-gpu CSV with and without header and units") {
    auto table = parse_nvidia_smi(fixture("gpu/nvidia-smi.txt"));
    CHECK(table.format == nvidia_smi_format::table);
    CHECK(table.driver_version == "580.159.04");
    CHECK(table.cuda_version == "13.0");
    REQUIRE(table.gpus.size() == 2);
    CHECK(table.gpus[0].index == 0);
    CHECK(table.gpus[0].name == "NVIDIA H200");
    CHECK(table.gpus[1].bus_id == "00000000:00:07.0");
    CHECK(table.gpus[1].memory_total_mib == 143771);
    CHECK(table.gpus[1].memory_used_mib == 0);
    CHECK(table.gpus[1].utilization_percent == 0);

    auto list = parse_nvidia_smi(fixture("gpu/nvidia-smi-L.txt"));
    CHECK(list.format == nvidia_smi_format::list);
    REQUIRE(list.gpus.size() == 2);
    CHECK(list.gpus[1].uuid == "GPU-d851a442-4aa9-d8d9-49d1-719e773d2a60");
    CHECK(list.gpus[1].name == "NVIDIA H200");

    auto csv = parse_nvidia_smi(fixture("gpu/nvidia-smi-query.csv"));
    CHECK(csv.format == nvidia_smi_format::csv);
    CHECK(csv.driver_version == "580.159.04");
    REQUIRE(csv.gpus.size() == 2);
    CHECK(csv.gpus[0].uuid == "GPU-e42a277d-62a7-9b6a-a802-f98057a94286");
    CHECK(csv.gpus[0].memory_total_mib == 143771);
    CHECK(csv.gpus[0].memory_free_mib == 143156);
    CHECK(csv.gpus[0].bus_id == "00000000:00:06.0");

    auto bare = parse_nvidia_smi(fixture("gpu/nvidia-smi-query-noheader.csv"));
    REQUIRE(bare.gpus.size() == 2);
    CHECK(bare.gpus[1].index == 1);
    CHECK(bare.gpus[1].name == "NVIDIA H200");
    CHECK(bare.gpus[1].memory_total_mib == 143771);
    CHECK(bare.gpus[1].memory_used_mib == 0);
}

TEST_CASE("nvidia-smi findings: driver unreachable, too few GPUs, memory already in use") {
    // nvidia-smi's own message when the driver is not loaded
    node_evidence down;
    down.name = "gpu-a";
    down.nvidia_smi = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA "
                      "driver is installed and running.\n";
    auto fs = diagnose(one(down));
    REQUIRE(ids(fs) == std::vector<std::string>{"gpu.driver_unavailable"});
    CHECK_THAT(fs[0].evidence, Catch::Matchers::StartsWith("NVIDIA-SMI has failed"));

    node_evidence two;
    two.name = "gpu-a";
    two.nvidia_smi = fixture("gpu/nvidia-smi.txt");
    CHECK(diagnose(one(two)).empty());  // no expectation: nothing to compare
    auto few = diagnose(one(two), two_nodes_ib());
    REQUIRE(find_id(few, "gpu.too_few") != nullptr);
    CHECK_THAT(find_id(few, "gpu.too_few")->message, Catch::Matchers::Contains("lists 2 GPU(s) but the plan puts 8"));

    // the real table with GPU 1's memory changed here to 20 GiB in use
    node_evidence busy = two;
    busy.nvidia_smi = replace_all(fixture("gpu/nvidia-smi.txt"), "|       0MiB / 143771MiB |      0%      Default |\n|"
                                                                 "                                         |                        |             Disabled |\n+"
                                                                 "-----------------------------------------+------------------------+----------------------+\n\n",
                                  "|   20480MiB / 143771MiB |      0%      Default |\n|"
                                  "                                         |                        |             Disabled |\n+"
                                  "-----------------------------------------+------------------------+----------------------+\n\n");
    auto mem = diagnose(one(busy));
    REQUIRE(ids(mem) == std::vector<std::string>{"gpu.memory_in_use"});
    CHECK_THAT(mem[0].message, Catch::Matchers::Contains("GPU 1 already has 20480 of 143771 MiB"));
    CHECK_THAT(mem[0].evidence, Catch::Matchers::Contains("20480MiB / 143771MiB"));

    // Figures near the int64 limit (found by fuzz_nvidia_smi: used x 20 overflowed) still compare.
    node_evidence huge;
    huge.name = "gpu-a";
    huge.nvidia_smi = "0, NVIDIA H20, 999999999999999999, 777777777777743771\n1, NVIDIA H20, 999999999999999999, 2048\n";
    const auto h = diagnose(one(huge));
    REQUIRE(ids(h) == std::vector<std::string>{"gpu.memory_in_use"});
    CHECK_THAT(h[0].message, Catch::Matchers::Contains("GPU 0 already has 777777777777743771 of 999999999999999999 MiB"));
}

TEST_CASE("nvidia-smi topo -m: tabs with colour codes, space-aligned pastes with NICs, one GPU") {
    auto t = parse_nvidia_smi_topo(fixture("gpu/nvidia-smi-topo.txt"));
    CHECK(t.devices == std::vector<std::string>{"GPU0", "GPU1"});
    CHECK(t.link("GPU0", "GPU1") == "NV18");
    CHECK(t.link("GPU1", "GPU1") == "X");
    CHECK(t.link("GPU0", "GPU9").empty());

    auto nics = parse_nvidia_smi_topo(fixture("nvidia/public-nccl-1591-topo-nics-excerpt.txt"));
    CHECK(nics.devices.size() == 14);
    CHECK(nics.gpu_count() == 8);
    CHECK(nics.link("GPU0", "NIC0") == "PIX");
    CHECK(nics.link("GPU2", "NIC1") == "PIX");
    CHECK(nics.link("GPU1", "NIC5") == "SYS");

    CHECK(parse_nvidia_smi_topo(fixture("nvidia/public-vllm-13052-topo-one-gpu.txt")).gpu_count() == 1);

    node_evidence n;
    n.name = "a";
    n.nvidia_smi_topo = fixture("gpu/nvidia-smi-topo.txt");
    CHECK(diagnose(one(n)).empty());
    n.nvidia_smi_topo = replace_all(*n.nvidia_smi_topo, "NV18", "PHB");  // the same host as if on PCIe only
    auto fs = diagnose(one(n));
    REQUIRE(ids(fs) == std::vector<std::string>{"topo.no_nvlink"});
    CHECK(fs[0].level == severity::info);
    CHECK(fs[0].evidence == "GPU0 - GPU1: PHB");
}

// --- Ray -------------------------------------------------------------------------------------

TEST_CASE("ray status from Ray 2.50.1: nodes, GPUs, pending demands, verbose sections") {
    auto one_node = parse_ray_status(fixture("ray/ray-2.50.1-1node-cpu.txt"));
    CHECK(one_node.recognised);
    CHECK(one_node.layout == "total_usage");
    CHECK(one_node.node_count() == 1);
    CHECK(one_node.resource("GPU") == nullptr);
    REQUIRE(one_node.resource("CPU") != nullptr);
    CHECK(one_node.resource("CPU")->total == 1.0);
    REQUIRE(one_node.resource("memory") != nullptr);
    CHECK(one_node.resource("memory")->total == Approx(14.85 * 1024 * 1024 * 1024));
    CHECK(one_node.pending_demands.empty());

    auto two = parse_ray_status(fixture("ray/ray-2.50.1-2node-gpus.txt"));
    CHECK(two.node_count() == 2);
    CHECK(two.active[1].name == "node_91aa200fde252c3a8b40ef2a9a371bdeb65e14ae981625304831b0fa");
    CHECK(two.resource("GPU")->total == 2.0);
    CHECK(two.resource("GPU")->used == 0.0);

    auto pending = parse_ray_status(fixture("ray/ray-2.50.1-2node-pending-verbose.txt"));
    REQUIRE(pending.pending_demands.size() == 2);
    CHECK(pending.pending_demands[1].text ==
          "{'node:192.0.2.99': 0.001, 'GPU': 1.0} * 1, {'GPU': 1.0} * 3 (PACK): 1+ pending placement groups");
    REQUIRE(pending.nodes.size() == 2);
    CHECK(pending.nodes[1].name == "91aa200fde252c3a8b40ef2a9a371bdeb65e14ae981625304831b0fa");
    CHECK(pending.nodes[1].ip.empty());
    REQUIRE(pending.nodes[1].resources.size() == 4);
    CHECK(pending.nodes[1].resources[1].name == "GPU");

    auto gone = parse_ray_status(fixture("ray/ray-2.50.1-no-cluster.txt"));
    CHECK_FALSE(gone.recognised);
    REQUIRE(gone.connection_error);
    CHECK(gone.connection_error->text == "ray.exceptions.RpcError: Timed out while waiting for GCS to become available.");
}

TEST_CASE("ray status layouts quoted in public issues") {
    auto usage = parse_ray_status(fixture("ray/public-vllm-15217-usage-layout.txt"));
    CHECK(usage.layout == "usage");
    CHECK(usage.node_count() == 2);
    CHECK(usage.resource("GPU")->total == 2.0);
    CHECK(usage.resource("CPU")->total == 256.0);

    auto healthy = parse_ray_status(fixture("ray/public-ray-32921-healthy-layout.txt"));
    CHECK(healthy.node_count() == 2);
    CHECK(healthy.resource("GPU")->used == 4.0);
    CHECK(healthy.resource("accelerator_type:P100")->total == 2.0);
    CHECK(healthy.resource("memory")->total == Approx(341.044 * 1024 * 1024 * 1024));

    auto eight = parse_ray_status(fixture("ray/public-vllm-28997-total-usage-8gpu.txt"));
    CHECK(eight.resource("GPU")->total == 8.0);
    CHECK(eight.resource("memory")->total == Approx(2.80 * 1024.0 * 1024 * 1024 * 1024));

    auto flat = parse_ray_status(fixture("ray/public-gpustack-5509-unindented-tpu.txt"));
    CHECK(flat.node_count() == 2);
    CHECK(flat.resource("TPU")->total == 1.0);
    CHECK(flat.pending_demands.size() == 1);

    auto idle = parse_ray_status(fixture("ray/public-ray-39638-idle.txt"));
    CHECK(idle.node_count() == 1);
    CHECK(idle.idle.empty());
    REQUIRE(idle.nodes.size() == 1);
    CHECK(idle.nodes[0].resources.size() == 3);

    auto ips = parse_ray_status(fixture("ray/public-ray-35411-verbose-node-ips.txt"));
    CHECK(ips.node_count() == 3);
    REQUIRE(ips.nodes.size() == 2);
    CHECK(ips.nodes[0].ip == "10.0.3.87");
    CHECK(ips.nodes[1].ip == "10.0.2.228");
    CHECK(ips.nodes[1].resources[2].used == Approx(319.87 * 1024 * 1024));

    auto busy = parse_ray_status(fixture("ray/public-ray-36894-pending-failures.txt"));
    CHECK(busy.node_count() == 22);
    CHECK(busy.pending_nodes.size() == 3);
    REQUIRE(busy.recent_failures.size() == 1);
    CHECK(busy.recent_failures[0].text == "p3.2xlarge: RayletUnexpectedlyDied (ip: 1.2.3.6)");
    CHECK(busy.resource("GPU")->total == 2.0);
    CHECK(busy.pending_demands.size() == 3);
    CHECK(busy.nodes[0].ip == "192.168.1.1");

    auto spread = parse_ray_status(fixture("ray/public-ray-47792-demands-spread.txt"));
    CHECK(spread.resource("object_store_memory")->used == Approx(1.99 * 1024));
}

TEST_CASE("ray findings: too few nodes or GPUs, pending demands, failures, unreachable") {
    expectations ex;
    ex.nodes = 2;
    ex.gpus = 2;
    CHECK(diagnose(one(with_ray("head", fixture("ray/ray-2.50.1-2node-gpus.txt"))), ex).empty());

    auto left = diagnose(one(with_ray("head", fixture("ray/ray-2.50.1-worker-left.txt"))), ex);
    CHECK(ids(left) == std::vector<std::string>{"ray.too_few_nodes", "ray.too_few_gpus"});
    CHECK_THAT(left[0].message, Catch::Matchers::Contains("Ray has 1 node(s); the plan needs 2"));
    CHECK(left[0].evidence == "1 node_05647c793c425a1911ae7a7dd9d36ca7ad49758d1cefa55bc2cc6089");
    CHECK_THAT(left[1].evidence, Catch::Matchers::StartsWith("Total Usage:\n0.0/1.0 CPU"));

    ex.gpus = 16;
    auto gpus = diagnose(one(with_ray("head", fixture("ray/ray-2.50.1-2node-gpus.txt"))), ex);
    REQUIRE(ids(gpus) == std::vector<std::string>{"ray.too_few_gpus"});
    CHECK(gpus[0].evidence == "0.0/2.0 GPU");
    CHECK_THAT(gpus[0].message, Catch::Matchers::Contains("Ray sees 2 GPU(s); the plan needs 16"));

    auto pending = diagnose(one(with_ray("head", fixture("ray/ray-2.50.1-2node-pending.txt"))));
    REQUIRE(ids(pending) == std::vector<std::string>{"ray.pending_demands"});
    CHECK(pending[0].level == severity::warning);

    auto failed = diagnose(one(with_ray("head", fixture("ray/public-ray-36894-pending-failures.txt"))));
    CHECK(find_id(failed, "ray.node_failed") != nullptr);

    auto gone = diagnose(one(with_ray("head", fixture("ray/ray-2.50.1-no-cluster.txt"))), ex);
    REQUIRE(ids(gone) == std::vector<std::string>{"ray.unreachable"});
    auto starting = diagnose(one(with_ray("head", fixture("ray/ray-2.50.1-starting.txt"))), ex);
    REQUIRE(ids(starting) == std::vector<std::string>{"ray.unreachable"});
    CHECK_THAT(starting[0].evidence, Catch::Matchers::StartsWith("No cluster status."));
}

TEST_CASE("ray list nodes: table and yaml") {
    auto rows = parse_ray_list_nodes(fixture("ray/ray-2.50.1-list-nodes-2.txt"));
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].node_id == "05647c793c425a1911ae7a7dd9d36ca7ad49758d1cefa55bc2cc6089");
    CHECK(rows[0].node_ip == "192.0.2.2");
    CHECK(rows[0].is_head);
    CHECK(rows[0].state == "ALIVE");
    CHECK_FALSE(rows[0].gpus);
    CHECK_FALSE(rows[1].is_head);
    CHECK(rows[1].gpus == 2.0);
    // `ray list nodes --format yaml` prints one mapping per node
    auto yaml = parse_ray_list_nodes("- node_id: abc\n  node_ip: 10.0.0.1\n  is_head_node: true\n  state: ALIVE\n"
                                     "- node_id: def\n  node_ip: 172.17.0.2\n  is_head_node: false\n  state: DEAD\n");
    REQUIRE(yaml.size() == 2);
    CHECK(yaml[1].node_ip == "172.17.0.2");
    CHECK(yaml[1].state == "DEAD");
    CHECK(yaml[0].is_head);
}

TEST_CASE("the IP Ray registered must be the node's planned address and VLLM_HOST_IP") {
    auto ex = two_nodes_ib();
    ex.fabric_kind.reset();
    node_evidence head;
    head.name = "gpu-a";
    head.ray_list_nodes = fixture("ray/ray-2.50.1-list-nodes-2.txt");
    auto fs = diagnose(one(head), ex);
    auto* m = find_id(fs, "ray.node_ip_mismatch");
    REQUIRE(m != nullptr);
    CHECK_THAT(m->message, Catch::Matchers::Contains("Ray knows a node by 192.0.2.2, which is not any planned node address (10.0.0.1, 10.0.0.2)"));
    CHECK_THAT(m->evidence, Catch::Matchers::Contains("192.0.2.2  True"));

    // vLLM pinned its placement group to node:10.0.0.1, Ray has only 192.0.2.2
    node_evidence driver = head;
    driver.vllm_log = fixture("vllm/vllm-0.11.0-placement-group-timeout.log");
    auto pinned = diagnose(one(driver));
    bool found = false;
    for (const auto& f : pinned)
        if (f.id == "ray.node_ip_mismatch" && f.message.find("pinned to node:10.0.0.1 but Ray has no node with that IP (Ray's nodes: 192.0.2.2)") != std::string::npos)
            found = true;
    CHECK(found);

    node_evidence b;
    b.name = "gpu-b";
    b.vllm_host_ip = "172.17.0.2";
    auto host = diagnose(one(b), ex);
    REQUIRE(ids(host) == std::vector<std::string>{"ray.node_ip_mismatch"});
    CHECK(host[0].evidence == "VLLM_HOST_IP=172.17.0.2");
    CHECK_THAT(host[0].message, Catch::Matchers::Contains("the plan gives this node the address 10.0.0.2"));
}

// --- vLLM ------------------------------------------------------------------------------------

TEST_CASE("vLLM 0.11.0 start-up log: version, KV cache, concurrency - healthy gives nothing") {
    auto v = parse_vllm_log(fixture("vllm/vllm-0.11.0-cpu-startup.log"));
    CHECK(v.recognised);
    CHECK(v.version == "0.11.0.post2");
    CHECK(v.max_model_len == 1024);
    CHECK(v.tensor_parallel_size == 1);
    CHECK(v.pipeline_parallel_size == 1);
    CHECK(v.kv_cache_tokens == 2097152);
    CHECK(v.concurrency_tokens == 1024);
    CHECK(v.max_concurrency == Approx(2048.0));
    REQUIRE(v.kv_cache_line);
    CHECK(v.kv_cache_line->text == "(EngineCore_DP0 pid=17693) INFO 11-28 00:57:42 [kv_cache_utils.py:1087] GPU KV cache size: 2,097,152 tokens");
    CHECK(v.started.has_value());
    CHECK(v.out_of_memory.empty());
    CHECK(diagnose(one(with_vllm("head", fixture("vllm/vllm-0.11.0-cpu-startup.log")))).empty());

    // the plan wants a longer context than the KV cache holds
    expectations ex;
    ex.max_model_len = 4194304;
    auto fs = diagnose(one(with_vllm("head", fixture("vllm/vllm-0.11.0-cpu-startup.log"))), ex);
    REQUIRE(ids(fs) == std::vector<std::string>{"vllm.kv_cache_too_small"});
    CHECK_THAT(fs[0].message, Catch::Matchers::Contains("holds 2097152 tokens, fewer than one request of 4194304"));
}

TEST_CASE("vLLM failures, real and quoted, give their finding") {
    struct expect {
        const char* file;
        std::vector<std::string> ids;
    };
    const std::vector<expect> cases = {
        {"vllm/vllm-0.11.0-cpu-kv-cache-too-small.log", {"vllm.kv_cache_too_small"}},
        {"vllm/vllm-0.11.0-placement-group-timeout.log", {"vllm.no_node_type_fulfils", "vllm.placement_group_timeout"}},
        {"vllm/ray-2.50.1-driver-no-node-type.log", {"vllm.no_node_type_fulfils"}},
        {"vllm/public-vllm-23230-oom.log", {"vllm.out_of_memory"}},
        {"vllm/public-vllm-15598-ray-workers-oom.log", {"vllm.out_of_memory"}},
        {"vllm/public-vllm-783-oom-old-format.log", {"vllm.out_of_memory"}},
        {"vllm/public-vllm-10517-v0-kv-cache.log", {"vllm.kv_cache_too_small"}},
        {"vllm/public-vllm-25350-v1-kv-cache.log", {"vllm.kv_cache_too_small"}},
        {"vllm/public-aibrix-927-pg-wait.log", {"vllm.not_enough_gpus", "vllm.placement_group_waiting"}},
        {"vllm/public-gpustack-5509-pg-wait-engine-core.log", {"vllm.placement_group_waiting"}},
        {"vllm/public-ray-53192-no-node-type.log", {"vllm.no_node_type_fulfils"}},
        {"vllm/public-vllm-28873-local-world-size.log", {"vllm.not_enough_gpus"}},
        {"vllm/public-vllm-15217-world-size.log", {"vllm.not_enough_gpus"}},
        {"vllm/public-vllm-6956-driver-no-gpu.log", {"vllm.not_enough_gpus"}},
    };
    for (const auto& c : cases) {
        INFO(c.file);
        auto fs = diagnose(one(with_vllm("head", fixture(c.file))));
        auto got = ids(fs);
        std::sort(got.begin(), got.end());
        auto want = c.ids;
        std::sort(want.begin(), want.end());
        CHECK(got == want);
        for (const auto& f : fs) {
            CHECK_FALSE(f.evidence.empty());
            CHECK_FALSE(f.fix.empty());
        }
    }
    auto kv = parse_vllm_log(fixture("vllm/vllm-0.11.0-cpu-kv-cache-too-small.log"));
    CHECK(kv.estimated_max_model_len == 2097152);
    CHECK(kv.max_model_len == 4194304);
    CHECK(kv.engine_failed.has_value());
    auto v0 = parse_vllm_log(fixture("vllm/public-vllm-10517-v0-kv-cache.log"));
    CHECK(v0.kv_cache_tokens == 1478 * 16);
    CHECK(v0.max_concurrency == Approx(0.82));
    CHECK(v0.kv_cache_gib == Approx(2.89));
    auto pg = parse_vllm_log(fixture("vllm/vllm-0.11.0-placement-group-timeout.log"));
    CHECK(pg.requested_node_ips == std::vector<std::string>{"10.0.0.1"});
    CHECK(pg.placement_group_waiting.size() == 4);
    auto workers = parse_vllm_log(fixture("vllm/public-vllm-15598-ray-workers-oom.log"));
    CHECK(workers.ray_worker_ips == std::vector<std::string>{"192.168.10.60"});
    CHECK(workers.executor_backend == "ray");
    CHECK(workers.kv_cache_gib == Approx(21.20));
}

TEST_CASE("vLLM: the executor backend, and Ray expected for several nodes") {
    // vLLM 0.11's "non-default args" line, written here with the executor the plan would not want
    const std::string log =
        "(APIServer pid=1) INFO 11-28 00:57:27 [utils.py:233] non-default args: {'model_tag': 'm', 'tensor_parallel_size': 8, "
        "'pipeline_parallel_size': 2, 'distributed_executor_backend': 'mp'}\n";
    auto v = parse_vllm_log(log);
    CHECK(v.executor_backend == "mp");
    CHECK(v.tensor_parallel_size == 8);
    CHECK(v.pipeline_parallel_size == 2);
    auto fs = diagnose(one(with_vllm("head", log)), two_nodes_ib());
    REQUIRE(ids(fs) == std::vector<std::string>{"vllm.executor_not_ray"});
    CHECK(fs[0].level == severity::warning);
    CHECK(diagnose(one(with_vllm("head", replace_all(log, "'mp'", "'ray'"))), two_nodes_ib()).empty());
}

// --- RDMA, probe facts, several nodes --------------------------------------------------------

TEST_CASE("RDMA: planned InfiniBand missing or down, RoCE without a GID index, fabrics that differ") {
    const std::string ib = fixture("../fuzz/corpus/fuzz_ibv_devinfo/ib.txt");
    const std::string roce = fixture("../fuzz/corpus/fuzz_ibv_devinfo/roce.txt");
    auto ex = two_nodes_ib();
    node_evidence a, b;
    a.name = "gpu-a";
    a.ibv_devinfo = ib;
    b.name = "gpu-b";
    b.ibv_devinfo = "No IB devices found\n";
    evidence ev;
    ev.nodes = {a, b};
    auto fs = diagnose(ev, ex);
    auto* missing = find_id(fs, "rdma.missing");
    REQUIRE(missing != nullptr);
    CHECK(missing->node == "gpu-b");
    CHECK(missing->evidence == "No IB devices found");
    auto* differ = find_id(fs, "fabric.mismatch");
    REQUIRE(differ != nullptr);
    CHECK(differ->node.empty());
    CHECK_THAT(differ->evidence, Catch::Matchers::Contains("infiniband on gpu-a"));

    node_evidence r;
    r.name = "gpu-a";
    r.ibv_devinfo = roce;
    auto rf = diagnose(one(r), ex);
    CHECK(find_id(rf, "fabric.mismatch") != nullptr);  // IB planned, RoCE found
    auto* gid = find_id(rf, "roce.gid_index_unset");
    REQUIRE(gid != nullptr);
    CHECK_THAT(gid->fix, Catch::Matchers::Contains("on this node it is 3"));

    node_evidence sys;
    sys.name = "gpu-a";
    sys.sysfs = rdma_report{{rdma_port{"mlx5_0", 1, "DOWN", "InfiniBand", "", std::nullopt}}, false, false};
    auto down = diagnose(one(sys), ex);
    CHECK(find_id(down, "rdma.missing") != nullptr);
    auto* port = find_id(down, "rdma.port_down");
    REQUIRE(port != nullptr);
    CHECK(port->evidence == "mlx5_0 port 1 state: DOWN");

    // a hundred failed ports are reported, but not a hundred times
    for (int i = 1; i < 100; ++i) sys.sysfs->ports.push_back(rdma_port{"mlx5_" + std::to_string(i), 1, "DOWN", "InfiniBand", "", std::nullopt});
    auto many = diagnose(one(sys), ex);
    CHECK(std::count_if(many.begin(), many.end(), [](const finding& f) { return f.id == "rdma.port_down"; }) == 32);
}

TEST_CASE("NCCL on RDMA on one node and TCP on another is a fabric mismatch") {
    evidence ev;
    ev.nodes = {with_nccl("gpu-a", fixture("nccl/public-nccl-tests-185-roce.log")), with_nccl("gpu-b", fixture("gpu/nccl-socket-lo.log"))};
    auto fs = diagnose(ev);
    auto* m = find_id(fs, "fabric.mismatch");
    REQUIRE(m != nullptr);
    CHECK(m->source == "nccl_log");
    CHECK(m->evidence ==
          "gpu-a: dgxh100-4:460770:460842 [0] NCCL INFO Using network IB\ngpu-b: vm:692:692 [0] NCCL INFO Using network Socket");
    ev.nodes[1] = with_nccl("gpu-b", fixture("nccl/public-nccl-tests-185-roce.log"));
    CHECK(find_id(diagnose(ev), "fabric.mismatch") == nullptr);
}

TEST_CASE("probe facts: /dev/shm, the dashboard's listening address, /proc/net/tcp") {
    node_evidence n;
    n.name = "gpu-a";
    n.shm_bytes = 64ull << 20;  // Docker's default
    n.listening = std::vector<listening_socket>{{"127.0.0.1", 8265}, {"0.0.0.0", 6379}};
    auto fs = diagnose(one(n));
    REQUIRE(ids(fs) == std::vector<std::string>{"shm.too_small"});
    CHECK_THAT(fs[0].message, Catch::Matchers::Contains("64.0 MiB"));
    n.shm_bytes = 10ull << 30;
    n.listening->push_back({"::", 8265});
    auto open = diagnose(one(n));
    REQUIRE(ids(open) == std::vector<std::string>{"ray.dashboard_exposed"});
    CHECK(open[0].evidence == "LISTEN :::8265");

    auto head = parse_proc_net_tcp(fixture("ray/proc-net-tcp-ray-head.txt"));
    auto has = [&](const std::string& a, int p) {
        return std::any_of(head.begin(), head.end(), [&](const listening_socket& s) { return s.address == a && s.port == p; });
    };
    CHECK(has("127.0.0.1", 18302));  // the dashboard, bound to localhost
    CHECK(has("192.0.2.2", 18308));
    CHECK(has("0.0.0.0", 18309));
    CHECK(parse_proc_net_tcp("  0: 0000000000000000FFFF0000020200C0:4783 00000000000000000000000000000000:0000 0A 0 0 0\n")[0].address ==
          "::ffff:192.0.2.2");
    CHECK(is_loopback("127.0.0.1"));
    CHECK(is_loopback("::1"));
    CHECK_FALSE(is_loopback("0.0.0.0"));

    // a socket this test opens shows up in the kernel's table
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const int port = ntohs(addr.sin_port);
    auto live = parse_proc_net_tcp(read_text_file("/proc/net/tcp"));
    ::close(fd);
    CHECK(std::any_of(live.begin(), live.end(), [&](const listening_socket& s) { return s.address == "127.0.0.1" && s.port == port; }));
}

TEST_CASE("versions that differ between nodes are skew - Ray and vLLM skew is an error") {
    node_evidence a = with_nccl("gpu-a", fixture("gpu/nccl-default.log"));
    node_evidence b = with_nccl("gpu-b", fixture("nccl/public-nccl-tests-185-roce.log"));
    a.versions["ray"] = "2.50.1";
    b.versions["ray"] = "2.49.2";
    evidence ev;
    ev.nodes = {a, b};
    auto fs = diagnose(ev);
    std::vector<const finding*> skew;
    for (const auto& f : fs)
        if (f.id == "version.skew") skew.push_back(&f);
    REQUIRE(skew.size() == 2);
    CHECK(skew[0]->level == severity::error);  // errors sort first: ray
    CHECK(skew[0]->evidence == "ray gpu-a: 2.50.1; gpu-b: 2.49.2");
    CHECK(skew[1]->level == severity::warning);
    CHECK(skew[1]->evidence == "nccl gpu-a: 2.28.9+cuda13.0; gpu-b: 2.19.3+cuda12.3");
}

// --- expectations, inputs, output ------------------------------------------------------------

TEST_CASE("expectations from the inventory, and their validation") {
    const inventory inv = default_inventory();
    auto ex = expectations_for(inv.cluster, inv.network);
    CHECK(ex.nodes == 2);
    CHECK(ex.gpus == 16);
    CHECK(ex.fabric_kind == fabric::infiniband);
    CHECK(ex.interface == "bond0");
    REQUIRE(ex.node_list.size() == 2);
    CHECK(ex.node_list[1].address == "10.0.0.2");
    CHECK_NOTHROW(validate(ex));

    expectations e;
    e.nodes = -1;
    CHECK_DSDEPLOY_ERROR(validate(e), errc::diagnose_expectations, "expectations.nodes", "expect 0 or more");
    e = {};
    e.gpus = -2;
    CHECK_DSDEPLOY_ERROR(diagnose({}, e), errc::diagnose_expectations, "expectations.gpus", "-2 GPUs");
    e = {};
    e.max_model_len = 0;
    CHECK_DSDEPLOY_ERROR(validate(e), errc::diagnose_expectations, "expectations.max_model_len", "positive context length");
    e = {};
    e.dashboard_port = 70000;
    CHECK_DSDEPLOY_ERROR(validate(e), errc::diagnose_expectations, "expectations.dashboard_port", "not a TCP port");
    e = {};
    e.gid_index = 256;
    CHECK_DSDEPLOY_ERROR(validate(e), errc::diagnose_expectations, "expectations.gid_index", "0..255");
    e = {};
    e.interface = "bad/name";
    CHECK_DSDEPLOY_ERROR(validate(e), errc::diagnose_expectations, "expectations.interface", "not a Linux interface name");
    e = {};
    e.node_list = {{"a", "10.0.0.1", 8}, {"a", "10.0.0.2", 8}};
    CHECK_DSDEPLOY_ERROR(validate(e), errc::diagnose_expectations, "expectations.node_list[1].name", "listed twice");
    e.node_list = {{"", "10.0.0.1", 8}};
    CHECK_DSDEPLOY_ERROR(validate(e), errc::diagnose_expectations, "expectations.node_list[0].name", "needs a name");
    e.node_list = {{"a", "10.0.0.1 ; rm", 8}};
    CHECK_DSDEPLOY_ERROR(validate(e), errc::diagnose_expectations, "expectations.node_list[0].address", "not an IP address");
    e.node_list = {{"a", "10.0.0.1", -1}};
    CHECK_DSDEPLOY_ERROR(validate(e), errc::diagnose_expectations, "expectations.node_list[0].gpus", "expect 0 or more");
}

TEST_CASE("read_text_file: contents, and diagnose.input for what cannot be read") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("dsdeploy-diag-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "log.txt") << "hello\n";
    CHECK(read_text_file(dir / "log.txt") == "hello\n");
    CHECK_DSDEPLOY_ERROR(read_text_file(dir / "absent.log"), errc::diagnose_input, (dir / "absent.log").string(), "cannot be opened");
    CHECK_DSDEPLOY_ERROR(read_text_file(dir), errc::diagnose_input, dir.string(), "is a folder");
    std::ofstream(dir / "big.log") << std::string(3 << 20, 'x');
    CHECK_DSDEPLOY_ERROR(read_text_file(dir / "big.log", std::size_t{2} << 20), errc::diagnose_input, (dir / "big.log").string(),
                         "larger than 2 MiB");
    fs::remove_all(dir);
}

TEST_CASE("findings as text and JSON - a failed step's output lands in the right slots") {
    auto fs = diagnose(one(with_nccl("gpu-b", fixture("gpu/nccl-ib-requested-absent.log"))));
    const std::string text = to_text(fs);
    CHECK_THAT(text, Catch::Matchers::StartsWith("ERROR  nccl.ib_fallback_to_socket  [gpu-b, nccl_log]\n"));
    CHECK_THAT(text, Catch::Matchers::Contains("  evidence: vm:853:853 [0] NCCL INFO Using network Socket\n"));
    CHECK_THAT(text, Catch::Matchers::Contains("  fix:      Make the RDMA devices visible"));
    CHECK(to_text(std::vector<finding>{}) == "No findings.\n");
    CHECK(has_errors(fs));
    nlohmann::json j = fs[0];
    CHECK(j["id"] == "nccl.ib_fallback_to_socket");
    CHECK(j["severity"] == "error");
    CHECK(j["node"] == "gpu-b");
    CHECK(j["evidence"] == "vm:853:853 [0] NCCL INFO Using network Socket");

    // a vLLM log whose workers printed NCCL lines, as a bring-up step would capture it
    const std::string mixed = fixture("vllm/vllm-0.11.0-cpu-startup.log") + fixture("gpu/nccl-badhca.log");
    auto e = evidence_from_output("gpu-a", mixed);
    CHECK(e.vllm_log.has_value());
    CHECK(e.nccl_log.has_value());
    CHECK_FALSE(e.ray_status.has_value());
    CHECK(ids(diagnose(one(e))) == std::vector<std::string>{"nccl.socket_interface_missing"});
    auto r = evidence_from_output("gpu-a", fixture("ray/ray-2.50.1-2node-gpus.txt"));
    CHECK(r.ray_status.has_value());
    CHECK_FALSE(r.vllm_log.has_value());
    CHECK_FALSE(r.nccl_log.has_value());
}

TEST_CASE("failure lines are read wherever they appear, and harmless ones stay harmless") {
    SECTION("NCCL and Gloo lines inside a vLLM log") {
        const std::string log =
            "(RayWorkerWrapper pid=1394, ip=10.0.0.2) [E ProcessGroupNCCL.cpp:475] [Rank 3] Watchdog caught collective operation "
            "timeout: WorkNCCL(SeqNum=12, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran for 600123 milliseconds "
            "before timing out.\n";
        auto fs = diagnose(one(with_vllm("head", log)));
        REQUIRE_FALSE(fs.empty());
        CHECK(fs[0].id == "nccl.watchdog_timeout");
        CHECK(fs[0].source == "vllm_log");
        CHECK_THAT(fs[0].message, Catch::Matchers::Contains("ALLREDUCE") && Catch::Matchers::Contains("rank 3") &&
                                      Catch::Matchers::Contains("node 10.0.0.2") && Catch::Matchers::Contains("first collectives"));
        auto g = diagnose(one(with_vllm("head", "(RayWorkerWrapper pid=7, ip=10.0.0.3) RuntimeError: Gloo connectFullMesh failed with "
                                                 "[../third_party/gloo/gloo/transport/tcp/pair.cc:144] no error\nEngineCore failed to start.\n")));
        REQUIRE(ids(g) == std::vector<std::string>{"gloo.connect_full_mesh"});  // not vllm.engine_failed
        CHECK_THAT(g[0].message, Catch::Matchers::Contains("node 10.0.0.3"));
    }
    SECTION("Failed to open libibverbs is harmless without InfiniBand") {
        const std::string log = "h:1:1 [0] NCCL INFO Failed to open libibverbs.so[.1]\nh:1:1 [0] NCCL INFO NET/Socket : Using [0]eth0:172.17.0.2<0>\n";
        CHECK(find_id(diagnose(one(with_nccl("a", log))), "nccl.ibverbs_missing") == nullptr);
        expectations ex;
        ex.fabric_kind = fabric::infiniband;
        CHECK(find_id(diagnose(one(with_nccl("a", log)), ex), "nccl.ibverbs_missing") != nullptr);
    }
    SECTION("the CUDA-graph memory hint and a graph capture that finished are not an OOM during capture") {
        const std::string hint =
            "INFO 02-03 03:43:49 model_runner.py:629] CUDA graphs can take additional 1~3 GiB memory per GPU. If you are running out of "
            "memory, consider decreasing `gpu_memory_utilization` or enforcing eager mode.\n"
            "INFO 02-03 03:43:49 model_runner.py:625] Capturing the model for CUDA graphs.\n"
            "INFO 02-03 03:44:10 model_runner.py:700] Graph capturing finished in 21 secs.\n";
        CHECK(diagnose(one(with_vllm("a", hint))).empty());
        auto later = diagnose(one(with_vllm("a", hint + "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n")));
        CHECK(ids(later) == std::vector<std::string>{"vllm.out_of_memory"});
    }
    SECTION("the TP warning under Ray is info; with a pinned bundle of its own GPU node it is an IP mismatch") {
        auto tp = diagnose(one(with_vllm("a", "WARNING [ray_utils.py:556] Tensor parallel size (16) exceeds available GPUs (8).\n")));
        REQUIRE(ids(tp) == std::vector<std::string>{"vllm.ray_tp_exceeds_local_gpus"});
        CHECK(tp[0].level == severity::info);
        CHECK_FALSE(has_errors(tp));
        auto pinned = diagnose(one(with_vllm("a", "WARNING [ray_utils.py:556] Tensor parallel size (2) exceeds available GPUs (1).\n"
                                                   "[autoscaler] Error: No available node types can fulfill resource request\n"
                                                   "                     {'GPU': 1.0, 'node:192.0.2.7': 0.001}.\n")));
        REQUIRE(pinned.size() == 3);
        CHECK(pinned[0].id == "ray.node_ip_mismatch");
        CHECK_THAT(pinned[0].evidence, Catch::Matchers::Contains("node:192.0.2.7"));
        CHECK(pinned[1].id == "vllm.no_node_type_fulfils");
        CHECK(pinned[2].id == "vllm.ray_tp_exceeds_local_gpus");
    }
    SECTION("Ray's version check names what differs") {
        auto fs = diagnose(one(evidence_from_output("a", "RuntimeError: Version mismatch: The cluster was started with:\n    Ray: 2.43.0\n"
                                                         "    Python: 3.11.10\nThis process on node 10.0.0.9 was started with:\n"
                                                         "    Ray: 2.44.1\n    Python: 3.11.10\n")));
        REQUIRE(ids(fs) == std::vector<std::string>{"version.skew"});
        CHECK_THAT(fs[0].message, Catch::Matchers::Contains("Ray 2.43.0 (cluster) vs 2.44.1 (this process)") &&
                                      Catch::Matchers::Contains("10.0.0.9"));
    }
    SECTION("a text with nothing recognisable is said to be so") {
        CHECK(recognised_in("hello\nworld\n").empty());
        CHECK(recognised_in("NVRM: Xid (PCI:0000:02:00): 79, GPU has fallen off the bus.") == std::vector<std::string>{"log"});
        auto v = recognised_in(fixture("vllm/vllm-0.11.0-cpu-startup.log"));
        CHECK(std::find(v.begin(), v.end(), "vllm_log") != v.end());
    }
}

TEST_CASE("evidence lines are cleaned: colour codes removed, invalid UTF-8 replaced, long lines cut") {
    auto v = parse_vllm_log("\x1b[1;36m(APIServer pid=1)\x1b[0;0m ERROR CUDA out of memory \xff\xfe " + std::string(1000, 'x') + "\n");
    REQUIRE(v.out_of_memory.size() == 1);
    const auto& t = v.out_of_memory[0].text;
    CHECK_THAT(t, Catch::Matchers::StartsWith("(APIServer pid=1) ERROR CUDA out of memory ?? xxx"));
    CHECK(t.size() == 403);
    CHECK_THAT(t, Catch::Matchers::EndsWith("..."));
    nlohmann::json j = diagnose(one(with_vllm("a", "CUDA out of memory \xc3\x28")))[0];
    CHECK_NOTHROW(j.dump());
}

TEST_CASE("no parser throws on arbitrary bytes") {
    std::mt19937 rng(12345);
    const std::vector<std::string> seeds = {fixture("gpu/nccl-ib-requested-absent.log"), fixture("ray/ray-2.50.1-2node-pending-verbose.txt"),
                                            fixture("gpu/nvidia-smi.txt"), fixture("vllm/vllm-0.11.0-placement-group-timeout.log"),
                                            fixture("ray/ray-2.50.1-list-nodes-2.txt"), fixture("gpu/nvidia-smi-topo.txt")};
    for (int round = 0; round < 300; ++round) {
        std::string s = seeds[static_cast<std::size_t>(round) % seeds.size()];
        for (int k = 0; k < 20 && !s.empty(); ++k) s[rng() % s.size()] = static_cast<char>(rng() % 256);
        s = s.substr(0, rng() % (s.size() + 1));
        node_evidence n = evidence_from_output("x", s);
        n.nvidia_smi_topo = s;
        n.ray_list_nodes = s;
        n.ibv_devinfo = s;
        evidence ev;
        ev.nodes = {n, n};
        CHECK_NOTHROW(diagnose(ev, two_nodes_ib()));
        CHECK_NOTHROW(parse_proc_net_tcp(s));
    }
}

// --- local probes ----------------------------------------------------------------------------

TEST_CASE("probe_local keeps a tool's stdout and stderr, and names one that does not answer in time") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("dsdeploy-probe-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto script = [&](const std::string& name, const std::string& body) {
        const fs::path p = dir / name;
        std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
        fs::permissions(p, fs::perms::owner_all);
        return p.string();
    };
    probe_options o;
    o.ibv_devinfo = script("ibv_devinfo", "echo 'hca_id:\tmlx5_0'; echo 'warning: on stderr' >&2; exit 3");
    o.nvidia_smi = script("nvidia-smi", "sleep 30");
    o.ray = "/nonexistent/ray";
    o.ray_address = "127.0.0.1:1";
    o.sysfs_root = dir / "no-sysfs";
    o.timeout = std::chrono::seconds(3);
    auto r = probe_local("here", o);
    fs::remove_all(dir);
    REQUIRE(r.evidence.ibv_devinfo);
    CHECK(*r.evidence.ibv_devinfo == "hca_id:\tmlx5_0\nwarning: on stderr\n");
    CHECK_FALSE(r.evidence.nvidia_smi);
    CHECK_THAT(detail::join(r.unavailable, "\n"), Catch::Matchers::Contains("nvidia-smi: no answer within 3 s"));
}

TEST_CASE("probe_local runs what exists and says what does not") {
    namespace fs = std::filesystem;
    probe_options o;
    o.ibv_devinfo = "/nonexistent/ibv_devinfo";
    o.nvidia_smi = "/nonexistent/nvidia-smi";
    o.ray = "/nonexistent/ray";
    o.ray_address = "127.0.0.1:1";
    o.sysfs_root = fs::temp_directory_path() / "dsdeploy-no-such-sysfs";
    auto r = probe_local("here", o);
    CHECK(r.evidence.name == "here");
    CHECK_FALSE(r.evidence.ibv_devinfo);
    CHECK_FALSE(r.evidence.nvidia_smi);
    CHECK_FALSE(r.evidence.ray_status);
    REQUIRE(r.evidence.sysfs);
    CHECK(r.evidence.sysfs->no_devices);
    REQUIRE(r.evidence.shm_bytes);
    CHECK(*r.evidence.shm_bytes > 0);
    REQUIRE(r.evidence.listening);
    const std::string all = detail::join(r.unavailable, "\n");
    CHECK_THAT(all, Catch::Matchers::Contains("ibv_devinfo: /nonexistent/ibv_devinfo is not installed"));
    CHECK_THAT(all, Catch::Matchers::Contains("nvidia-smi: /nonexistent/nvidia-smi is not installed"));
    CHECK_THAT(all, Catch::Matchers::Contains("ray status: /nonexistent/ray is not installed"));
    // what the probe found can be judged like any other evidence
    CHECK_NOTHROW(diagnose(one(r.evidence)));
}

// --- Streaming input (issue 15, item 3): any size, bounded memory --------------------------------

namespace {

// Every line the splitter gives for `text` fed in chunks of `chunk` bytes.
std::vector<std::string> split_in_chunks(std::string_view text, std::size_t chunk, std::size_t max_line = detail::line_splitter::default_max_line) {
    detail::line_splitter s(max_line);
    std::vector<std::string> out;
    auto one = [&out](std::string_view l) { out.emplace_back(l); };
    for (std::size_t i = 0; i < text.size(); i += chunk) s.feed(text.substr(i, chunk), one);
    s.finish(one);
    return out;
}

// The findings' ids, messages and evidence, for comparing two ways of reading one input.
std::vector<std::string> described(const std::vector<finding>& fs) {
    std::vector<std::string> out;
    for (const auto& f : fs) out.push_back(f.id + " | " + f.node + " | " + f.message + " | " + f.evidence);
    return out;
}

// A log fed to log_reader in chunks of `chunk` bytes.
log_digest read_in_chunks(const std::string& source, std::string_view text, std::size_t chunk) {
    log_reader r(source);
    for (std::size_t i = 0; i < text.size(); i += chunk) r.feed(text.substr(i, chunk));
    return r.finish();
}

}  // namespace

TEST_CASE("line_splitter: LF, CRLF, bare CR and mixed endings give the same lines for every chunk size") {
    const std::string text = "one\ntwo\r\nthree\rfour\r\r\nfive\n\nsix";
    const std::vector<std::string> want = {"one", "two", "three", "four", "", "five", "", "six"};
    for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
        INFO("chunk " << chunk);
        CHECK(split_in_chunks(text, chunk) == want);
    }
    // a CRLF whose CR ends one chunk and whose LF starts the next is one line ending
    CHECK(split_in_chunks("a\r\nb", 2) == std::vector<std::string>{"a", "b"});
    // a final line ending does not make an empty last line; an empty input has no line
    CHECK(split_in_chunks("a\n", 1) == std::vector<std::string>{"a"});
    CHECK(split_in_chunks("a\r", 1) == std::vector<std::string>{"a"});
    CHECK(split_in_chunks("", 1).empty());
    CHECK(split_in_chunks("\n", 1) == std::vector<std::string>{""});
}

TEST_CASE("line_splitter: a UTF-8 BOM at the start is dropped, also when it arrives in pieces, elsewhere it stays") {
    const std::string bom = "\xEF\xBB\xBF";
    for (std::size_t chunk = 1; chunk <= 5; ++chunk) CHECK(split_in_chunks(bom + "NCCL INFO x\n" + bom + "y\n", chunk) == std::vector<std::string>{"NCCL INFO x", bom + "y"});
    CHECK(split_in_chunks(bom, 1) == std::vector<std::string>{""});
}

TEST_CASE("line_splitter: a line longer than the chunk is whole, one longer than max_line is cut, counted, and the next is intact") {
    const std::string longer(10000, 'x');
    CHECK(split_in_chunks(longer + "\nnext", 7) == std::vector<std::string>{longer, "next"});
    detail::line_splitter s(100);
    std::vector<std::string> got;
    auto one = [&got](std::string_view l) { got.emplace_back(l); };
    const std::string text = std::string(250, 'a') + "\r\n" + std::string(100, 'b') + "\nshort\n" + std::string(101, 'c');
    for (std::size_t i = 0; i < text.size(); i += 33) s.feed(std::string_view(text).substr(i, 33), one);
    s.finish(one);
    REQUIRE(got.size() == 4);
    CHECK(got[0] == std::string(100, 'a'));
    CHECK(got[1] == std::string(100, 'b'));
    CHECK(got[2] == "short");
    CHECK(got[3] == std::string(100, 'c'));
    CHECK(s.truncated() == 2);
    CHECK(s.lines() == 4);
    CHECK(s.bytes() == text.size());
}

TEST_CASE("colour codes, a BOM and any line ending leave the parsers' reports and the findings unchanged") {
    const std::string plain = fixture("gpu/nccl-ib-requested-absent.log") + fixture("vllm/vllm-0.11.0-cpu-kv-cache-too-small.log");
    // the same lines coloured (SGR), with CRLF, bare CR and a BOM
    std::string dressed = "\xEF\xBB\xBF";
    std::size_t n = 0;
    for (auto l : detail::split_lines(plain)) {
        dressed += n % 2 ? "\x1b[1;36m" + std::string(l) + "\x1b[0m" : std::string(l);
        dressed += n % 3 == 0 ? "\r\n" : n % 3 == 1 ? "\r" : "\n";
        ++n;
    }
    auto nccl_a = parse_nccl_log(plain), nccl_b = parse_nccl_log(dressed);
    CHECK(nccl_a.recognised);
    CHECK(nccl_b.networks == nccl_a.networks);
    CHECK(nccl_b.env == nccl_a.env);
    CHECK(nccl_b.processes.size() == nccl_a.processes.size());
    auto vllm_a = parse_vllm_log(plain), vllm_b = parse_vllm_log(dressed);
    CHECK(vllm_a.recognised);
    CHECK(vllm_b.version == vllm_a.version);
    CHECK(vllm_b.kv_cache_error.has_value() == vllm_a.kv_cache_error.has_value());
    node_evidence a, b;
    a.name = b.name = "gpu-a";
    a.vllm_log = plain;
    b.vllm_log = dressed;
    const auto fa = diagnose(one(a)), fb = diagnose(one(b));
    CHECK_FALSE(fa.empty());
    CHECK(described(fb) == described(fa));
}

TEST_CASE("log_reader: a log fed in chunks of any size is judged as the whole text is") {
    for (const std::string name : {"vllm/public-vllm-15598-ray-workers-oom.log", "vllm/vllm-0.11.0-placement-group-timeout.log",
                                   "vllm/public-ray-53192-no-node-type.log", "gpu/nccl-badhca.log", "nccl/public-nccl-tests-185-roce.log"}) {
        INFO(name);
        const std::string text = fixture(name);
        node_evidence whole;
        whole.name = "gpu-a";
        whole.vllm_log = text;
        const auto want = described(diagnose(one(whole)));
        CHECK_FALSE(want.empty());
        for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, text.size() + 1}) {
            INFO("chunk " << chunk);
            node_evidence streamed;
            streamed.name = "gpu-a";
            streamed.streamed.push_back(read_in_chunks("vllm_log", text, chunk));
            CHECK(streamed.streamed.back().lines == detail::split_lines(text).size());
            CHECK(described(diagnose(one(streamed))) == want);
        }
    }
}

TEST_CASE("log_reader: an empty input, and a file read in small chunks past any size limit") {
    auto empty = read_in_chunks("log", "", 1);
    CHECK(empty.lines == 0);
    CHECK_FALSE(empty.recognised());
    node_evidence n;
    n.name = "gpu-a";
    n.streamed.push_back(empty);
    CHECK(diagnose(one(n)).empty());

    // read_file_chunks and feed_file with a chunk far smaller than the file: the NCCL fallback at its end is found
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("dsdeploy-stream-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string tail = fixture("gpu/nccl-ib-requested-absent.log");
    {
        std::ofstream out(dir / "big.log", std::ios::binary);
        for (int i = 0; i < 20000; ++i) out << "INFO 12-03 07:00:00 filler line " << i << " without anything to judge\r\n";
        out << tail;
    }
    const auto size = std::filesystem::file_size(dir / "big.log");
    log_reader r("nccl_log");
    r.feed_file(dir / "big.log", 4093);
    auto g = r.finish();
    CHECK(g.bytes == size);
    CHECK(g.lines == 20000 + detail::split_lines(tail).size());
    CHECK(g.nccl.recognised);
    node_evidence big;
    big.name = "gpu-a";
    big.streamed.push_back(std::move(g));
    expectations ex;
    ex.fabric_kind = fabric::infiniband;
    auto fs = diagnose(one(big), ex);
    REQUIRE(find_id(fs, "nccl.ib_fallback_to_socket"));
    CHECK(find_id(fs, "nccl.ib_fallback_to_socket")->source == "nccl_log");
    CHECK_DSDEPLOY_ERROR(r.feed_file(dir / "absent.log"), errc::diagnose_input, (dir / "absent.log").string(), "cannot be opened");
    std::filesystem::remove_all(dir);
}

TEST_CASE("40,000 distinct node IPs in placement requests: bounded lists, the findings capped with a count of the rest") {
    std::string text;
    auto ip = [](int i) { return "10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256); };
    for (int i = 0; i < 40000; ++i)
        text += "(autoscaler +" + std::to_string(i) + "s) Error: No available node types can fulfill resource request {'GPU': 1.0, 'node:" + ip(i) +
                "': 0.001}. Add suitable node types to this cluster to resolve this issue.\n";
    for (const bool streamed : {false, true}) {
        INFO((streamed ? "log_reader" : "parse_vllm_log"));
        const vllm_report v = streamed ? read_in_chunks("vllm_log", text, 65536).vllm : parse_vllm_log(text);
        REQUIRE(v.requested_node_ips.size() == vllm_log_parser::max_requested_ips);
        CHECK(v.requested_node_ips.front() == "10.0.0.0");
        CHECK(v.requested_node_ips.back() == ip(255));
        CHECK(v.requested_node_ips_not_kept == 40000 - vllm_log_parser::max_requested_ips);
        CHECK(v.no_node_type.size() == 100);
    }
    node_evidence n;
    n.name = "gpu-a";
    n.streamed.push_back(read_in_chunks("vllm_log", text, 1 << 20));
    expectations ex;
    ex.node_list = {{"gpu-a", "10.200.0.1", 8}, {"gpu-b", "10.200.0.2", 8}};
    const auto fs = diagnose(one(n), ex);
    std::vector<const finding*> mismatches;
    for (const auto& f : fs)
        if (f.id == "ray.node_ip_mismatch") mismatches.push_back(&f);
    REQUIRE(mismatches.size() == 32);
    CHECK(mismatches.front()->message.find("node:10.0.0.0 but that is not any planned node address") != std::string::npos);
    // the 224 other kept IPs beyond the cap, and the 39,744 not kept, are counted on the last one
    CHECK(mismatches.back()->message.find("(" + std::to_string(40000 - 32) + " more like this not shown)") != std::string::npos);
    CHECK(find_id(fs, "vllm.no_node_type_fulfils"));
}

}  // namespace diagnose_test
