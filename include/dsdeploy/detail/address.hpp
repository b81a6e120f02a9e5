// SPDX-License-Identifier: Apache-2.0
// What two node addresses are compared by, for every room that asks "is this the same host"
// (the cluster's duplicate check, netcheck's interface check). Not part of the stable API.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/detail/text.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <string>
#include <string_view>

DSDEPLOY_NAMESPACE_BEGIN
namespace detail {

// The 16 bytes of the parsed address (IPv4 as its IPv4-mapped IPv6 form, so "10.0.0.1" and
// "::ffff:10.0.0.1" are one host; "fd00::1", "fd00:0:0::1", "[FD00::1]" likewise), or a hostname
// in lower case without the final dot.
inline std::string address_key(std::string_view address) {
    std::string a(trim(address));
    unsigned char buf[16] = {};
    if (unsigned char v4[4]; inet_pton(AF_INET, a.c_str(), v4) == 1) {
        buf[10] = buf[11] = 0xff;
        std::copy(v4, v4 + 4, buf + 12);
        return "ip:" + std::string(reinterpret_cast<const char*>(buf), 16);
    }
    std::string bare = a;
    if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
    if (inet_pton(AF_INET6, bare.c_str(), buf) == 1) return "ip:" + std::string(reinterpret_cast<const char*>(buf), 16);
    std::string host = to_lower(a);
    if (!host.empty() && host.back() == '.') host.pop_back();
    return "name:" + host;
}

inline bool same_address(std::string_view a, std::string_view b) { return address_key(a) == address_key(b); }

}  // namespace detail
DSDEPLOY_NAMESPACE_END
