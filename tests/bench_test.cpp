// SPDX-License-Identifier: Apache-2.0
// bench.hpp: statistics, arrival schedules, workloads, the recorder on recorded vLLM streams,
// llmperf's and vLLM's documents, file writing, the report, and the runner (with an
// in-process fake transport: interruption, time limit, per-request errors).
#include <dsdeploy/bench.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/validated_inventory.hpp>
#include <dsdeploy/detail/chunk_scan.hpp>
#include <dsdeploy/detail/text.hpp>

#include "test_support.hpp"

#include <sys/stat.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <numeric>
#include <thread>

namespace bench_test {

using namespace dsdeploy;
namespace b = dsdeploy::bench;

namespace {

std::string temp_dir(const std::string& name) {
    std::string d = std::string(DSDEPLOY_BINARY_DIR) + "/bench-test-" + name;
    std::system(("rm -rf '" + d + "'").c_str());
    return d;
}

// The data events of a recorded stream.
std::vector<std::string> events_of(const std::string& sse) {
    std::vector<std::string> out;
    dsdeploy::detail::sse_parser p;
    p.feed(sse, [&](const dsdeploy::detail::sse_event& e) {
        out.push_back(e.data);
        return true;
    });
    return out;
}

// The events with output, by the DOM (the reference the scanner must agree with).
std::size_t dom_output_events(const std::vector<std::string>& evs) {
    std::size_t n = 0;
    for (const auto& e : evs) {
        if (e == "[DONE]") continue;
        const auto j = nlohmann::json::parse(e);
        for (const auto& ch : j["choices"]) {
            const auto& d = ch.contains("delta") ? ch["delta"] : nlohmann::json::object();
            bool out = false;
            for (const char* k : {"content", "reasoning_content", "reasoning"})
                if (d.contains(k) && d[k].is_string() && !d[k].get<std::string>().empty()) out = true;
            if (ch.contains("text") && ch["text"].is_string() && !ch["text"].get<std::string>().empty()) out = true;
            if (out) {
                ++n;
                break;
            }
        }
    }
    return n;
}

// A record as the runner would write it: sent at `sent`, tokens every `gap` from `sent + ttft`.
b::request_record make_record(std::size_t i, double sent, double ttft, double gap, int tokens, std::int64_t prompt) {
    b::request_record r;
    r.index = i;
    r.status = b::request_status::ok;
    r.sent = r.scheduled = sent;
    r.first_byte = sent + ttft / 2;
    for (int k = 0; k < tokens; ++k) r.token_times.push_back(sent + ttft + gap * k);
    r.first_token = r.token_times.front();
    r.last_token = r.token_times.back();
    r.end = r.last_token + 0.001;
    r.events = static_cast<std::size_t>(tokens) + 2;
    r.prompt_tokens = prompt;
    r.output_tokens = tokens;
    r.tokens_from_usage = true;
    r.finish_reason = "length";
    return r;
}

b::run_result sample_result() {
    b::run_result r;
    r.workload.model = "01-ai/Yi-1.5-34B-Chat";
    r.workload.additional_sampling_params = {{"temperature", 0}, {"ignore_eos", true}};
    r.max_concurrency = 2;
    r.started_unix = 1795828074;
    r.duration = 4.0;
    r.engine = "epoll";
    r.requests.push_back(make_record(0, 0.0, 0.100, 0.010, 11, 50));
    r.requests.push_back(make_record(1, 0.5, 0.200, 0.020, 21, 60));
    r.requests.push_back(make_record(2, 1.0, 0.300, 0.030, 31, 70));
    b::request_record f;
    f.index = 3;
    f.status = b::request_status::failed;
    f.sent = 1.5;
    f.end = 1.6;
    f.error_code = 500;
    f.error_kind = "http";
    f.error_msg = "HTTP 500: boom";
    f.prompt_tokens = 80;
    r.requests.push_back(f);
    b::request_record c;  // never finished
    c.index = 4;
    r.requests.push_back(c);
    return r;
}

}  // namespace

TEST_CASE("percentiles interpolate linearly as numpy does", "[stats]") {
    const std::vector<double> v = {1, 2, 3, 4};
    CHECK(b::percentile(v, 0) == 1);
    CHECK(b::percentile(v, 100) == 4);
    CHECK(b::percentile(v, 25) == Approx(1.75));
    CHECK(b::percentile(v, 50) == Approx(2.5));
    CHECK(b::percentile(v, 99) == Approx(3.97));
    CHECK(b::percentile({7}, 99) == 7);
    CHECK_DSDEPLOY_ERROR(b::percentile({}, 50), errc::bench_config, "percentile", "of no values");
    CHECK_DSDEPLOY_ERROR(b::percentile(v, 101), errc::bench_config, "percentile", "within 0..100");

    const auto d = b::describe({4, 1, 3, 2}, {50, 90});
    CHECK(d.n == 4);
    CHECK(d.mean == Approx(2.5));
    CHECK(d.median == Approx(2.5));
    CHECK(d.min == 1);
    CHECK(d.max == 4);
    CHECK(d.std == Approx(std::sqrt(1.25)));        // population, np.std
    CHECK(d.sample_std == Approx(std::sqrt(5.0 / 3)));  // ddof 1, pandas .std()
    CHECK(d.at(90) == Approx(3.7));
    CHECK_DSDEPLOY_ERROR(d.at(95), errc::bench_config, "percentile", "was not computed");
    CHECK(b::describe({}, {99}).n == 0);
}

TEST_CASE("arrival schedules: Poisson and gamma gaps rescaled to n/rate, closed loop at 0", "[arrivals]") {
    const std::size_t n = 4000;
    const double rate = 50;
    for (double k : {1.0, 0.5, 4.0}) {
        const auto t = b::arrival_offsets(n, rate, k, 7);
        REQUIRE(t.size() == n);
        CHECK(t.back() == Approx(n / rate));
        CHECK(std::is_sorted(t.begin(), t.end()));
        std::vector<double> gaps(n);
        gaps[0] = t[0];
        for (std::size_t i = 1; i < n; ++i) gaps[i] = t[i] - t[i - 1];
        const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / n;
        double ss = 0;
        for (double g : gaps) ss += (g - mean) * (g - mean);
        const double cv = std::sqrt(ss / n) / mean;
        CHECK(mean == Approx(1 / rate).epsilon(1e-9));
        // gamma(k): coefficient of variation 1/sqrt(k) (Poisson: 1)
        CHECK(cv == Approx(1 / std::sqrt(k)).epsilon(0.08));
        CHECK(b::arrival_offsets(n, rate, k, 7) == t);  // seeded: the same schedule
        CHECK(b::arrival_offsets(n, rate, k, 8) != t);
    }
    const auto inf = b::arrival_offsets(5, std::numeric_limits<double>::infinity(), 1, 0);
    CHECK(inf == std::vector<double>(5, 0.0));
    CHECK_DSDEPLOY_ERROR(b::arrival_offsets(5, 0, 1, 0), errc::bench_config, "request_rate", "positive");
    CHECK_DSDEPLOY_ERROR(b::arrival_offsets(5, 1, -1, 0), errc::bench_config, "burstiness", "positive");
}

TEST_CASE("workload: prompts sized by a token counter, bodies that stream with usage", "[workload]") {
    b::workload_options o;
    o.model = "m";
    o.mean_input_tokens = 120;
    o.stddev_input_tokens = 20;
    o.mean_output_tokens = 30;
    o.stddev_output_tokens = 5;
    o.num_requests = 25;
    o.warmup_requests = 2;
    o.additional_sampling_params = {{"temperature", 0.5}};
    // A real (if simple) counter: whitespace-separated words.
    b::token_counter words;
    words.source = "words";
    words.count = [](const std::string& s) {
        std::int64_t n = 0;
        bool in = false;
        for (char c : s) {
            const bool sp = c == ' ' || c == '\n';
            if (!sp && !in) ++n;
            in = !sp;
        }
        return n;
    };
    const auto w = b::make_workload(o, words);
    REQUIRE(w.requests.size() == 25);
    REQUIRE(w.warmup.size() == 2);
    CHECK(w.prompt_token_source == "words");
    double sum_in = 0, sum_out = 0;
    for (const auto& r : w.requests) {
        CHECK(r.prompt_tokens == words.count(r.prompt));
        CHECK(r.prompt_tokens <= r.target_input_tokens);
        CHECK(r.prompt_tokens >= r.target_input_tokens - 3);  // within a few words of the target
        CHECK(r.max_tokens >= 1);
        sum_in += static_cast<double>(r.target_input_tokens);
        sum_out += r.max_tokens;
        const auto j = nlohmann::json::parse(r.body);
        CHECK(j["model"] == "m");
        CHECK(j["stream"] == true);
        CHECK(j["stream_options"]["include_usage"] == true);
        CHECK(j["max_tokens"] == r.max_tokens);
        CHECK(j["temperature"] == 0.5);
        CHECK(j["messages"][0]["content"] == r.prompt);
    }
    CHECK(sum_in / 25 == Approx(120).margin(12));
    CHECK(sum_out / 25 == Approx(30).margin(4));
    // the same seed gives the same prompts; another seed others
    CHECK(b::make_workload(o, words).requests[3].body == w.requests[3].body);
    auto o2 = o;
    o2.seed = 5;
    CHECK(b::make_workload(o2, words).requests[3].body != w.requests[3].body);

    // without a counter: estimated, and said so
    o.endpoint = b::endpoint::completions;
    o.additional_sampling_params = {{"max_tokens", 3}, {"stream", false}};
    const auto e = b::make_workload(o);
    CHECK_THAT(e.prompt_token_source, Catch::Matchers::Contains("estimate"));
    const auto j = nlohmann::json::parse(e.requests[0].body);
    CHECK(j["prompt"].is_string());
    CHECK(j["max_tokens"] == 3);  // the extra parameters win, as llmperf's
    CHECK(j["stream"] == true);   // but the stream stays a stream

    // a mean below the instruction's length ends (redraws are bounded), at the shortest prompt
    auto tiny = o;
    tiny.mean_input_tokens = 2;
    tiny.stddev_input_tokens = 1;
    tiny.num_requests = 3;
    const auto t = b::make_workload(tiny, words);
    CHECK(t.requests.size() == 3);
    CHECK(t.requests[0].target_input_tokens > 2);

    o.model.clear();
    CHECK_DSDEPLOY_ERROR(b::make_workload(o), errc::bench_config, "model", "is empty");
    o.model = "m";
    o.mean_input_tokens = 0;
    CHECK_DSDEPLOY_ERROR(b::make_workload(o), errc::bench_config, "mean_input_tokens", "at least 1");
    o.mean_input_tokens = 10;
    o.additional_sampling_params = nlohmann::json::array();
    CHECK_DSDEPLOY_ERROR(b::make_workload(o), errc::bench_config, "additional_sampling_params", "must be a JSON object");
    CHECK(b::sonnet_corpus().find("FROM fairest creatures we desire increase,") == 0);
}

TEST_CASE("chunk scanner agrees with the DOM on recorded vLLM streams", "[scan]") {
    for (const char* f : {"vllm/chat-stream.sse", "vllm/completion-stream.sse", "vllm/reasoning-chat-stream.sse"}) {
        const auto evs = events_of(dsdeploy_test::fixture(f));
        std::size_t out = 0, usage = 0;
        for (const auto& e : evs) {
            if (e == "[DONE]") continue;
            const auto c = dsdeploy::detail::scan_chunk(e);
            CHECK(c.valid);
            out += c.has_output;
            if (c.has_usage) {
                ++usage;
                const auto j = nlohmann::json::parse(e);
                CHECK(c.prompt_tokens == j["usage"]["prompt_tokens"]);
                CHECK(c.completion_tokens == j["usage"]["completion_tokens"]);
            }
        }
        CHECK(out == dom_output_events(evs));
        CHECK(out > 0);
        CHECK(usage == 1);
    }
    CHECK_FALSE(dsdeploy::detail::scan_chunk("{\"choices\":[").valid);
    CHECK_FALSE(dsdeploy::detail::scan_chunk("{} x").valid);
    CHECK(dsdeploy::detail::scan_chunk(R"({"error":{"message":"x"}})").has_error);
    CHECK_FALSE(dsdeploy::detail::scan_chunk(R"({"error":null})").has_error);
    CHECK(dsdeploy::detail::scan_chunk(R"({"choices":[{"delta":{"\u0063ontent":"a"}}]})").has_output);
}

TEST_CASE("recorder: a recorded vLLM stream fed in pieces of every size gives the same record", "[recorder]") {
    const std::string sse = dsdeploy_test::fixture("vllm/chat-stream.sse");
    const auto evs = events_of(sse);
    const auto usage = nlohmann::json::parse(evs[evs.size() - 2])["usage"];
    for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{100}, sse.size()}) {
        b::request_record rec;
        b::stream_job job;
        const auto t0 = b::clock::now();
        job.reset(&rec, t0, 32);
        rec.sent = 0;
        CHECK(job.on_headers(200, t0));
        for (std::size_t i = 0; i < sse.size(); i += piece)
            CHECK(job.on_body(std::string_view(sse).substr(i, piece), t0 + std::chrono::microseconds(i)));
        job.on_end(openai::transport_error::none, {}, t0 + std::chrono::milliseconds(5));
        CHECK(rec.status == b::request_status::ok);
        CHECK(rec.tokens_from_usage);
        CHECK(rec.output_tokens == usage["completion_tokens"].get<std::int64_t>());
        CHECK(rec.prompt_tokens == usage["prompt_tokens"].get<std::int64_t>());
        CHECK(rec.token_times.size() == dom_output_events(evs));
        CHECK(rec.events == evs.size() - 1);  // [DONE] is not an event
        CHECK(rec.finish_reason == "length");
        CHECK(rec.first_token >= 0);
        CHECK(std::is_sorted(rec.token_times.begin(), rec.token_times.end()));
    }
    SECTION("errors are recorded with their code, never thrown") {
        b::request_record rec;
        b::stream_job job;
        const auto t0 = b::clock::now();
        job.reset(&rec, t0, 4);
        job.on_headers(400, t0);
        job.on_body(dsdeploy_test::fixture("vllm/error-400-max-tokens.json"), t0);
        job.on_end(openai::transport_error::none, {}, t0);
        CHECK(rec.status == b::request_status::failed);
        CHECK(rec.error_code == 400);
        CHECK(rec.error_kind == "http");

        b::request_record r2;
        job.reset(&r2, t0, 4);
        job.on_headers(200, t0);
        job.on_body(sse.substr(0, sse.size() / 2), t0);  // the connection breaks mid-stream
        job.on_end(openai::transport_error::read, "reset", t0);
        CHECK(r2.status == b::request_status::failed);
        CHECK(r2.error_code == -1);
        CHECK(r2.error_kind == "stream");

        b::request_record r3;
        job.reset(&r3, t0, 4);
        job.on_headers(200, t0);
        CHECK_FALSE(job.on_body("data: {not json}\n\n", t0));
        job.on_end(openai::transport_error::canceled, {}, t0);
        CHECK(r3.status == b::request_status::failed);
        CHECK(r3.error_kind == "decode");

        b::request_record r4;  // no usage: output tokens are counted chunks, and it says so
        job.reset(&r4, t0, 4);
        job.on_headers(200, t0);
        job.on_body("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\ndata: [DONE]\n\n", t0);
        job.on_end(openai::transport_error::none, {}, t0);
        CHECK(r4.status == b::request_status::ok);
        CHECK_FALSE(r4.tokens_from_usage);
        CHECK(r4.output_tokens == 2);
        b::run_result rr;
        rr.duration = 1;
        rr.requests = {r4};
        CHECK_THAT(b::summarize(rr).output_token_source, Catch::Matchers::Contains("chunk count"));
    }
    SECTION("tokens that decode to no text (empty deltas) are timed by their chunks, as vllm bench serve does") {
        // Seen on the CI machine: a tiny random model's 4 tokens were partial UTF-8, vLLM streamed
        // empty deltas and usage said 4; the request had no TTFT and AIPerf's export counted 3 of 4.
        b::request_record rec;
        b::stream_job job;
        const auto t0 = b::clock::now();
        job.reset(&rec, t0, 4);
        rec.sent = 0;
        job.on_headers(200, t0);
        job.on_body("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n", t0 + std::chrono::milliseconds(10));
        job.on_body("data: {\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":\"length\"}]}\n\n", t0 + std::chrono::milliseconds(30));
        job.on_body("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n",
                    t0 + std::chrono::milliseconds(31));
        job.on_end(openai::transport_error::none, {}, t0 + std::chrono::milliseconds(32));
        REQUIRE(rec.status == b::request_status::ok);
        CHECK(rec.output_tokens == 4);
        CHECK(rec.token_times.empty());
        CHECK(rec.first_token == Approx(0.010).margin(1e-4));
        CHECK(rec.last_token == Approx(0.030).margin(1e-4));
        b::run_result rr;
        rr.duration = 1;
        rr.requests = {rec};
        const auto s = b::summarize(rr);
        CHECK(s.empty_outputs == 1);  // still said: no text
        CHECK(s.ttft.n == 1);         // but timed
        CHECK(s.ttft.mean == Approx(10.0).margin(0.1));
        double tokens = 0;
        for (double v : s.output_tokens_per_second) tokens += v;
        CHECK(tokens == Approx(4.0));

        b::request_record kept;  // keep_text: each chunk's text, in order, reasoning first
        job.reset(&kept, t0, 4, true);
        job.on_headers(200, t0);
        job.on_body("data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm \",\"content\":\"a\\u00e9\"}}]}\n\n"
                    "data: {\"choices\":[{\"text\":\"b\"}]}\n\ndata: [DONE]\n\n", t0);
        job.on_end(openai::transport_error::none, {}, t0);
        CHECK(kept.generated_text == "hm a\xc3\xa9" "b");
        b::request_record dropped;  // without keep_text nothing is kept
        job.reset(&dropped, t0, 4);
        job.on_headers(200, t0);
        job.on_body("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n", t0);
        job.on_end(openai::transport_error::none, {}, t0);
        CHECK(dropped.generated_text.empty());
        b::run_result counted;
        counted.duration = 1;
        counted.requests = {kept, dropped};
        b::token_counter by_chars;
        by_chars.count = [](const std::string& t) { return static_cast<std::int64_t>(t.size()); };
        CHECK(b::count_output_tokens(counted, by_chars) == 2);
        CHECK(counted.requests[0].output_tokens == 7);
        CHECK(counted.requests[1].output_tokens == 0);
        CHECK(b::summarize(counted).output_token_source == "server /tokenize of the generated text");

        b::request_record none;  // no choices at all: nothing to time
        job.reset(&none, t0, 4);
        job.on_headers(200, t0);
        job.on_body("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":0}}\n\ndata: [DONE]\n\n", t0);
        job.on_end(openai::transport_error::none, {}, t0);
        CHECK(none.first_token < 0);
    }
}

