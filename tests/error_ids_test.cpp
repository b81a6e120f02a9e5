// SPDX-License-Identifier: Apache-2.0
// Every error id is documented in docs/errors.md and triggered by at least one test.
#include <dsdeploy/error.hpp>

#include "test_support.hpp"

#include <filesystem>
#include <set>

namespace error_ids_test {

using namespace dsdeploy;

namespace {
// Test sources of every kind: C++ tests, shell-driven tests and the CTest files that run the
// command line and match its output.
std::string all_test_sources() {
    std::string text;
    for (const char* dir : {"/tests", "/examples"})
        for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(DSDEPLOY_SOURCE_DIR) + dir)) {
            if (!e.is_regular_file() || e.path().filename() == "error_ids_test.cpp" ||
                e.path().string().find("/fixtures/") != std::string::npos || e.path().string().find("/corpus/") != std::string::npos)
                continue;
            const auto ext = e.path().extension();
            if (ext == ".cpp" || ext == ".sh" || ext == ".cmake" || e.path().filename() == "CMakeLists.txt")
                text += dsdeploy_test::read_file(e.path().string());
        }
    return text;
}
std::string enum_name(std::string id) {
    for (auto& c : id)
        if (c == '.') c = '_';
    return id;
}
}  // namespace

TEST_CASE("error ids are unique and dotted") {
    std::set<std::string> ids;
    for (const auto& e : all_errors()) {
        INFO(e.id);
        CHECK(ids.insert(e.id).second);
        CHECK(std::string(e.id).find('.') != std::string::npos);
        CHECK(std::string(info(e.code).id) == e.id);
    }
}

TEST_CASE("every error id is in the table of docs/errors.md") {
    const std::string readme = dsdeploy_test::read_file(std::string(DSDEPLOY_SOURCE_DIR) + "/docs/errors.md");
    for (const auto& e : all_errors()) {
        INFO(e.id);
        CHECK(readme.find("| `" + std::string(e.id) + "` |") != std::string::npos);
    }
}

TEST_CASE("every error id is triggered by a test that checks it") {
    const std::string sources = all_test_sources();
    for (const auto& e : all_errors()) {
        INFO(e.id);
        const bool in_cpp = sources.find("errc::" + enum_name(e.id)) != std::string::npos;
        const bool in_cli = sources.find("dsdeploy." + std::string(e.id)) != std::string::npos;
        CHECK((in_cpp || in_cli));
    }
}

TEST_CASE("messages carry the id and the field") {
    const config_error err(errc::cluster_head, "nodes[1].role", "exactly one head");
    CHECK(std::string(err.what()) == "[dsdeploy.cluster.head] nodes[1].role: exactly one head");
    CHECK(err.id() == "cluster.head");
    CHECK_THROWS_AS(raise(errc::bundle_write, "out", "disk full"), environment_error);
    CHECK_THROWS_AS(raise(errc::plan_value, "x", "y"), config_error);
}

}  // namespace error_ids_test
