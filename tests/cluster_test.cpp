// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/cluster.hpp>

#include "test_support.hpp"

namespace cluster_test {

using namespace dsdeploy;

namespace {
cluster two_nodes() {
    cluster c;
    c.nodes = {node{"a", "10.0.0.1", node_role::head, "L20", 8, {}, "", ""},
               node{"b", "10.0.0.2", node_role::worker, "L20", 8, {}, "", ""}};
    return c;
}
}  // namespace

TEST_CASE("a valid two-node cluster passes and reports its head and GPUs") {
    cluster c = two_nodes();
    REQUIRE_NOTHROW(validate(c));
    CHECK(c.head().name == "a");
    CHECK(c.total_gpus() == 16);
    c.nodes[1].gpu_ids = {0, 2, 4, 6};
    c.nodes[1].gpu_count = 0;
    CHECK(c.total_gpus() == 12);
    CHECK(c.nodes[1].device_ids() == std::vector<int>{0, 2, 4, 6});
    CHECK(c.nodes[0].device_ids().size() == 8);
}

TEST_CASE("addresses are classified as IPv4 - IPv6 - hostname or invalid") {
    CHECK(classify_address("10.0.0.1") == address_kind::ipv4);
    CHECK(classify_address("fd00::1") == address_kind::ipv6);
    CHECK(classify_address("[fd00::1]") == address_kind::ipv6);
    CHECK(classify_address("gpu-a.cluster.local") == address_kind::hostname);
    CHECK(classify_address("10.0.0.300") == address_kind::invalid);
    CHECK(classify_address("") == address_kind::invalid);
    CHECK(classify_address("host name") == address_kind::invalid);
    CHECK(classify_address("-bad.example") == address_kind::invalid);
    CHECK(classify_address("$(reboot)") == address_kind::invalid);
    CHECK(is_ip_address("192.168.1.7"));
    CHECK_FALSE(is_ip_address("gpu-a"));
}

TEST_CASE("cluster.empty") {
    CHECK_DSDEPLOY_ERROR(validate(cluster{}), errc::cluster_empty, "nodes", "at least the head");
}

TEST_CASE("cluster.head: none or two heads") {
    cluster c = two_nodes();
    c.nodes[0].role = node_role::worker;
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_head, "nodes", "exactly one node");
    c.nodes[0].role = node_role::head;
    c.nodes[1].role = node_role::head;
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_head, "nodes[1].role", "nodes[0] is already the head");
}

TEST_CASE("cluster.name and cluster.duplicate_name") {
    cluster c = two_nodes();
    c.nodes[1].name = "bad name";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_name, "nodes[1].name", "\"bad name\" is not a valid node name");
    c.nodes[1].name = "a";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_duplicate_name, "nodes[1].name", "already the name of nodes[0]");
}

TEST_CASE("cluster.address and cluster.duplicate_address") {
    cluster c = two_nodes();
    c.nodes[1].address = "10.0.0.256";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_address, "nodes[1].address", "not an IPv4 address, IPv6 address or hostname");
    c.nodes[1].address = "10.0.0.1";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_duplicate_address, "nodes[1].address", "already the address of nodes[0] (a)");
}

TEST_CASE("cluster.gpu_count and cluster.gpu_ids") {
    cluster c = two_nodes();
    c.nodes[0].gpu_count = -1;
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_gpu_count, "nodes[0].gpu_count", "use 0 (CPU only) to 64");
    c.nodes[0].gpu_count = 4;
    c.nodes[0].gpu_ids = {0, 1};
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_gpu_count, "nodes[0].gpu_count", "disagrees with the 2 device ids");
    c.nodes[0].gpu_count = 0;
    c.nodes[0].gpu_ids = {0, 1, 1};
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_gpu_ids, "nodes[0].gpu_ids[2]", "listed twice");
    c.nodes[0].gpu_ids = {0, -3};
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_gpu_ids, "nodes[0].gpu_ids[1]", "not a CUDA device id");
    c.nodes[0].gpu_ids = {};
    c.nodes[0].gpu_count = 8;
    c.nodes[0].gpu_type = "";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_gpu_count, "nodes[0].gpu_type", "no gpu_type");
}

TEST_CASE("cluster.ssh rejects option injection and whitespace") {
    cluster c = two_nodes();
    c.nodes[1].ssh = "-oProxyCommand=touch /tmp/x";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_ssh, "nodes[1].ssh", "not starting with '-'");
    c.nodes[1].ssh = "root@gpu b";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_ssh, "nodes[1].ssh", "without spaces");
    c.nodes[1].ssh = "root@gpu-b";
    CHECK_NOTHROW(validate(c));
}

TEST_CASE("cluster.interface") {
    cluster c = two_nodes();
    c.nodes[0].interface = "a-very-long-interface-name";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_interface, "nodes[0].interface", "1-15 characters");
}

TEST_CASE("cluster.duplicate_address compares parsed addresses, not their spelling") {
    cluster c = two_nodes();
    c.nodes[0].address = "fd00::1";
    for (const char* same : {"fd00:0:0::1", "FD00::1", "[fd00::1]", "fd00:0000:0000:0000:0000:0000:0000:0001"}) {
        c.nodes[1].address = same;
        CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_duplicate_address, "nodes[1].address",
                             "is already the address of nodes[0] (a, written \"fd00::1\")");
    }
    c.nodes[1].address = "fd00::2";
    CHECK_NOTHROW(validate(c));
    c.nodes[0].address = "10.0.0.1";
    c.nodes[1].address = "::ffff:10.0.0.1";  // the IPv4-mapped form of the same host
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_duplicate_address, "nodes[1].address", "already the address of nodes[0]");
    c.nodes[0].address = "gpu-a.example";
    c.nodes[1].address = "GPU-A.example.";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_duplicate_address, "nodes[1].address", "already the address of nodes[0]");
}

TEST_CASE("cluster.address refuses IPv4 parts with leading zeros and says what would be right") {
    cluster c = two_nodes();
    c.nodes[1].address = "010.0.0.1";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_address, "nodes[1].address", "\"010.0.0.1\" is ambiguous");
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_address, "nodes[1].address", "without leading zeros (e.g. \"10.0.0.1\")");
    c.nodes[1].address = "10.0.0.02";
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_address, "nodes[1].address", "(e.g. \"10.0.0.2\")");
    c.nodes[1].address = "10.0.0.0300";  // four digits: not the form, just invalid
    CHECK_DSDEPLOY_ERROR(validate(c), errc::cluster_address, "nodes[1].address", "not an IPv4 address");
    c.nodes[1].address = "10.0.0.2";
    CHECK_NOTHROW(validate(c));
}

}  // namespace cluster_test