TEST_CASE("summary: vLLM bench's definitions of TTFT, TPOT, ITL, E2EL, throughput and goodput", "[summary]") {
    const auto r = sample_result();
    b::summary_options o;
    o.percentile_metrics = {"ttft", "tpot", "itl", "e2el"};
    o.metric_percentiles = {50, 99};
    o.goodput = b::parse_goodput("ttft:250,tpot:25");
    const auto s = b::summarize(r, o);
    CHECK(s.completed == 3);
    CHECK(s.failed == 1);
    CHECK(s.cancelled == 1);
    CHECK(s.total_input_tokens == 50 + 60 + 70);
    CHECK(s.total_output_tokens == 11 + 21 + 31);
    CHECK(s.ttft.mean == Approx(200));
    CHECK(s.tpot.mean == Approx(20));  // (E2EL - TTFT) / (n - 1) = gap
    CHECK(s.itl.n == 10u + 20u + 30u);
    CHECK(s.itl.mean == Approx((10 * 10.0 + 20 * 20.0 + 30 * 30.0) / 60));  // pooled, event-weighted
    CHECK(s.e2el.max == Approx(300 + 30 * 30));
    CHECK(s.request_throughput == Approx(3 / 4.0));
    CHECK(s.output_throughput == Approx(63 / 4.0));
    CHECK(s.total_token_throughput == Approx((63 + 180) / 4.0));
    REQUIRE(s.request_goodput);
    CHECK(*s.request_goodput == Approx(2 / 4.0));  // the third misses both SLOs
    CHECK(s.errors.at("500") == 1);
    CHECK(s.peak_concurrency >= 2);
    double bucketed = 0;
    for (double v : s.output_tokens_per_second) bucketed += v;
    CHECK(bucketed == Approx(63));
    CHECK(s.output_token_source == "usage");

    const auto text = b::to_text(r, s);
    CHECK_THAT(text, Catch::Matchers::Contains("============ Serving Benchmark Result ============"));
    CHECK_THAT(text, Catch::Matchers::Contains("Request goodput (req/s):                 0.50"));
    CHECK_THAT(text, Catch::Matchers::Contains("P99 ITL (ms):"));
    CHECK_THAT(text, Catch::Matchers::Contains("Not finished:         1"));

    const auto v = b::vllm_result(r, s);
    for (const char* k : {"date", "backend", "model_id", "num_prompts", "request_rate", "burstiness", "max_concurrency",
                          "duration", "completed", "failed", "total_input_tokens", "total_output_tokens", "request_throughput",
                          "request_goodput", "output_throughput", "total_token_throughput", "input_lens", "output_lens", "ttfts",
                          "itls", "errors", "mean_ttft_ms", "median_ttft_ms", "std_ttft_ms", "p99_ttft_ms", "p50_itl_ms",
                          "mean_e2el_ms", "max_concurrent_requests"})
        CHECK(v.contains(k));
    CHECK(v["request_rate"] == "inf");
    CHECK_THAT(b::vllm_result_filename(r), Catch::Matchers::StartsWith("dsdeploy-infqps-concurrency2-Yi-1.5-34B-Chat-"));

    CHECK_DSDEPLOY_ERROR(b::parse_goodput("ttft=3"), errc::bench_config, "goodput", "is not KEY:VALUE");
    CHECK_DSDEPLOY_ERROR(b::parse_goodput("speed:3"), errc::bench_config, "goodput", "unknown SLO");
    CHECK_DSDEPLOY_ERROR(b::parse_percentile_metrics("ttft,foo"), errc::bench_config, "percentile_metrics", "unknown metric");
    CHECK_DSDEPLOY_ERROR(b::parse_metric_percentiles("50,101"), errc::bench_config, "metric_percentiles", "within 0..100");
    CHECK(b::parse_metric_percentiles("50, 99.9") == std::vector<double>{50, 99.9});
}

