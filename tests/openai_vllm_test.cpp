// SPDX-License-Identifier: Apache-2.0
// The client against a real vLLM 0.11 server (CPU build) serving a tiny DeepSeek-V3 with dummy
// weights, started by the CTest fixtures in tests/server/vllm_fixtures.cmake:
//   [plain] a server with default options;
//   [key]   a server with --api-key and --reasoning-parser deepseek_r1;
//   [kill]  kills the [key] server mid-stream (runs after every other [key] test).
// The server is found through DSDEPLOY_VLLM_STATE (the folder vllm_server.sh writes).
#include <dsdeploy/openai.hpp>

#include "test_support.hpp"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>

using namespace dsdeploy;
using namespace dsdeploy::openai;

namespace {

std::string state_file(const std::string& name) {
    const char* dir = std::getenv("DSDEPLOY_VLLM_STATE");
    if (!dir || !*dir)
        FAIL("DSDEPLOY_VLLM_STATE is not set: run this test through ctest (its fixture starts vLLM), or start a "
             "server with tests/server/vllm_server.sh start DIR and set DSDEPLOY_VLLM_STATE=DIR");
    std::ifstream in(std::string(dir) + "/" + name);
    if (!in)
        FAIL("no " << name << " in " << dir
                   << ": the vLLM server did not start. Check the *_start test's output; the Python environment "
                      "comes from scripts/python-env.sh (pass it as -DDSDEPLOY_VENV=...)");
    std::string v;
    std::getline(in, v);
    return v;
}

std::string server_url() { return state_file("base_url"); }
std::string model() { return state_file("model"); }

std::string api_key() {
    const char* k = std::getenv("DSDEPLOY_TEST_API_KEY");
    if (!k || !*k) FAIL("DSDEPLOY_TEST_API_KEY is not set (ctest sets it for the [key] server)");
    return k;
}

client_options options(std::optional<std::string> key = std::string()) {
    client_options o;
    o.base_url = server_url();
    o.api_key = std::move(key);
    o.read_timeout = std::chrono::seconds(120);
    o.max_retries = 0;  // the server is local: an error is a finding, not a hiccup
    return o;
}

chat_request greedy_chat(int tokens) {
    chat_request r;
    r.messages = {{"user", "Hello! Which model are you?"}};
    r.max_tokens = tokens;
    r.temperature = 0;
    r.ignore_eos = true;  // exactly `tokens` tokens, whatever the dummy weights say
    return r;
}

}  // namespace

TEST_CASE("vLLM: health, version and models", "[plain]") {
    client c(options());
    const auto h = c.health();
    CHECK(h);
    CHECK(h.status == 200);
    const std::string v = c.version();
    CHECK(std::regex_match(v, std::regex(R"(\d+\.\d+\.\d+.*)")));
    const auto models = c.models();
    REQUIRE(models.data.size() == 1);
    CHECK(models.data[0].id == model());
    CHECK(models.data[0].owned_by == "vllm");
    CHECK(models.data[0].max_model_len == std::optional<std::int64_t>(1024));
    CHECK(models.data[0].extra.contains("permission"));
    // The same server through a base URL without /v1.
    auto o = options();
    o.base_url = server_url().substr(0, server_url().size() - 3);
    client root(o);
    CHECK(root.url().api_path == "/v1");
    CHECK(root.models().data.at(0).id == model());
    CHECK(root.health());
}

