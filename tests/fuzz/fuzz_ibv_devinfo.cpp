// SPDX-License-Identifier: Apache-2.0
// ibv_devinfo text comes from other machines; the parser must take any bytes without throwing.
#include <dsdeploy/network.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto report = dsdeploy::parse_ibv_devinfo(text);
    const auto found = dsdeploy::detect_profile(report, "eth0");
    (void)dsdeploy::agree({{"a", found}, {"b", dsdeploy::detect_profile(report, "eth1")}});
    return 0;
}