namespace {
// An open-loop run whose client fell behind its schedule: request i was due at 0.2 i s and sent
// `lag` s late, so its latency from the scheduled send is the lag longer.
b::run_result late_open_loop(double lag) {
    b::run_result r = sample_result();
    r.requests.resize(3);
    r.closed_loop = false;
    r.request_rate = 5;
    r.max_concurrency = 0;
    for (std::size_t i = 0; i < r.requests.size(); ++i) r.requests[i].scheduled = r.requests[i].sent - lag;
    return r;
}
}  // namespace

TEST_CASE("vLLM: --save-result key for key as vllm/benchmarks/serve.py (commit 009e6d4), types as it writes them", "[vllm]") {
    const auto r = sample_result();  // closed loop of 2 users: rate inf, --max-concurrency 2
    const auto s = b::summarize(r);  // vLLM's defaults: ttft, tpot, itl; p99
    std::vector<std::string> head = {"date", "endpoint_type", "backend", "label", "model_id", "tokenizer_id", "num_prompts",
                                     "request_rate", "burstiness", "max_concurrency", "duration", "completed", "failed",
                                     "total_input_tokens", "total_output_tokens", "request_throughput", "request_goodput",
                                     "output_throughput", "total_token_throughput"};
    std::vector<std::string> tail = {"max_output_tokens_per_s", "max_concurrent_requests", "rtfx"};
    for (const char* m : {"ttft", "tpot", "itl"})
        for (const char* k : {"mean_", "median_", "std_", "p99_"}) tail.push_back(std::string(k) + m + "_ms");
    auto keys = [](const nlohmann::ordered_json& j) {
        std::vector<std::string> out;
        for (auto it = j.begin(); it != j.end(); ++it) out.push_back(it.key());
        return out;
    };
    // --save-result alone: vLLM drops the per-request arrays but keeps latencies and queue_times
    auto want = head;
    want.insert(want.end(), {"latencies", "queue_times"});
    want.insert(want.end(), tail.begin(), tail.end());
    const auto plain = b::vllm_result(r, s, "dsdeploy", {}, false);
    CHECK(keys(plain) == want);
    // --save-detailed
    want = head;
    want.insert(want.end(), {"input_lens", "output_lens", "ttfts", "itls", "latencies", "start_times", "queue_times",
                             "generated_texts", "errors"});
    want.insert(want.end(), tail.begin(), tail.end());
    const auto detailed = b::vllm_result(r, s, "dsdeploy", {}, true);
    CHECK(keys(detailed) == want);
    CHECK(detailed["max_concurrent_requests"].is_number_integer());  // an int in vLLM
    CHECK(detailed["rtfx"].is_number_float());
    CHECK(detailed["max_concurrency"].is_number_integer());
    CHECK(detailed["request_goodput"].is_null());
    CHECK(detailed["num_prompts"].is_number_integer());
    CHECK(detailed["latencies"].size() == 4);  // returned requests, the failed one with 0.0
    CHECK(detailed["latencies"][3] == 0.0);
    CHECK(detailed["latencies"][1].get<double>() == Approx(0.2 + 0.02 * 20));
    CHECK(detailed["errors"][3] == "HTTP 500: boom");
    CHECK(detailed["itls"][0].size() == 10u);
    CHECK_THAT(detailed["tokenizer_id"].get<std::string>(), Catch::Matchers::Contains("server usage"));
    // vLLM's order of the metrics whatever the option's order, e2el only when asked for
    b::summary_options o;
    o.percentile_metrics = {"e2el", "ttft"};
    const auto v2 = b::vllm_result(r, b::summarize(r, o), "x", {}, false);
    auto k2 = keys(v2);
    CHECK(std::find(k2.begin(), k2.end(), "mean_ttft_ms") < std::find(k2.begin(), k2.end(), "mean_e2el_ms"));
    CHECK_FALSE(v2.contains("mean_tpot_ms"));
    // vLLM's queue metrics: only named, and only under a cap (E2EL with the queue: finite rates)
    o.percentile_metrics = b::parse_percentile_metrics("ttft,client_queue_time,e2el_including_client_queue");
    auto open = late_open_loop(0.25);
    CHECK_FALSE(b::vllm_result(open, b::summarize(open, o)).contains("mean_client_queue_time_ms"));  // no cap
    open.max_concurrency = 4;
    const auto capped = b::vllm_result(open, b::summarize(open, o));
    CHECK(capped["mean_client_queue_time_ms"].get<double>() == Approx(250));
    CHECK(capped["mean_e2el_including_client_queue_ms"].get<double>() == Approx(b::summarize(open, o).e2el.mean + 250));
    CHECK(capped["queue_times"][0].get<double>() == Approx(0.25));
    CHECK(b::vllm_result(r, b::summarize(r, o)).contains("mean_client_queue_time_ms"));  // closed loop, capped: zeros
    CHECK_FALSE(b::vllm_result(r, b::summarize(r, o)).contains("mean_e2el_including_client_queue_ms"));
    // --json has neither per-request arrays
    const auto j = b::to_json(r, s);
    for (const char* k : {"input_lens", "itls", "latencies", "queue_times", "start_times", "errors"}) CHECK_FALSE(j.contains(k));
}

