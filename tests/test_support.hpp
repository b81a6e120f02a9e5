// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the unit tests.
#pragma once

#include <dsdeploy/error.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace dsdeploy_test {

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::string fixture(const std::string& relative) {
    return read_file(std::string(DSDEPLOY_SOURCE_DIR) + "/tests/fixtures/" + relative);
}

}  // namespace dsdeploy_test

// Checks that `expr` throws a dsdeploy error with the given errc, whose field is `field_`
// and whose message contains `fragment`.
#define CHECK_DSDEPLOY_ERROR(expr, code_, field_, fragment)                                  \
    do {                                                                                      \
        bool thrown_ = false;                                                                 \
        try {                                                                                 \
            (void)(expr);                                                                     \
        } catch (const ::dsdeploy::error& e_) {                                               \
            thrown_ = true;                                                                   \
            CHECK(e_.code() == (code_));                                                      \
            CHECK(e_.field() == std::string(field_));                                         \
            CHECK_THAT(std::string(e_.what()), Catch::Matchers::Contains(fragment));          \
            CHECK_THAT(std::string(e_.what()),                                                \
                       Catch::Matchers::StartsWith("[dsdeploy." + std::string(e_.id()) + "]")); \
        }                                                                                     \
        CHECK(thrown_);                                                                       \
    } while (false)
