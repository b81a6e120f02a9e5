// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/network.hpp>
#include <dsdeploy/detail/text.hpp>

#include "test_support.hpp"

#include <filesystem>
#include <fstream>
#include <map>

namespace network_test {

using namespace dsdeploy;

namespace {
std::map<std::string, std::string> as_map(const env_list& env) {
    std::map<std::string, std::string> m;
    for (const auto& [k, v] : env) m[k] = v;
    return m;
}
node worker() { return node{"gpu-b", "10.0.0.2", node_role::worker, "L20", 8, {}, "", ""}; }

const char* ib_devinfo = "hca_id:\tmlx5_0\n"
                         "\ttransport:\t\t\tInfiniBand (0)\n"
                         "\tfw_ver:\t\t\t\t28.39.2048\n"
                         "\tphys_port_cnt:\t\t\t1\n"
                         "\t\tport:\t1\n"
                         "\t\t\tstate:\t\t\tPORT_ACTIVE (4)\n"
                         "\t\t\tmax_mtu:\t\t4096 (5)\n"
                         "\t\t\tsm_lid:\t\t\t1\n"
                         "\t\t\tport_lid:\t\t17\n"
                         "\t\t\tlink_layer:\t\tInfiniBand\n"
                         "\n"
                         "hca_id:\tmlx5_3\n"
                         "\ttransport:\t\t\tInfiniBand (0)\n"
                         "\t\tport:\t1\n"
                         "\t\t\tstate:\t\t\tPORT_ACTIVE (4)\n"
                         "\t\t\tlink_layer:\t\tInfiniBand\n";

const char* roce_devinfo = "hca_id:\tmlx5_2\n"
                           "\ttransport:\t\t\tInfiniBand (0)\n"
                           "\t\tport:\t1\n"
                           "\t\t\tstate:\t\t\tPORT_ACTIVE (4)\n"
                           "\t\t\tsm_lid:\t\t\t0\n"
                           "\t\t\tlink_layer:\t\tEthernet\n"
                           "\t\t\tGID[  0]:\t\tfe80:0000:0000:0000:0e42:a1ff:fe75:3272, RoCE v1\n"
                           "\t\t\tGID[  1]:\t\tfe80:0000:0000:0000:0e42:a1ff:fe75:3272, RoCE v2\n"
                           "\t\t\tGID[  3]:\t\t0000:0000:0000:0000:0000:ffff:0a00:0002, RoCE v2\n"
                           "\n"
                           "hca_id:\tmlx5_3\n"
                           "\t\tport:\t1\n"
                           "\t\t\tstate:\t\t\tPORT_DOWN (1)\n"
                           "\t\t\tlink_layer:\t\tEthernet\n";
}  // namespace

TEST_CASE("InfiniBand environment: exact NCCL/GLOO/TP/UCX variables and VLLM_HOST_IP per node") {
    network_profile p;
    p.kind = fabric::infiniband;
    p.interface = "bond0";
    p.hcas = {"mlx5_0", "mlx5_3"};
    const env_list env = node_environment(p, worker());
    const env_list expected = {
        {"VLLM_HOST_IP", "10.0.0.2"},       {"NCCL_SOCKET_IFNAME", "=bond0"}, {"GLOO_SOCKET_IFNAME", "bond0"},
        {"TP_SOCKET_IFNAME", "bond0"},      {"NCCL_IB_DISABLE", "0"},         {"NCCL_IB_HCA", "=mlx5_0,mlx5_3"},
        {"UCX_NET_DEVICES", "mlx5_0:1,mlx5_3:1"},
    };
    CHECK(env == expected);
}

TEST_CASE("RoCE environment carries the GID index and IB timeout - TCP disables IB") {
    network_profile p;
    p.kind = fabric::roce;
    p.interface = "ens1f0";
    p.hcas = {"mlx5_2:1"};
    p.gid_index = 3;
    p.ib_timeout = 22;
    p.nccl_debug = true;
    p.extra_env = {{"NCCL_IB_QPS_PER_CONNECTION", "4"}};
    auto m = as_map(node_environment(p, worker()));
    CHECK(m["NCCL_IB_GID_INDEX"] == "3");
    CHECK(m["NCCL_IB_TIMEOUT"] == "22");
    CHECK(m["NCCL_IB_HCA"] == "=mlx5_2:1");
    CHECK(m["UCX_NET_DEVICES"] == "mlx5_2:1");
    CHECK(m["NCCL_DEBUG"] == "INFO");
    CHECK(m["NCCL_IB_QPS_PER_CONNECTION"] == "4");

    network_profile tcp;
    tcp.interface = "eth0";
    node n = worker();
    n.interface = "eth1";  // a node's own interface wins
    auto t = as_map(node_environment(tcp, n));
    CHECK(t["NCCL_IB_DISABLE"] == "1");
    CHECK(t["NCCL_SOCKET_IFNAME"] == "=eth1");
    CHECK(t["GLOO_SOCKET_IFNAME"] == "eth1");
    CHECK(t.count("NCCL_IB_HCA") == 0);
}

TEST_CASE("network errors name the field and what would be right") {
    network_profile p;
    p.interface = "bond0";
    p.kind = fabric::tcp;
    p.hcas = {"mlx5_0"};
    CHECK_DSDEPLOY_ERROR(validate(p), errc::network_hca, "network.hcas", "fabric is \"tcp\"");
    p.kind = fabric::infiniband;
    p.hcas = {"mlx5 0"};
    CHECK_DSDEPLOY_ERROR(validate(p), errc::network_hca, "network.hcas[0]", "not an RDMA device name");
    p.hcas = {"mlx5_0"};
    p.gid_index = 3;
    CHECK_DSDEPLOY_ERROR(validate(p), errc::network_gid_index, "network.gid_index", "only applies to RoCE");
    p.kind = fabric::roce;
    p.gid_index = 300;
    CHECK_DSDEPLOY_ERROR(validate(p), errc::network_gid_index, "network.gid_index", "use 0..255");
    p.gid_index = 3;
    p.ib_timeout = 40;
    CHECK_DSDEPLOY_ERROR(validate(p), errc::network_ib_timeout, "network.ib_timeout", "use 1..31");
    p.ib_timeout.reset();
    p.extra_env = {{"1BAD", "x"}};
    CHECK_DSDEPLOY_ERROR(validate(p), errc::network_env_name, "network.env[0]", "not an environment variable name");
    p.extra_env = {{"GOOD", "a\nb"}};
    CHECK_DSDEPLOY_ERROR(validate(p), errc::network_env_name, "network.env.GOOD", "line break");
    p.extra_env = {{"VLLM_HOST_IP", "1.2.3.4"}};
    CHECK_DSDEPLOY_ERROR(validate(p), errc::network_env_reserved, "network.env.VLLM_HOST_IP", "derived from the inventory");
    p.extra_env.clear();
    p.interface = "bad/name";
    CHECK_DSDEPLOY_ERROR(validate(p), errc::network_interface, "network.interface", "not a Linux interface name");
    p.interface = "";
    CHECK_DSDEPLOY_ERROR(node_environment(p, worker(), "nodes[1]"), errc::network_interface, "network.interface", "holds 10.0.0.2");
    p.interface = "bond0";
    node h = worker();
    h.address = "gpu-b.example";
    CHECK_DSDEPLOY_ERROR(node_environment(p, h, "nodes[1]"), errc::network_host_ip, "nodes[1].address", "need the IP address");
}

TEST_CASE("ibv_devinfo: InfiniBand - RoCE and no devices") {
    auto ib = parse_ibv_devinfo(ib_devinfo);
    REQUIRE(ib.ports.size() == 2);
    CHECK(ib.ports[0].device == "mlx5_0");
    CHECK(ib.ports[0].state == "ACTIVE");
    CHECK(ib.ports[0].link_layer == "InfiniBand");
    auto d = detect_profile(ib, "bond0");
    CHECK(d.profile.kind == fabric::infiniband);
    CHECK(d.profile.hcas == std::vector<std::string>{"mlx5_0", "mlx5_3"});
    CHECK(d.profile.interface == "bond0");

    auto roce = parse_ibv_devinfo(roce_devinfo);
    REQUIRE(roce.ports.size() == 2);
    CHECK(roce.ports[0].roce_v2_gid_index == 1);
    auto r = detect_profile(roce, "ens1f0");
    CHECK(r.profile.kind == fabric::roce);
    CHECK(r.profile.hcas == std::vector<std::string>{"mlx5_2"});  // mlx5_3 is down
    CHECK(r.profile.gid_index == 1);
    CHECK_THAT(detail::join(r.notes, "|"), Catch::Matchers::Contains("mlx5_3 port 1 is DOWN"));

    auto none = parse_ibv_devinfo("No IB devices found\n");
    CHECK(none.no_devices);
    CHECK(detect_profile(none, "eth0").profile.kind == fabric::tcp);
    CHECK(parse_ibv_devinfo("Failed to get IB devices list: Function not implemented\n").no_devices);
    auto missing = parse_ibv_devinfo(dsdeploy_test::fixture("gpu/net-probe.txt"));
    CHECK(missing.ports.empty());
    auto missing2 = parse_ibv_devinfo("bash: ibv_devinfo: command not found\n");
    CHECK(missing2.tool_missing);
    CHECK_THAT(detect_profile(missing2, "eth0").notes[0], Catch::Matchers::Contains("not installed"));
}

TEST_CASE("a /sys/class/infiniband tree is read like the kernel writes it") {
    namespace fs = std::filesystem;
    const fs::path root = fs::temp_directory_path() / ("dsdeploy-sysfs-" + std::to_string(::getpid()));
    fs::remove_all(root);
    auto put = [&](const fs::path& rel, const std::string& text) {
        fs::create_directories((root / rel).parent_path());
        std::ofstream(root / rel) << text << "\n";
    };
    put("mlx5_0/ports/1/state", "4: ACTIVE");
    put("mlx5_0/ports/1/link_layer", "Ethernet");
    put("mlx5_0/ports/1/gid_attrs/types/0", "IB/RoCE v1");
    put("mlx5_0/ports/1/gid_attrs/types/3", "RoCE v2");
    put("mlx5_0/ports/1/gid_attrs/ndevs/3", "ens1f0np0");
    put("mlx5_1/ports/1/state", "1: DOWN");
    put("mlx5_1/ports/1/link_layer", "Ethernet");
    auto report = read_sysfs_infiniband(root);
    REQUIRE(report.ports.size() == 2);
    CHECK(report.ports[0].roce_v2_gid_index == 3);
    CHECK(report.ports[0].netdev == "ens1f0np0");
    auto d = detect_profile(report, "ens1f0np0");
    CHECK(d.profile.kind == fabric::roce);
    CHECK(d.profile.gid_index == 3);
    CHECK(d.profile.hcas == std::vector<std::string>{"mlx5_0"});
    CHECK(read_sysfs_infiniband(root / "absent").no_devices);
    put("not-a-dir", "x");
    CHECK_DSDEPLOY_ERROR(read_sysfs_infiniband(root / "not-a-dir"), errc::network_sysfs, (root / "not-a-dir").string(),
                         "cannot list the RDMA devices");
    fs::remove_all(root);
}

TEST_CASE("nodes that disagree fall back to what they all support - with a warning") {
    auto ib = detect_profile(parse_ibv_devinfo(ib_devinfo), "bond0");
    auto roce = detect_profile(parse_ibv_devinfo(roce_devinfo), "bond0");
    auto tcp = detect_profile(parse_ibv_devinfo("No IB devices found"), "bond0");

    auto same = agree({{"a", ib}, {"b", ib}});
    CHECK(same.profile.kind == fabric::infiniband);
    CHECK(same.warnings.empty());

    auto mixed = agree({{"a", ib}, {"b", tcp}});
    CHECK(mixed.profile.kind == fabric::tcp);
    REQUIRE(mixed.warnings.size() == 1);
    CHECK_THAT(mixed.warnings[0], Catch::Matchers::Contains("infiniband on a; tcp on b"));

    auto ib_roce = agree({{"a", ib}, {"b", roce}});
    CHECK(ib_roce.profile.kind == fabric::tcp);

    auto partial = ib;
    partial.profile.hcas = {"mlx5_0"};
    auto some = agree({{"a", ib}, {"b", partial}});
    CHECK(some.profile.kind == fabric::infiniband);
    CHECK(some.profile.hcas == std::vector<std::string>{"mlx5_0"});
    REQUIRE(some.warnings.size() == 1);
    CHECK_THAT(some.warnings[0], Catch::Matchers::Contains("only mlx5_0 exist on every node"));
}

}  // namespace network_test