TEST_CASE("AIPerf: profile_export_aiperf.json as AIPerf 0.13.0 writes it (schema 1.4)", "[aiperf]") {
    const auto r = sample_result();
    const auto s = b::summarize(r);
    const auto a = b::aiperf_export(r, s);
    CHECK(a["schema_version"] == "1.4");
    // a record metric: AIPerf's JsonMetricResult fields, percentiles as numpy
    const std::vector<std::string> dist = {"unit", "avg", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99",
                                           "min", "max", "std", "count", "sum"};
    std::vector<std::string> got;
    for (auto it = a["time_to_first_token"].begin(); it != a["time_to_first_token"].end(); ++it) got.push_back(it.key());
    CHECK(got == dist);
    CHECK(a["time_to_first_token"]["unit"] == "ms");
    CHECK(a["time_to_first_token"]["avg"].get<double>() == Approx(200));
    CHECK(a["time_to_first_token"]["p50"].get<double>() == Approx(200));
    CHECK(a["time_to_first_token"]["count"] == 3);
    CHECK(a["time_to_first_token"]["sum"].get<double>() == Approx(600));
    // a run total: unit and avg only
    CHECK(a["request_count"] == nlohmann::ordered_json({{"unit", "requests"}, {"avg", 3.0}}));
    CHECK(a["request_throughput"]["unit"] == "requests/sec");
    CHECK(a["request_throughput"]["avg"].get<double>() == Approx(3 / 4.0));
    CHECK(a["output_token_throughput"]["unit"] == "tokens/sec");
    CHECK(a["benchmark_duration"] == nlohmann::ordered_json({{"unit", "sec"}, {"avg", 4.0}}));
    CHECK(a["total_osl"]["avg"].get<double>() == 63);
    CHECK(a["output_sequence_length"]["max"].get<double>() == 31);
    // AIPerf's ITL is (request latency - TTFT) / (OSL - 1); its per-user throughput is 1 / ITL
    const double lat0 = (0.1 + 0.01 * 10 + 0.001) * 1000;
    CHECK(a["inter_token_latency"]["min"].get<double>() == Approx((lat0 - 100) / 10));
    CHECK(a["output_token_throughput_per_user"]["unit"] == "tokens/sec/user");
    CHECK(a["output_token_throughput_per_user"]["max"].get<double>() == Approx(1000 / ((lat0 - 100) / 10)));
    CHECK(a["error_request_count"]["avg"].get<double>() == 1);
    REQUIRE(a["error_summary"].size() == 1);
    CHECK(a["error_summary"][0]["count"] == 1);
    CHECK(a["error_summary"][0]["error_details"]["code"] == 500);
    CHECK(a["error_summary"][0]["error_details"]["message"] == "HTTP 500: boom");
    CHECK(a["was_cancelled"] == false);
    CHECK(a["start_time"].get<std::string>().size() == 26);  // 2026-11-25T01:47:54.000000
    CHECK(a["dsdeploy"]["output_token_source"] == "server usage (stream_options.include_usage)");
    CHECK(a["dsdeploy"]["from_scheduled"]["time_to_first_token_from_scheduled"]["avg"].get<double>() == Approx(200));
    const auto dir = temp_dir("aiperf");
    const auto path = b::write_aiperf_export(dir, r, s);
    CHECK(path == dir + "/profile_export_aiperf.json");
    CHECK(nlohmann::json::parse(dsdeploy_test::read_file(path))["request_count"]["avg"] == 3.0);
}

