// SPDX-License-Identifier: Apache-2.0
// The shared grammars of detail/names.hpp: versions, image references, length limits and the
// echo of a value in an error message, against hostile values.
#include <dsdeploy/detail/names.hpp>

#include "test_support.hpp"

namespace names_test {

using namespace dsdeploy::detail;

namespace {
const std::string megabyte(1 << 20, 'a');
}

TEST_CASE("is_version_text: PEP 440 releases as pip prints them, nothing else") {
    for (const char* good : {"0.11.0", "0.11", "0.11.0.post2", "0.20.0rc1", "0.9.0a1", "0.9.0b2", "0.11.0.dev3", "0.10.1.1",
                             "0.11.0+cpu", "v0.12.0+cu128", "0.11.0rc1.post1.dev2", "0.11.0+cu128.torch2_9"}) {
        INFO(good);
        CHECK(is_version_text(good));
    }
    for (const std::string& bad : {std::string(""), std::string("0"), std::string("latest"), std::string("0.11.0;touch x"),
                                  std::string("0.11.0 "), std::string("${TAG}"), std::string("0.11.${MINOR}"), std::string("0.11.0\nx"),
                                  std::string("0.11.0\r"), std::string("0.11.0rc"), std::string("0.11.0+"), std::string("0.11.0+CPU"),
                                  std::string("0.11.0-1"), std::string(".11.0"), std::string("0..11"), std::string("0.11.0.post"),
                                  std::string("0.11.0`id`"), std::string("0.11.0$(id)"), std::string("0.1.2.3.4"),
                                  std::string("1") + std::string(70, '0') + ".0", megabyte, std::string("0.11.0\0x", 8)}) {
        INFO(echo(bad));
        CHECK_FALSE(is_version_text(bad));
    }
}

TEST_CASE("is_image_reference: Docker's reference grammar") {
    const std::string digest = "sha256:" + std::string(64, 'a');
    for (const std::string& good :
         {std::string("vllm/vllm-openai:v0.11.0"), std::string("vllm/vllm-openai"), std::string("ubuntu"), std::string("ubuntu:22.04"),
          std::string("registry.example:5000/ml/vllm-openai:v0.11.0"), std::string("localhost/vllm:dev"),
          std::string("localhost:5000/a/b/c"), std::string("nvcr.io/nvidia/pytorch:24.05-py3"), std::string("a__b/c--d/e.f_g"),
          std::string("vllm/vllm-openai@") + digest, std::string("vllm/vllm-openai:v0.11.0@") + digest,
          std::string("[fd00::5]:5000/vllm:1"), std::string("Registry.Example/vllm:TAG_1"), std::string("Vllm/vllm-openai") /* a registry host, as Docker reads it */,
          std::string("vllm:") + std::string(128, 't')}) {
        INFO(good);
        CHECK(is_image_reference(good));
    }
    for (const std::string& bad :
         {std::string(""), std::string("repo/img:${TAG}"), std::string("vllm/vllm-openai:v0.11.0;touch x"),
          std::string("vllm/vllm-openai:v0.11.0 --privileged"), std::string("vllm/Vllm-openai"), std::string("VLLM"), std::string("vllm//x"),
          std::string("vllm/"), std::string("/vllm"), std::string("vllm:"), std::string("vllm:-tag"), std::string("vllm:.tag"),
          std::string("vllm/x:") + std::string(129, 't'), std::string("vllm/_x"), std::string("vllm/x_"), std::string("vllm/x___y"),
          std::string("vllm/x@sha256:abc"), std::string("vllm/x@") + std::string(64, 'a'), std::string("vllm/x@1sha:") + std::string(64, 'a'),
          std::string("vllm/x:v1\nFROM y"), std::string("vllm/x:$(id)"), std::string("vllm/x:`id`"), std::string("-vllm/x"),
          std::string("reg-.example/x"), std::string("reg.example:port/x"), std::string("reg.example:99999999/x"),
          std::string(300, 'a'), megabyte, std::string("vllm\0x", 6)}) {
        INFO(echo(bad));
        CHECK_FALSE(is_image_reference(bad));
    }
}

TEST_CASE("field length limits: a table, generic indexes, and the problem text") {
    CHECK(max_length("serving.served_model_name") == 256);
    CHECK(max_length("nodes[17].address") == 253);
    CHECK(max_length("serving.extra_args[3]") == 4096);
    CHECK(max_length("serving.env[0].value") == 4096);
    CHECK(max_length("no.such.field") == 0);
    for (const auto& l : field_limits) {
        INFO(l.field);
        CHECK(l.max_bytes > 0);
        CHECK(l.max_bytes < 128 * 1024);  // below MAX_ARG_STRLEN: every value fits one argument
        CHECK_FALSE(l.why.empty());
    }
    CHECK(length_problem("serving.served_model_name", std::string(256, 'a')).empty());
    CHECK(length_problem("serving.served_model_name", megabyte) ==
          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xE2\x80\xA6\" (1048576 bytes) is too long; serving.served_model_name holds at most 256 bytes");
    CHECK(length_problem("no.such.field", megabyte).empty());
}

TEST_CASE("echo: short values whole, long ones cut to a prefix plus their length, always one line") {
    CHECK(echo("abc") == "\"abc\"");
    CHECK(echo(megabyte) == "\"" + std::string(40, 'a') + "\xE2\x80\xA6\" (1048576 bytes)");
    CHECK(echo("a\nb\tc\rd") == "\"a\\nb\\tc\\rd\"");
    CHECK(echo(";touch x") == "\";touch x\"");
    CHECK(echo("${TAG}") == "\"${TAG}\"");
    CHECK(echo(std::string("nul\0x", 5)) == "\"nul\\x00x\"");
    CHECK(echo("say \"hi\"") == "\"say \\\"hi\\\"\"");
    const std::string lines = std::string(100, '\n');
    CHECK(echo(lines).find('\n') == std::string::npos);
    CHECK_THAT(echo(lines), Catch::Matchers::EndsWith("(100 bytes)"));
    // A cut never ends inside a UTF-8 sequence.
    std::string utf8;
    for (int i = 0; i < 30; ++i) utf8 += "\xC3\xA9";  // é x 30 = 60 bytes
    const std::string e = echo(utf8);
    CHECK_THAT(e, Catch::Matchers::EndsWith("\xE2\x80\xA6\" (60 bytes)"));
    CHECK(e.substr(1, e.find("\xE2\x80\xA6") - 1).size() % 2 == 0);
}

}  // namespace names_test
