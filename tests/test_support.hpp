// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the unit tests.
#pragma once

#include <dsdeploy/error.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

// A tab-separated table with a header row (a fixture folder's INDEX.tsv): one map per row,
// column name to cell ("" for a missing trailing cell).
inline std::vector<std::map<std::string, std::string>> read_tsv(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in);
    std::string line;
    std::getline(in, line);
    std::vector<std::string> cols;
    {
        std::stringstream ss(line);
        std::string c;
        while (std::getline(ss, c, '\t')) cols.push_back(c);
    }
    std::vector<std::map<std::string, std::string>> rows;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::map<std::string, std::string> r;
        std::size_t start = 0;
        for (const auto& col : cols) {
            const std::size_t tab = line.find('\t', start);
            r[col] = line.substr(start, tab == std::string::npos ? std::string::npos : tab - start);
            start = tab == std::string::npos ? line.size() : tab + 1;
        }
        rows.push_back(std::move(r));
    }
    return rows;
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