TEST_CASE("llmperf: file stem, summary keys in order, individual responses", "[llmperf]") {
    CHECK(b::llmperf_stem("meta-llama/Llama-2-7b-chat-hf", 550, 150) == "meta-llama-Llama-2-7b-chat-hf_550_150");
    CHECK(b::llmperf_stem("01-ai/Yi-1.5-34B-Chat", 550, 150) == "01-ai-Yi-1-5-34B-Chat_550_150");

    const auto r = sample_result();
    const auto meta = b::parse_metadata("gpu=L20,nodes=2");
    const auto j = b::llmperf_summary(r, meta);
    std::vector<std::string> want = {"version", "name", "model", "mean_input_tokens", "stddev_input_tokens", "mean_output_tokens",
                                     "stddev_output_tokens", "num_concurrent_requests", "additional_sampling_params_ignore_eos",
                                     "additional_sampling_params_temperature"};
    for (const char* m : {"inter_token_latency_s", "ttft_s", "end_to_end_latency_s", "request_output_throughput_token_per_s",
                          "number_input_tokens", "number_output_tokens"}) {
        for (const char* q : {"p25", "p50", "p75", "p90", "p95", "p99"})
            want.push_back(std::string("results_") + m + "_quantiles_" + q);
        for (const char* k : {"mean", "min", "max", "stddev"}) want.push_back(std::string("results_") + m + "_" + k);
    }
    for (const char* k : {"results_num_requests_started", "results_error_rate", "results_number_errors",
                          "results_error_code_frequency", "results_mean_output_throughput_token_per_s",
                          "results_num_completed_requests", "results_num_completed_requests_per_min",
                          "output_token_source", "prompt_token_source", "gpu", "nodes", "timestamp"})
        want.push_back(k);
    std::vector<std::string> got;
    for (auto it = j.begin(); it != j.end(); ++it) got.push_back(it.key());
    CHECK(got == want);
    CHECK(j["version"] == "2023-08-31");
    CHECK(j["name"] == "01-ai-Yi-1-5-34B-Chat_550_150_summary");
    CHECK(j["results_num_requests_started"] == 4);  // returned requests, errors included
    CHECK(j["results_number_errors"] == 1);
    CHECK(j["results_error_rate"] == 0.25);
    CHECK(j["results_error_code_frequency"] == "{500: 1}");
    CHECK(j["results_num_completed_requests"] == 3);
    CHECK(j["results_number_output_tokens_min"] == "11");  // llmperf's strings, kept
    CHECK(j["results_number_output_tokens_max"] == "31");
    CHECK(j["results_ttft_s_mean"].get<double>() == Approx(0.2));
    // llmperf's ITL includes the TTFT: time to the last token / tokens
    CHECK(j["results_inter_token_latency_s_min"].get<double>() == Approx((0.1 + 0.01 * 10) / 11));
    CHECK(j["gpu"] == "L20");

    const auto a = b::llmperf_individual_responses(r);
    REQUIRE(a.size() == 4);
    std::vector<std::string> keys;
    for (auto it = a[0].begin(); it != a[0].end(); ++it) keys.push_back(it.key());
    CHECK(keys == std::vector<std::string>{"error_code", "error_msg", "inter_token_latency_s", "ttft_s", "end_to_end_latency_s",
                                           "request_output_throughput_token_per_s", "number_total_tokens",
                                           "number_output_tokens", "number_input_tokens", "scheduled_time_s", "send_time_s",
                                           "send_lag_s", "ttft_from_scheduled_s", "end_to_end_latency_from_scheduled_s",
                                           "output_token_source"});
    CHECK(j["output_token_source"] == "server usage (stream_options.include_usage)");
    CHECK_FALSE(j.contains("request_rate"));  // closed loop: llmperf's keys only (and the token sources)
    CHECK(a[1]["send_time_s"] == 0.5);
    CHECK(a[1]["output_token_source"] == "server usage");
    CHECK(a[0]["error_code"].is_null());
    CHECK(a[3]["error_code"] == 500);
    CHECK(a[1]["number_total_tokens"] == 60 + 21);
    CHECK_DSDEPLOY_ERROR(b::parse_metadata("a=1,b"), errc::bench_config, "metadata", "is not key=value");
}