TEST_CASE("vLLM: chat, plain and streamed: the streamed text is the sum of the deltas and usage matches", "[plain]") {
    client c(options());
    const auto whole = c.chat(greedy_chat(12));
    REQUIRE(whole.choices.size() == 1);
    CHECK(whole.model == model());
    CHECK(whole.choices[0].message.role == "assistant");
    CHECK(whole.choices[0].finish_reason == "length");
    CHECK_FALSE(whole.text().empty());
    REQUIRE(whole.usage);
    CHECK(whole.usage->completion_tokens == 12);
    CHECK(whole.usage->total_tokens == whole.usage->prompt_tokens + 12);
    CHECK(whole.extra.contains("kv_transfer_params"));  // vLLM's own fields are kept

    std::string deltas;
    std::size_t callbacks = 0;
    std::optional<usage> usage_chunk;
    const auto streamed = c.chat_stream(greedy_chat(12), [&](const chat_chunk& ch) {
        ++callbacks;
        for (const auto& choice : ch.choices) deltas += choice.delta.content.value_or("");
        if (ch.usage) usage_chunk = ch.usage;
        return true;
    });
    CHECK(streamed.text() == deltas);
    CHECK(streamed.text() == whole.text());  // greedy decoding: the same tokens
    REQUIRE(usage_chunk);
    REQUIRE(streamed.usage);
    CHECK(streamed.usage->completion_tokens == 12);
    CHECK(streamed.usage->prompt_tokens == whole.usage->prompt_tokens);
    CHECK(streamed.choices.at(0).finish_reason == "length");
    CHECK(streamed.id.rfind("chatcmpl-", 0) == 0);
    REQUIRE(streamed.stream);
    CHECK(streamed.stream->chunks == callbacks);
    CHECK(streamed.stream->text_chunks >= 1);
    CHECK(streamed.stream->time_to_first_token.count() > 0);
    CHECK(streamed.stream->time_to_first_token <= streamed.stream->total);

    // Without include_usage there is no usage chunk.
    auto r = greedy_chat(4);
    r.streaming = stream_options{false, false};
    CHECK_FALSE(c.chat_stream(r).usage);
    // Two choices in one stream are assembled separately.
    r = greedy_chat(5);
    r.n = 2;
    r.temperature = 1.0;
    r.seed = 1;
    const auto two = c.chat_stream(r);
    REQUIRE(two.choices.size() == 2);
    CHECK(two.choices[1].index == 1);
    CHECK(two.usage->completion_tokens == 10);
}

TEST_CASE("vLLM: completions, plain and streamed", "[plain]") {
    client c(options());
    completion_request r;
    r.model = model();
    r.prompt = "The quick brown fox";
    r.max_tokens = 8;
    r.temperature = 0;
    r.ignore_eos = true;
    const auto whole = c.complete(r);
    CHECK(whole.object == "text_completion");
    CHECK(whole.usage->completion_tokens == 8);
    std::string deltas;
    const auto streamed = c.complete_stream(r, [&](const completion& ch) {
        for (const auto& choice : ch.choices) deltas += choice.text;
        return true;
    });
    CHECK(streamed.text() == deltas);
    CHECK(streamed.text() == whole.text());
    CHECK(streamed.usage->completion_tokens == 8);
    CHECK(streamed.usage->prompt_tokens == whole.usage->prompt_tokens);
}

TEST_CASE("vLLM: sampling extras and structured outputs reach the engine", "[plain]") {
    client c(options());
    // min_tokens holds the end of sequence back; the other extras are accepted.
    auto r = greedy_chat(6);
    r.ignore_eos.reset();
    r.min_tokens = 6;
    r.top_k = 5;
    r.min_p = 0.05;
    r.repetition_penalty = 1.2;
    r.skip_special_tokens = false;
    r.seed = 3;
    CHECK(c.chat(r).usage->completion_tokens == 6);

    // Structured outputs constrain even a model with random weights.
    chat_request yn;
    yn.messages = {{"user", "yes or no?"}};
    yn.max_tokens = 8;
    yn.temperature = 0;
    yn.structured = structured_outputs{};
    yn.structured->choice = std::vector<std::string>{"yes", "no"};
    const std::set<std::string> allowed{"yes", "no"};
    CHECK(allowed.count(c.chat(yn).text()) == 1);
    completion_request digits;
    digits.prompt = "Number:";
    digits.max_tokens = 8;
    digits.structured = structured_outputs{};
    digits.structured->regex = "[0-9]{3}";
    CHECK(std::regex_match(c.complete(digits).text(), std::regex("[0-9]{3}")));
    // The guided_* fields that vLLM before 0.11 reads (0.11 still forwards them).
    auto o = options();
    o.legacy_guided_decoding = true;
    CHECK(allowed.count(client(o).chat(yn).text()) == 1);
    // Anything not modelled goes through extra.
    auto e = greedy_chat(3);
    e.extra = {{"max_tokens", 2}};
    CHECK(c.chat(e).usage->completion_tokens == 2);
}

