// SPDX-License-Identifier: Apache-2.0
// The benchmark against the real vLLM 0.11 server (CPU, tiny DeepSeek-V3) that the client tests
// use (the vllm_plain CTest fixture, found through DSDEPLOY_VLLM_STATE), and against the
// pacing stream server (examples/pacing_server.cpp, given as DSDEPLOY_PACING_SERVER):
//   - what the benchmark counts (requests, prompt and output tokens) equals what the server
//     reports, in each answer's usage and in its /metrics counters;
//   - prompts are sized with the server's /tokenize;
//   - llmperf's summary keys are all present in the written files;
//   - against a server that paces chunks at a known interval, the measured TTFT and ITL are
//     that interval (a loose bound: the machine is shared; BENCHMARKS.md has the real figures).
#include <dsdeploy/bench.hpp>

#include "test_support.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

using namespace dsdeploy;
namespace b = dsdeploy::bench;

namespace {

std::string state_file(const std::string& name) {
    const char* dir = std::getenv("DSDEPLOY_VLLM_STATE");
    if (!dir || !*dir) FAIL("DSDEPLOY_VLLM_STATE is not set: run this test through ctest (its fixture starts vLLM)");
    std::ifstream in(std::string(dir) + "/" + name);
    if (!in) FAIL("no " << name << " in " << dir << ": the vLLM server did not start (see the vllm_plain_start test)");
    std::string v;
    std::getline(in, v);
    return v;
}

std::string temp_dir(const std::string& name) {
    std::string d = std::string(DSDEPLOY_BINARY_DIR) + "/bench-vllm-" + name;
    std::system(("rm -rf '" + d + "'").c_str());
    return d;
}

}  // namespace

TEST_CASE("bench against vLLM: requests and tokens equal the server's usage and /metrics counters", "[vllm]") {
    openai::client_options co;
    co.base_url = state_file("base_url");
    co.api_key = std::string();
    co.max_retries = 0;
    openai::client c(co);
    const std::string model = state_file("model");

    b::workload_options w;
    w.model = model;
    w.mean_input_tokens = 60;
    w.stddev_input_tokens = 10;
    w.mean_output_tokens = 8;
    w.stddev_output_tokens = 2;
    w.num_requests = 6;
    w.warmup_requests = 2;
    w.ignore_eos = true;
    w.additional_sampling_params = {{"temperature", 0}};
    const auto counter = b::server_token_counter(c, model);
    REQUIRE(counter);
    CHECK(counter.source == "server /tokenize");
    const auto load = b::make_workload(w, counter);
    for (const auto& r : load.requests) {
        CHECK(r.prompt_tokens <= r.target_input_tokens);
        CHECK(r.prompt_tokens >= r.target_input_tokens - 8);  // the counter's own count, close to the target
    }

    const auto before = c.metrics();
    REQUIRE(before.requests_finished);
    REQUIRE(before.prompt_tokens);
    REQUIRE(before.generation_tokens);

    b::run_options o;
    o.max_concurrency = 3;
    o.request_timeout = std::chrono::seconds(300);
    b::epoll_engine engine(c.url());
    const auto r = b::run(engine, load, o, "", c.url().to_string());
    const auto s = b::summarize(r);
    REQUIRE(s.completed == 6);
    CHECK(s.failed == 0);
    CHECK(s.output_token_source == "usage");

    const auto after = c.metrics();
    std::int64_t prompt = 0, output = 0;
    for (const auto* set : {&r.requests, &r.warmup}) {
        for (const auto& q : *set) {
            REQUIRE(q.status == b::request_status::ok);
            CHECK(q.tokens_from_usage);
            CHECK(static_cast<std::int64_t>(q.token_times.size()) <= q.output_tokens);  // events with text
            CHECK(q.finish_reason == "length");
            prompt += q.prompt_tokens;
            output += q.output_tokens;
        }
    }
    // the measured requests' own counts are the summary's
    std::int64_t measured_out = 0;
    for (std::size_t i = 0; i < r.requests.size(); ++i) {
        measured_out += r.requests[i].output_tokens;
        CHECK(r.requests[i].output_tokens == load.requests[i].max_tokens);  // ignore_eos: exactly max_tokens
        CHECK(r.requests[i].prompt_tokens >= load.requests[i].prompt_tokens);  // + the chat template
    }
    CHECK(s.total_output_tokens == measured_out);
    CHECK(*after.requests_finished - *before.requests_finished == Approx(8));  // 6 measured + 2 warm-up
    CHECK(*after.prompt_tokens - *before.prompt_tokens == Approx(static_cast<double>(prompt)));
    CHECK(*after.generation_tokens - *before.generation_tokens == Approx(static_cast<double>(output)));
    CHECK(s.ttft.n == 6);
    CHECK(s.ttft.mean > 0);
    CHECK(s.itl.n > 0);

    const auto dir = temp_dir("files");
    const auto paths = b::write_llmperf_files(dir, r, b::parse_metadata("server=vllm-0.11-cpu"));
    const auto j = nlohmann::json::parse(dsdeploy_test::read_file(paths[0]));
    for (const char* m : {"inter_token_latency_s", "ttft_s", "end_to_end_latency_s", "request_output_throughput_token_per_s",
                          "number_input_tokens", "number_output_tokens"}) {
        for (const char* k : {"quantiles_p25", "quantiles_p50", "quantiles_p75", "quantiles_p90", "quantiles_p95",
                              "quantiles_p99", "mean", "min", "max", "stddev"}) {
            const std::string key = std::string("results_") + m + "_" + k;
            CHECK(j.contains(key));
            CHECK_FALSE(j[key].is_null());
        }
    }
    for (const char* k : {"version", "name", "model", "mean_input_tokens", "stddev_input_tokens", "mean_output_tokens",
                          "stddev_output_tokens", "num_concurrent_requests", "additional_sampling_params_temperature",
                          "results_num_requests_started", "results_error_rate", "results_number_errors",
                          "results_error_code_frequency", "results_mean_output_throughput_token_per_s",
                          "results_num_completed_requests", "results_num_completed_requests_per_min", "server", "timestamp"})
        CHECK(j.contains(k));
    CHECK(j["results_num_completed_requests"] == 6);
    CHECK(j["results_error_rate"] == 0.0);
    const auto ind = nlohmann::json::parse(dsdeploy_test::read_file(paths[1]));
    REQUIRE(ind.size() == 6);
    std::int64_t ind_out = 0;
    for (const auto& e : ind) ind_out += e["number_output_tokens"].get<std::int64_t>();
    CHECK(ind_out == measured_out);
}