TEST_CASE("files: llmperf's pair written atomically, unwritable places are bench.write", "[files]") {
    const auto dir = temp_dir("files") + "/deep/er";
    const auto r = sample_result();
    const auto paths = b::write_llmperf_files(dir, r);
    REQUIRE(paths.size() == 2);
    CHECK(paths[0] == dir + "/01-ai-Yi-1-5-34B-Chat_550_150_summary.json");
    CHECK(paths[1] == dir + "/01-ai-Yi-1-5-34B-Chat_550_150_individual_responses.json");
    const auto summary = nlohmann::json::parse(dsdeploy_test::read_file(paths[0]));
    CHECK(summary["results_num_completed_requests"] == 3);
    CHECK(nlohmann::json::parse(dsdeploy_test::read_file(paths[1])).size() == 4);

    CHECK_DSDEPLOY_ERROR(b::write_file(dir + "/no/such/folder/x.json", "{}"), errc::bench_write, dir + "/no/such/folder/x.json",
                         "cannot create the file");
    CHECK_DSDEPLOY_ERROR(b::write_llmperf_files(paths[0] + "/sub", r), errc::bench_write, paths[0] + "/sub", "is not a folder");
}


TEST_CASE("open loop: --request-rate alone is not capped, as in vLLM, a cap only when one is given", "[open-loop]") {
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(b::concurrency_cap(inf, std::nullopt, std::nullopt) == 10);  // llmperf's 10 users
    CHECK(b::concurrency_cap(inf, std::nullopt, 3) == 3);
    CHECK(b::concurrency_cap(inf, 7, 3) == 7);
    CHECK(b::concurrency_cap(8, std::nullopt, std::nullopt) == 0);  // no cap: the schedule alone
    CHECK(b::concurrency_cap(8, 16, std::nullopt) == 16);
    CHECK(b::concurrency_cap(8, std::nullopt, 4) == 4);
}

TEST_CASE("open loop: latency from the send and from the scheduled time (coordinated omission) in every output", "[open-loop]") {
    const auto r = late_open_loop(0.25);
    b::summary_options o;
    o.metric_percentiles = {50, 99};
    const auto s = b::summarize(r, o);
    REQUIRE(s.ttft.n == 3);
    CHECK(s.ttft.mean == Approx(200));                              // from the send
    CHECK(s.ttft_from_scheduled.mean == Approx(200 + 250));         // from the schedule
    CHECK(s.e2el_from_scheduled.max == Approx(s.e2el.max + 250));
    CHECK(s.queue.mean == Approx(250));

    const auto text = b::to_text(r, s);
    CHECK_THAT(text, Catch::Matchers::Contains("Mean TTFT from scheduled (ms):           450.00"));
    CHECK_THAT(text, Catch::Matchers::Contains("P99 E2EL from scheduled (ms):"));
    CHECK_THAT(text, Catch::Matchers::Contains("Request rate configured (RPS):           5.00"));
    CHECK_THAT(text, Catch::Matchers::Contains("Send lag (ms):        mean 250.00"));

    const auto j = b::to_json(r, s);
    CHECK(j["request_rate"] == 5.0);
    CHECK(j["max_concurrency"].is_null());  // no cap
    CHECK(j["dsdeploy"]["mean_ttft_from_scheduled_ms"].get<double>() == Approx(450));
    CHECK(j["dsdeploy"]["p99_e2el_from_scheduled_ms"].get<double>() == Approx(s.e2el.at(99) + 250));

    const auto sum = b::llmperf_summary(r);
    CHECK(sum["request_rate"] == 5.0);  // the open-loop summary records its rate
    CHECK(sum["burstiness"] == 1.0);
    CHECK(sum["max_concurrency"].is_null());
    CHECK(sum["results_send_lag_s_mean"].get<double>() == Approx(0.25));
    CHECK(sum["results_ttft_from_scheduled_s_mean"].get<double>() == Approx(0.45));
    CHECK(sum["results_end_to_end_latency_from_scheduled_s_max"].get<double>() ==
          Approx(sum["results_end_to_end_latency_s_max"].get<double>() + 0.25));
    const auto ind = b::llmperf_individual_responses(r);
    REQUIRE(ind.size() == 3);
    CHECK(ind[2]["scheduled_time_s"].get<double>() == Approx(0.75));
    CHECK(ind[2]["send_time_s"].get<double>() == Approx(1.0));
    CHECK(ind[2]["ttft_from_scheduled_s"].get<double>() == Approx(ind[2]["ttft_s"].get<double>() + 0.25));

    const auto html = b::html_report({{"5 req/s, no cap", &r, &s}});
    CHECK_THAT(html, Catch::Matchers::Contains("mean TTFT from scheduled ms"));
    CHECK_THAT(html, Catch::Matchers::Contains("<td>450"));
}

