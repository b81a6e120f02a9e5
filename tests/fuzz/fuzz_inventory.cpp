// SPDX-License-Identifier: Apache-2.0
// An inventory file is outside input: any bytes give an inventory or a dsdeploy::error, and
// every inventory that parses survives a round trip through the commented TOML writer.
#include <dsdeploy/inventory.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    dsdeploy::loaded_inventory l;
    try {
        l = dsdeploy::parse_inventory(text, "fuzz");
    } catch (const dsdeploy::error&) {
        return 0;
    }
    try {
        dsdeploy::with_source(l.source, [&] { dsdeploy::validate(l.inv); });
    } catch (const dsdeploy::error&) {
    }
    const std::string before = nlohmann::json(l.inv).dump();
    std::string after;
    try {
        after = nlohmann::json(dsdeploy::parse_inventory(dsdeploy::to_toml(l.inv), "round-trip").inv).dump();
    } catch (const dsdeploy::error&) {
        std::abort();  // what dsdeploy writes, it must read back
    }
    if (before != after) std::abort();
    return 0;
}