TEST_CASE("bench against vLLM: --output-tokens tokenize counts the kept text with the server's /tokenize", "[vllm]") {
    openai::client_options co;
    co.base_url = state_file("base_url");
    co.api_key = std::string();
    co.max_retries = 0;
    openai::client c(co);
    const std::string model = state_file("model");
    b::workload_options w;
    w.model = model;
    w.mean_input_tokens = 40;
    w.mean_output_tokens = 12;
    w.num_requests = 4;
    w.ignore_eos = true;
    w.additional_sampling_params = {{"temperature", 0}};
    const auto counter = b::server_token_counter(c, model);
    REQUIRE(counter);
    const auto load = b::make_workload(w, counter);
    b::run_options o;
    o.max_concurrency = 2;
    o.request_timeout = std::chrono::seconds(300);
    o.keep_text = true;
    b::epoll_engine engine(c.url());
    auto r = b::run(engine, load, o, "", c.url().to_string());
    std::vector<std::int64_t> usage;
    std::size_t with_text = 0;
    for (const auto& q : r.requests) {
        REQUIRE(q.status == b::request_status::ok);
        usage.push_back(q.output_tokens);
        with_text += q.generated_text.empty() ? 0 : 1;
    }
    CHECK(with_text > 0);  // the text was kept
    CHECK(b::count_output_tokens(r, counter) == 4);
    for (std::size_t i = 0; i < r.requests.size(); ++i) {
        const auto& q = r.requests[i];
        CHECK(q.tokens_from_tokenize);
        CHECK_FALSE(q.tokens_from_usage);
        // the server's own count of the same text, asked again
        CHECK(q.output_tokens == (q.generated_text.empty() ? 0 : counter.count(q.generated_text)));
        // re-tokenizing decoded text need not give the generated ids back, but it is near them
        CHECK(q.output_tokens <= 4 * usage[i] + 4);
    }
    const auto s = b::summarize(r);
    CHECK(s.output_token_source == "server /tokenize of the generated text");
    const auto v = b::vllm_result(r, s, "dsdeploy", {}, true);
    CHECK(v["generated_texts"][0] == r.requests[0].generated_text);
    CHECK_THROWS_AS(b::count_output_tokens(r, b::token_counter{}), config_error);
}