TEST_CASE("throughput over time: a last partial second is not counted as a whole one", "[summary]") {
    // 10 tokens a second, evenly, for 2.5 s: the last bucket holds 5 tokens in half a second.
    b::run_result r;
    r.workload.model = "m";
    r.duration = 2.5;
    b::request_record q;
    q.status = b::request_status::ok;
    q.sent = q.scheduled = 0;
    for (int k = 0; k < 25; ++k) q.token_times.push_back(0.05 + 0.1 * k);
    q.first_token = q.token_times.front();
    q.last_token = q.token_times.back();
    q.end = 2.5;
    q.output_tokens = 25;
    q.tokens_from_usage = true;
    r.requests = {q};
    const auto s = b::summarize(r);
    REQUIRE(s.output_tokens_per_second.size() == 3);
    CHECK(s.last_bucket_seconds == Approx(0.5));
    CHECK(s.output_tokens_per_second[0] == Approx(10));
    CHECK(s.output_tokens_per_second[2] == Approx(10));  // 5 tokens / 0.5 s, not 5 tokens/s
    CHECK(s.peak_output_throughput == Approx(10));
    // a burst in the last 0.1 s does not make a peak no whole second had
    r.duration = 2.1;
    r.requests[0].token_times.resize(20);
    for (int k = 0; k < 5; ++k) r.requests[0].token_times.push_back(2.05 + 0.001 * k);
    r.requests[0].output_tokens = 25;
    const auto s2 = b::summarize(r);
    REQUIRE(s2.output_tokens_per_second.size() == 3);
    CHECK(s2.output_tokens_per_second[2] == Approx(5 / 0.1));
    CHECK(s2.peak_output_throughput == Approx(10));
}

TEST_CASE("reconcile: predicted beside measured, the error of each, in text, JSON and the report", "[reconcile]") {
    const auto r = sample_result();
    const auto s = b::summarize(r);
    // the workload the run sent: its mean prompt and output tokens, its users
    const auto w = b::perf_workload_for(r, s);
    CHECK(w.input_len == Approx((50 + 60 + 70) / 3.0));
    CHECK(w.output_len == Approx(63 / 3.0));
    CHECK(w.load == dsdeploy::load_kind::closed);
    CHECK(w.concurrency == 2);
    const auto open = late_open_loop(0.25);
    const auto wo = b::perf_workload_for(open, b::summarize(open));
    CHECK(wo.load == dsdeploy::load_kind::open);
    CHECK(wo.request_rate == 5);

    dsdeploy::perf_prediction p;
    auto est = [](double v, double lo, double hi) {
        dsdeploy::estimate e;
        e.value = v;
        e.low = lo;
        e.high = hi;
        e.source = dsdeploy::provenance::calibrated;
        return e;
    };
    p.ttft_ms = est(100, 50, 200);
    p.tpot_ms = est(20, 10, 40);
    p.output_tok_s = est(100, 50, 150);
    p.requests_s = est(2, 1, 3);
    p.fits = true;
    const auto rec = b::reconcile(p, w, s, "M on 2 x 8 <GPU>, TP 8 x PP 2");
    REQUIRE(rec.metrics.size() == 5);
    CHECK(rec.metrics[0].key == "ttft_ms");
    CHECK(rec.metrics[0].measured == Approx(200));
    CHECK(rec.metrics[0].error == Approx(1.0));  // measured twice the prediction
    CHECK(rec.metrics[0].within_range);           // at the top of the range
    CHECK(rec.metrics[1].error == Approx(0.0).margin(1e-9));  // TPOT 20 ms as predicted
    CHECK(rec.metrics[2].key == "itl_ms");
    CHECK(rec.metrics[2].predicted.value == 20);  // the model's ITL is its TPOT
    CHECK(rec.metrics[2].measured == Approx(s.itl.mean));
    CHECK(rec.metrics[3].measured == Approx(63 / 4.0));
    CHECK(rec.metrics[3].error == Approx((63 / 4.0 - 100) / 100));
    CHECK_FALSE(rec.metrics[3].within_range);
    CHECK(rec.metrics[4].measured == Approx(0.75));
    const auto text = b::to_text(rec);
    CHECK_THAT(text, Catch::Matchers::Contains("Predicted beside measured"));
    CHECK_THAT(text, Catch::Matchers::Contains("+100%"));
    CHECK_THAT(text, Catch::Matchers::Contains("-84%"));
    const nlohmann::json j = rec;
    CHECK(j["metrics"][0]["error"].get<double>() == Approx(1.0));
    CHECK(j["metrics"][0]["predicted"]["provenance"] == "calibrated");
    CHECK(j["workload"] == "in=60,out=21,concurrency=2");
    const auto html = b::to_html(rec);
    CHECK_THAT(html, Catch::Matchers::Contains("&lt;GPU&gt;"));
    CHECK_THAT(html, !Catch::Matchers::Contains("<GPU>"));
    const auto page = b::html_report({{"concurrency 2", &r, &s, html}});
    CHECK_THAT(page, Catch::Matchers::Contains("<h2>Predicted beside measured</h2>"));
    // nothing measured (every request failed): no error, no range claim
    b::run_summary none;
    const auto empty = b::reconcile(p, w, none, "x");
    CHECK_FALSE(empty.metrics[0].have_measured);
    CHECK(empty.metrics[0].error == 0);
    CHECK_FALSE(empty.metrics[0].within_range);
    CHECK(nlohmann::json(empty)["metrics"][0]["measured"].is_null());
}

TEST_CASE("reconcile: a deployment's plan from the inventory gate, predicted for a run's workload", "[reconcile]") {
    auto inv = dsdeploy::default_inventory();
    inv.serving.model = "meta-llama/Llama-3.1-70B-Instruct";
    const auto v = dsdeploy::validate_inventory(inv);
    const auto r = sample_result();
    const auto s = b::summarize(r);
    const auto w = b::perf_workload_for(r, s);
    const auto p = dsdeploy::predict_performance(v.plan(), dsdeploy::perf_network_for(inv.network), w);
    const auto label = b::deployment_label(v.plan());
    CHECK(label == "meta-llama/Llama-3.1-70B-Instruct on 2 x 8 L20, TP 8 x PP 2");
    const auto rec = b::reconcile(p, w, s, label);
    for (const auto& m : rec.metrics) {
        CHECK(m.predicted.value > 0);
        CHECK(m.predicted.low <= m.predicted.value);
        CHECK(m.predicted.high >= m.predicted.value);
        CHECK(m.error == Approx((m.measured - m.predicted.value) / m.predicted.value));
    }
}

TEST_CASE("report: one HTML page with inline SVG plots, a sweep adds latency vs concurrency", "[report]") {
    auto r1 = sample_result();
    auto r2 = sample_result();
    r2.max_concurrency = 8;
    r1.workload.model = "<script>alert(1)</script>";
    const auto s1 = b::summarize(r1), s2 = b::summarize(r2);
    const auto one = b::html_report({{"concurrency 2", &r1, &s1}}, "t & t");
    CHECK_THAT(one, Catch::Matchers::StartsWith("<!DOCTYPE html>"));
    CHECK_THAT(one, Catch::Matchers::Contains("t &amp; t"));
    CHECK_THAT(one, !Catch::Matchers::Contains("<script>"));
    auto count = [](const std::string& s, const std::string& what) {
        std::size_t n = 0;
        for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
        return n;
    };
    CHECK(count(one, "<svg") == 3);  // TTFT, ITL, throughput over time
    CHECK_THAT(one, Catch::Matchers::Contains("Time to first token"));
    CHECK_THAT(one, Catch::Matchers::Contains("Inter-token latency"));
    const auto two = b::html_report({{"concurrency 2", &r1, &s1}, {"concurrency 8", &r2, &s2}});
    CHECK(count(two, "<svg") == 5);
    CHECK_THAT(two, Catch::Matchers::Contains("Latency vs concurrency"));
    CHECK(count(two, "<polyline") >= 6);
}

