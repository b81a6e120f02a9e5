// SPDX-License-Identifier: Apache-2.0
// Renders and writes the bundle of an N-node inventory (default 1,000) several times and prints
// the time of each phase: plan, render_bundle, write_bundle (temporary folder, one syncfs, rename).
// The first run warms the caches and is not counted.
//
//   render_nodes [--nodes N] [--runs R] [--out DIR]
//
// DIR is where bundles are written (default /dev/shm); each run writes a fresh bundle there and
// the benchmark removes it afterwards, outside the timed region. BENCHMARKS.md has the figures.
#include <dsdeploy/bundle.hpp>
#include <dsdeploy/inventory.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {
dsdeploy::inventory many_nodes(int count) {
    using namespace dsdeploy;
    inventory inv = default_inventory();
    inv.name = fmt::format("bench-{}", count);
    inv.cluster.nodes.clear();
    for (int i = 0; i < count; ++i) {
        node n;
        n.name = fmt::format("node{}", i + 1);
        n.address = fmt::format("10.{}.{}.{}", 1 + i / 250 / 250, (i / 250) % 250, i % 250 + 1);
        n.role = i == 0 ? node_role::head : node_role::worker;
        n.gpu_type = "L20";
        n.gpu_count = 8;
        inv.cluster.nodes.push_back(n);
    }
    inv.network = network_profile{};
    inv.network.kind = fabric::tcp;
    inv.network.interface = "eth0";
    // Llama-3.1-70B as TP 8 x PP 1 x DP <nodes>: one replica per node, every node in the bundle.
    inv.serving.model = "meta-llama/Llama-3.1-70B-Instruct";
    inv.serving.model_path = "/data/models/Llama-3.1-70B-Instruct";
    inv.serving.served_model_name = "llama";
    inv.serving.tensor_parallel_size = 8;
    inv.serving.pipeline_parallel_size = 1;
    inv.serving.data_parallel_size = count;
    inv.serving.max_model_len = 8192;
    return inv;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

int main(int argc, char** argv) {
    int nodes = 1000, runs = 5;
    std::string out_root = "/dev/shm";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--nodes")) nodes = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--out")) out_root = argv[i + 1];
        else {
            fmt::print(stderr, "usage: {} [--nodes N] [--runs R] [--out DIR]\n", argv[0]);
            return 2;
        }
    }
    namespace fs = std::filesystem;
    const dsdeploy::inventory inv = many_nodes(nodes);
    dsdeploy::bundle_options o;
    o.api_key = "dsd-benchmark-key-0123456789abcdef";
    o.api_key_source = "benchmark";
    struct timing {
        double plan, render, write;
    };
    std::vector<timing> t;
    std::size_t files = 0;
    for (int run = 0; run <= runs; ++run) {  // run 0 warms up
        const fs::path out = fs::path(out_root) / fmt::format("dsdeploy-render-bench-{}-{}", ::getpid(), run);
        auto t0 = std::chrono::steady_clock::now();
        const dsdeploy::plan p = dsdeploy::plan_for(inv);
        const double plan_s = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        const dsdeploy::bundle b = dsdeploy::render_bundle(inv, p, o);
        const double render_s = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
        files = dsdeploy::write_bundle(b, out).files;
        const double write_s = seconds_since(t0);
        fs::remove_all(out);
        if (run > 0) t.push_back({plan_s, render_s, write_s});
    }
    auto median = [&](auto field) {
        std::vector<double> v;
        for (const auto& x : t) v.push_back(x.*field);
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::vector<double> totals;
    for (const auto& x : t) totals.push_back(x.plan + x.render + x.write);
    std::sort(totals.begin(), totals.end());
    fmt::print("{} nodes, {} files, {} warm runs into {}\n", nodes, files, t.size(), out_root);
    fmt::print("median: plan {:.3f} s, render {:.3f} s, write {:.3f} s; total median {:.3f} s (min {:.3f}, max {:.3f})\n",
               median(&timing::plan), median(&timing::render), median(&timing::write), totals[totals.size() / 2], totals.front(),
               totals.back());
    return 0;
}
