// SPDX-License-Identifier: Apache-2.0
// A model's config.json is outside input: any bytes give a model or a dsdeploy::error.
#include <dsdeploy/model.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto j = nlohmann::json::parse(data, data + size, nullptr, false);
    if (j.is_discarded()) return 0;
    try {
        const auto m = dsdeploy::model_from_hf_config(j, "fuzz");
        if (m.num_layers <= 4096 && m.hidden_size <= 1 << 20) {
            (void)dsdeploy::total_weight_bytes(m);
            (void)dsdeploy::kv_bytes_per_token(m, dsdeploy::dtype::bf16, m.num_layers, 8);
        }
    } catch (const dsdeploy::error&) {
    }
    return 0;
}