namespace {

// In-process fake transport (no server can be killed on cue here): replays the recorded vLLM
// stream with a pause between events; "fail" in the body gives an HTTP 500.
struct fake_transport {
    std::string sse;
    std::chrono::microseconds pause{0};
    openai::http_response send(const openai::http_request&) { return {}; }
    openai::http_response send(const openai::http_request& q, const openai::stream_sink& sink) {
        openai::http_response res;
        if (q.body.find("\"fail\"") != std::string::npos) {
            sink.on_headers(500, {});
            sink.on_data(R"({"error":{"message":"fake failure","code":500}})");
            res.status = 500;
            return res;
        }
        if (!sink.on_headers(200, {})) {
            res.error = openai::transport_error::canceled;
            return res;
        }
        res.status = 200;
        std::size_t pos = 0;
        while (pos < sse.size()) {
            auto end = sse.find("\n\n", pos);
            end = end == std::string::npos ? sse.size() : end + 2;
            if (pause.count()) std::this_thread::sleep_for(pause);
            if (!sink.on_data(std::string_view(sse).substr(pos, end - pos))) {
                res.error = openai::transport_error::canceled;
                return res;
            }
            pos = end;
        }
        return res;
    }
};

b::workload small_workload(std::size_t n) {
    b::workload_options o;
    o.model = "dsdeploy-tiny-deepseek-v3";
    o.mean_input_tokens = 40;
    o.stddev_input_tokens = 0;
    o.mean_output_tokens = 16;
    o.stddev_output_tokens = 0;
    o.num_requests = n;
    o.warmup_requests = 2;
    return b::make_workload(o);
}

}  // namespace

TEST_CASE("runner with a fake transport: closed and open loop, warm-up not counted, errors per request", "[runner]") {
    fake_transport t{dsdeploy_test::fixture("vllm/chat-stream.sse"), std::chrono::microseconds(200)};
    auto w = small_workload(12);
    w.requests[5].body = R"({"fail":true})";
    b::transport_engine<fake_transport> engine(t);
    b::run_options o;
    o.max_concurrency = 3;
    std::vector<b::progress> seen;
    o.on_progress = [&](const b::progress& p) { seen.push_back(p); };
    o.progress_interval = std::chrono::milliseconds(1);
    const auto r = b::run(engine, w, o, "secret", "http://127.0.0.1:9/v1");
    REQUIRE(r.requests.size() == 12);
    CHECK(r.warmup.size() == 2);
    const auto s = b::summarize(r);
    CHECK(s.completed == 11);
    CHECK(s.failed == 1);
    CHECK(r.requests[5].error_code == 500);
    CHECK_THAT(r.requests[5].error_msg, Catch::Matchers::Contains("fake failure"));
    CHECK(s.total_output_tokens == 11 * 16);  // usage of the recording
    CHECK(s.peak_concurrency <= 3);
    CHECK(s.ttft.n == 11);
    CHECK(r.closed_loop);
    CHECK_FALSE(seen.empty());
    CHECK(seen.back().done <= 12);

    // open loop: sends follow the schedule
    b::run_options open;
    open.request_rate = 200;
    open.max_concurrency = 0;
    open.seed = 3;
    const auto ro = b::run(engine, small_workload(20), open);
    const auto sched = b::arrival_offsets(20, 200, 1, 3);
    for (std::size_t i = 0; i < ro.requests.size(); ++i) {
        CHECK(ro.requests[i].scheduled == sched[i]);
        CHECK(ro.requests[i].sent >= sched[i]);
    }
    CHECK(b::summarize(ro).queue.n == 20);
    CHECK_FALSE(ro.closed_loop);

    b::run_options bad;
    bad.max_concurrency = 0;
    CHECK_DSDEPLOY_ERROR(b::run(engine, w, bad), errc::bench_config, "max_concurrency", "no cap");
}

TEST_CASE("runner with a fake transport: SIGINT and the time limit keep the results gathered so far", "[runner][sigint]") {
    fake_transport slow{dsdeploy_test::fixture("vllm/chat-stream.sse"), std::chrono::milliseconds(10)};  // ~0.2 s a request
    b::transport_engine<fake_transport> engine(slow);
    const auto w = small_workload(40);
    {
        b::interrupt_guard guard;
        b::run_options o;
        o.max_concurrency = 2;
        o.stop = guard.flag();
        o.progress_interval = std::chrono::milliseconds(20);
        bool signalled = false;  // Ctrl-C after two requests finished, however slow the machine
        o.on_progress = [&](const b::progress& p) {
            if (!signalled && !p.warmup && p.done >= 2) {
                signalled = true;
                std::raise(SIGINT);
            }
        };
        const auto r = b::run(engine, w, o);
        CHECK(signalled);
        CHECK(guard.interrupted());
        CHECK(r.interrupted);
        const auto s = b::summarize(r);
        CHECK(s.completed >= 2);
        CHECK(s.completed < 40);
        CHECK(s.cancelled > 0);
        CHECK(s.failed == 0);  // cancelled requests are not errors
        const auto dir = temp_dir("sigint");
        const auto paths = b::write_llmperf_files(dir, r);
        const auto j = nlohmann::json::parse(dsdeploy_test::read_file(paths[0]));
        CHECK(j["results_num_completed_requests"] == s.completed);
        CHECK(j["results_num_requests_started"] == s.completed);
    }
    {
        b::run_options o;
        o.max_concurrency = 2;
        o.time_limit = std::chrono::milliseconds(500);
        const auto r = b::run(engine, w, o);
        CHECK(r.time_limit_hit);
        const auto s = b::summarize(r);
        CHECK(s.completed >= 2);
        CHECK(s.completed < 40);
        CHECK(s.failed == 0);  // requests in flight at the limit finish
        CHECK(r.duration < 2.0);
    }
    {
        b::run_options o;  // a request timeout is an error with its kind
        o.max_concurrency = 2;
        o.request_timeout = std::chrono::milliseconds(50);
        auto w2 = small_workload(2);
        const auto r = b::run(engine, w2, o);
        const auto s = b::summarize(r);
        for (const auto& q : r.requests)
            UNSCOPED_INFO("request " << q.index << " status " << static_cast<int>(q.status) << " kind " << q.error_kind << " sent "
                            << q.sent << " end " << q.end << " events " << q.events);
        CHECK(s.failed == 2);
        CHECK(r.requests[0].error_kind == "timeout");
        CHECK(s.errors.at("-1 timeout") == 2);
    }
}

}  // namespace bench_test