TEST_CASE("vLLM: tokenize and detokenize round trip, chat_template_kwargs reach the template", "[plain]") {
    client c(options());
    tokenize_request t;
    t.prompt = "Hello world, this is DeepSeek on vLLM.";
    t.return_token_strs = true;
    const auto tok = c.tokenize(t);
    CHECK(tok.count == static_cast<std::int64_t>(tok.tokens.size()));
    CHECK(tok.count > 3);
    CHECK(tok.max_model_len == 1024);
    CHECK(tok.token_strs.size() == tok.tokens.size());
    CHECK(c.detokenize(tok.tokens) == *t.prompt);
    CHECK(c.detokenize(tok.tokens, model()) == *t.prompt);

    tokenize_request chat;
    chat.messages = {{"user", "Hi"}};
    chat.return_token_strs = true;
    const auto thinking = c.tokenize(chat);
    chat.chat_template_kwargs = {{"thinking", false}};
    const auto direct = c.tokenize(chat);
    REQUIRE_FALSE(thinking.token_strs.empty());
    REQUIRE_FALSE(direct.token_strs.empty());
    CHECK(thinking.token_strs.front() == "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>");
    CHECK(thinking.token_strs.back() != "</think>");
    CHECK(direct.token_strs.back() == "</think>");
    // An unknown model is the server's 404, mapped, on the server-root routes too.
    tokenize_request unknown;
    unknown.model = "no-such-model";
    unknown.prompt = "Hello";
    CHECK_THROWS_AS(c.tokenize(unknown), not_found_error);
    CHECK_THROWS_AS(c.detokenize(tok.tokens, "no-such-model"), not_found_error);
}

TEST_CASE("vLLM: 4xx answers map to the right exception with the server's message", "[plain]") {
    client c(options());
    auto too_long = greedy_chat(5000);
    try {
        c.chat(too_long);
        FAIL("no error");
    } catch (const bad_request_error& e) {
        CHECK(e.status() == 400);
        CHECK_THAT(e.message(), Catch::Matchers::Contains("maximum context length is 1024 tokens"));
        CHECK(e.type() == "BadRequestError");
        CHECK(e.error_code() == 400);
    }
    CHECK_DSDEPLOY_ERROR(c.chat(too_long), errc::client_status, "POST /v1/chat/completions",
                         "HTTP 400 (BadRequestError): 'max_tokens' or 'max_completion_tokens' is too large: 5000");
    // The same mistake in a stream request is caught before the stream starts.
    CHECK_THROWS_AS(c.chat_stream(too_long), bad_request_error);

    auto unknown = greedy_chat(4);
    unknown.model = "no-such-model";
    try {
        c.chat(unknown);
        FAIL("no error");
    } catch (const not_found_error& e) {
        CHECK(e.status() == 404);
        CHECK(e.message() == "The model `no-such-model` does not exist.");
    }
    // A request vLLM's validation rejects (messages must be a list).
    auto invalid = greedy_chat(4);
    invalid.extra = {{"messages", "not a list"}};
    try {
        c.chat(invalid);
        FAIL("no error");
    } catch (const bad_request_error& e) {
        CHECK_THAT(e.message(), Catch::Matchers::Contains("Input should be a valid list"));
    }
    // vLLM answers /v1/embeddings on a generative model with HTTP 200 and an error object.
    embedding_request emb;
    emb.input = "Hello";
    try {
        c.embeddings(emb);
        FAIL("no error");
    } catch (const bad_request_error& e) {
        CHECK(e.status() == 400);
        CHECK_THAT(e.message(), Catch::Matchers::Contains("does not support Embeddings API"));
    }
}

TEST_CASE("vLLM: /metrics counts what the server did", "[plain]") {
    client c(options());
    const auto before = c.metrics();
    REQUIRE(before.generation_tokens);
    REQUIRE(before.requests_finished);
    REQUIRE(before.kv_cache_usage);
    CHECK(*before.kv_cache_usage >= 0);
    CHECK(*before.kv_cache_usage <= 1);
    CHECK(before.requests_running == std::optional<double>(0));
    c.chat(greedy_chat(7));
    const auto after = c.metrics();
    CHECK(*after.generation_tokens - *before.generation_tokens >= 7);
    CHECK(*after.requests_finished - *before.requests_finished >= 1);
    CHECK(after.requests_by_finish_reason.at("length") >= 1);
    REQUIRE(after.time_to_first_token);
    CHECK(after.time_to_first_token->count >= 1);
    CHECK(after.time_to_first_token->mean() > 0);
    REQUIRE(after.e2e_request_latency);
    REQUIRE(after.inter_token_latency);
    CHECK(after.total("vllm:num_requests_waiting") == std::optional<double>(0));
}

