// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/gpu.hpp>

#include <fmt/format.h>

#include "test_support.hpp"

namespace gpu_test {

using namespace dsdeploy;

TEST_CASE("the GPU catalog has every GPU the planner must know") {
    for (const char* name : {"L20", "L40S", "A100-40GB", "A100-80GB", "A800", "H100-SXM", "H100-PCIe", "H800", "H20", "H200"}) {
        INFO(name);
        const gpu_spec* g = find_gpu(name);
        REQUIRE(g != nullptr);
        CHECK(g->memory_gib > 30);
        CHECK(g->memory_gib < g->nominal_gb);  // GiB as PyTorch sees it is below the decimal marketing figure
        CHECK(g->fp8 == (g->compute_capability >= 8.9));
    }
}

TEST_CASE("GPU names are matched loosely - as nvidia-smi and people write them") {
    CHECK(find_gpu("NVIDIA L20")->name == "L20");
    CHECK(find_gpu("nvidia h200")->name == "H200");
    CHECK(find_gpu("h100")->name == "H100-SXM");
    CHECK(find_gpu("NVIDIA H100 80GB HBM3")->name == "H100-SXM");
    CHECK(find_gpu("a100_80gb")->name == "A100-80GB");
    CHECK(find_gpu("L20")->memory_gib == Approx(44.53));
    CHECK(find_gpu("tpu-v5") == nullptr);
}

TEST_CASE("gpu.unknown lists the catalog") {
    CHECK_DSDEPLOY_ERROR(require_gpu("RTX-9090", "nodes[0].gpu_type"), errc::gpu_unknown, "nodes[0].gpu_type", "use one of L20, L40S");
}

TEST_CASE("every catalog memory figure is PyTorch's total, not nvidia-smi's") {
    for (const auto& g : gpu_catalog()) {
        INFO(g.name);
        CHECK_THAT(g.memory_source, Catch::Matchers::StartsWith("PyTorch 'total capacity of "));
        // The source names the same figure as memory_gib.
        CHECK_THAT(g.memory_source, Catch::Matchers::Contains(fmt::format("{:.2f} GiB", g.memory_gib)));
    }
    CHECK(find_gpu("H200")->memory_gib == Approx(139.81));
}

}  // namespace gpu_test
