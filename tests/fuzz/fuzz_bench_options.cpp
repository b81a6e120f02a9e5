// SPDX-License-Identifier: Apache-2.0
// dsdeploy bench's option texts (--goodput, --metadata, --percentile-metrics,
// --metric-percentiles) come from users and scripts: each gives a value or a dsdeploy::error.
#include <dsdeploy/bench.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    namespace b = dsdeploy::bench;
    try {
        (void)b::parse_goodput(text);
    } catch (const dsdeploy::error&) {
    }
    try {
        (void)b::parse_metadata(text);
    } catch (const dsdeploy::error&) {
    }
    try {
        (void)b::parse_percentile_metrics(text);
    } catch (const dsdeploy::error&) {
    }
    try {
        const auto ps = b::parse_metric_percentiles(text);
        (void)b::describe({1, 2, 3}, ps);
    } catch (const dsdeploy::error&) {
    }
    return 0;
}