TEST_CASE("vLLM --api-key: rejected without the key, accepted with it, the key never shows", "[key]") {
    const std::string key = api_key();
    std::vector<std::string> log;
    auto none = options(std::string());
    none.log = [&](std::string_view l) { log.emplace_back(l); };
    try {
        client(none).chat(greedy_chat(4));
        FAIL("no error");
    } catch (const authentication_error& e) {
        CHECK(e.status() == 401);
        CHECK(e.message() == "Unauthorized");
        CHECK(std::string(e.what()).find(key) == std::string::npos);
    }
    auto wrong = options(key + "-wrong");
    wrong.max_retries = 2;
    wrong.log = none.log;
    try {
        client(wrong).models();
        FAIL("no error");
    } catch (const authentication_error& e) {
        CHECK(std::string(e.what()).find(key) == std::string::npos);
        CHECK(e.body().find(key) == std::string::npos);
    }
    CHECK_DSDEPLOY_ERROR(client(wrong).models(), errc::client_status, "GET /v1/models", "HTTP 401: Unauthorized");
    auto good = options(key);
    good.log = none.log;
    client c(good);
    CHECK(c.has_api_key());
    CHECK(c.models().data.size() == 1);
    CHECK(c.chat(greedy_chat(3)).usage->completion_tokens == 3);
    // The server-root routes are outside vLLM's key check.
    CHECK(client(none).health());
    tokenize_request t;
    t.prompt = "Hello";
    CHECK(client(none).tokenize(t).count > 0);
    for (const auto& l : log) CHECK(l.find(key) == std::string::npos);
}

TEST_CASE("vLLM --reasoning-parser deepseek_r1: reasoning_content, plain and streamed", "[key]") {
    client c(options(api_key()));
    const auto whole = c.chat(greedy_chat(10));
    const auto& m = whole.choices.at(0).message;
    // The R1 template opens the thought (<think>\n); the tiny model never closes it, so
    // everything is reasoning.
    REQUIRE(m.reasoning);
    CHECK_FALSE(m.reasoning->empty());
    CHECK(m.reasoning->size() + m.content.value_or("").size() > 0);
    std::string reasoning, content;
    const auto streamed = c.chat_stream(greedy_chat(10), [&](const chat_chunk& ch) {
        for (const auto& choice : ch.choices) {
            reasoning += choice.delta.reasoning.value_or("");
            content += choice.delta.content.value_or("");
        }
        return true;
    });
    CHECK(reasoning == *m.reasoning);
    CHECK(content == m.content.value_or(""));
    CHECK(streamed.choices.at(0).message.reasoning == m.reasoning);
    CHECK(streamed.usage->completion_tokens == 10);
    REQUIRE(streamed.stream);
    CHECK(streamed.stream->time_to_first_token.count() > 0);  // reasoning counts as the first token
}

TEST_CASE("vLLM killed mid-stream: a typed error that keeps the text received so far", "[kill]") {
    const int pid = std::stoi(state_file("pid"));
    REQUIRE(pid > 1);
    REQUIRE(::getpgid(pid) == pid);  // vllm_server.sh started it as its own process group
    auto o = options(api_key());
    o.max_retries = 2;  // must not retry a stream that has started
    client c(o);
    auto r = greedy_chat(1000);
    std::string seen;
    std::size_t chunks = 0;
    bool killed = false;
    try {
        c.chat_stream(r, [&](const chat_chunk& ch) {
            for (const auto& choice : ch.choices) seen += choice.delta.reasoning.value_or("") + choice.delta.content.value_or("");
            if (++chunks == 8 && !killed) {
                REQUIRE(::kill(-pid, SIGKILL) == 0);
                killed = true;
            }
            return true;
        });
        FAIL("the stream ended normally");
    } catch (const api_stream_error& e) {
        CHECK(killed);
        CHECK((e.why() == api_stream_error::reason::disconnected || e.why() == api_stream_error::reason::truncated));
        CHECK(e.partial_reasoning() + e.partial_text() == seen);
        CHECK_FALSE(seen.empty());
        CHECK(e.chunks_received() >= 8);
        CHECK(e.code() == errc::client_stream);
    }
    // The server is gone: the next call is a connection error, after the retries.
    o.initial_retry_delay = std::chrono::milliseconds(50);
    CHECK_THROWS_AS(client(o).models(), api_connection_error);
    CHECK_FALSE(client(o).health());
}