TEST_CASE("bench against vLLM: errors are per request, with their code", "[vllm]") {
    openai::client_options co;
    co.base_url = state_file("base_url");
    co.api_key = std::string();
    openai::client c(co);
    b::workload_options w;
    w.model = state_file("model");
    w.mean_input_tokens = 20;
    w.stddev_input_tokens = 0;
    w.mean_output_tokens = 4;
    w.stddev_output_tokens = 0;
    w.num_requests = 4;
    auto load = b::make_workload(w);
    // one request asks for a model the server does not have: vLLM answers 404
    auto body = nlohmann::json::parse(load.requests[1].body);
    body["model"] = "no-such-model";
    load.requests[1].body = body.dump();
    b::run_options o;
    o.max_concurrency = 2;
    b::epoll_engine engine(c.url());
    const auto r = b::run(engine, load, o, "", c.url().to_string());
    const auto s = b::summarize(r);
    CHECK(s.completed == 3);
    CHECK(s.failed == 1);
    CHECK(r.requests[1].error_code == 404);
    CHECK_THAT(r.requests[1].error_msg, Catch::Matchers::Contains("no-such-model"));
    const auto j = b::llmperf_summary(r);
    CHECK(j["results_error_code_frequency"] == "{404: 1}");
}

TEST_CASE("bench against the pacing server: TTFT and ITL are the pacing interval", "[pacing]") {
    const char* exe = std::getenv("DSDEPLOY_PACING_SERVER");
    if (!exe || !*exe) FAIL("DSDEPLOY_PACING_SERVER is not set (ctest sets it)");
    const char* port_env = std::getenv("DSDEPLOY_PACING_PORT");
    const std::string port = port_env && *port_env ? port_env : "18240";
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::execl(exe, exe, "--port", port.c_str(), "--interval-ms", "20", static_cast<char*>(nullptr));
        std::_Exit(127);
    }
    struct stop_server {
        pid_t pid;
        ~stop_server() {
            ::kill(pid, SIGTERM);
            int st = 0;
            ::waitpid(pid, &st, 0);
        }
    } guard{pid};
    openai::client_options co;
    co.base_url = "http://127.0.0.1:" + port + "/v1";
    co.api_key = std::string();
    co.max_retries = 0;
    openai::client c(co);
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
        up = c.health().ok;
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(up);
    b::workload_options w;
    w.model = c.models().data.at(0).id;
    w.mean_input_tokens = 30;
    w.stddev_input_tokens = 0;
    w.mean_output_tokens = 25;
    w.stddev_output_tokens = 0;
    w.num_requests = 128;
    w.warmup_requests = 8;
    const auto load = b::make_workload(w);
    b::run_options o;
    o.max_concurrency = 64;
    b::epoll_engine engine(c.url());
    const auto r = b::run(engine, load, o, "", c.url().to_string());
    b::summary_options so;
    so.metric_percentiles = {50, 99};
    const auto s = b::summarize(r, so);
    REQUIRE(s.completed == 128);
    CHECK(s.total_output_tokens == 128 * 25);
    CHECK(s.output_events == 128u * 25u);
    CHECK(s.itl.n == 128u * 24u);
    INFO("mean ITL " << s.itl.mean << " ms, p99 " << s.itl.at(99) << " ms; mean TTFT " << s.ttft.mean << " ms");
    // The truth is 20 ms. The server cannot be faster than its pacing, so the lower bounds are
    // tight; a loaded 2-core machine (ctest -j2 under sanitizers) only ever adds time, so the
    // upper bounds leave room for it.
    CHECK(s.itl.mean >= 19.0);
    CHECK(s.itl.mean <= 30.0);
    CHECK(s.itl.median >= 19.0);
    CHECK(s.itl.median <= 26.0);
    CHECK(s.ttft.mean >= 15.0);
    CHECK(s.ttft.mean <= 120.0);
    CHECK(s.tpot.mean >= 19.0);
    CHECK(s.tpot.mean <= 30.0);
}
