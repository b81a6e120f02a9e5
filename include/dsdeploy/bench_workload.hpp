// SPDX-License-Identifier: Apache-2.0
// The benchmark's workload: prompts from a public-domain corpus (Shakespeare's sonnets, as
// llmperf uses), lengths drawn like llmperf's (Gaussian, redrawn until positive), every body
// built before the timed run starts, and the send times of an open-loop run (vLLM's
// gamma-distributed gaps). No I/O: server_token_counter asks the client it is given.
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/openai_errors.hpp>
#include <dsdeploy/openai_types.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace bench {

enum class endpoint { chat, completions };
std::string_view to_string(endpoint e);

// The sonnets shipped with dsdeploy (public domain), one line per verse line.
std::string_view sonnet_corpus();

struct workload_options {
    std::string model;
    bench::endpoint endpoint = endpoint::chat;
    int mean_input_tokens = 550;
    int stddev_input_tokens = 150;
    int mean_output_tokens = 150;
    int stddev_output_tokens = 80;
    std::size_t num_requests = 10;
    std::size_t warmup_requests = 0;      // extra requests sent before the measured ones
    std::uint64_t seed = 11111;           // llmperf's seed
    bool ignore_eos = false;              // vLLM's extension: generate exactly max_tokens
    // Merged into every body last (llmperf's --additional-sampling-params), so it may override
    // max_tokens, add temperature, ignore_eos, ...
    nlohmann::json additional_sampling_params = nlohmann::json::object();
};

// Counts the tokens of a prompt. server_token_counter asks the server's /tokenize.
struct token_counter {
    std::function<std::int64_t(const std::string& prompt)> count;
    std::string source;  // what was measured, e.g. "server /tokenize (model X)"
    explicit operator bool() const noexcept { return static_cast<bool>(count); }
};

// A counter that asks `client.tokenize` for the prompt's tokens (without the chat template),
// or an empty counter when the server has no /tokenize (checked once, with a probe).
template <class Client>
token_counter server_token_counter(Client& client, const std::string& model);

struct request_spec {
    std::string prompt;
    std::int64_t target_input_tokens = 0;  // the drawn length
    std::int64_t prompt_tokens = 0;        // measured by the counter, or estimated
    int max_tokens = 0;                    // the drawn length (a ceiling for the server)
    std::string body;                      // the JSON body, as sent
};

struct workload {
    bench::endpoint endpoint = endpoint::chat;
    std::string model;
    std::vector<request_spec> requests;
    std::vector<request_spec> warmup;
    // How prompt lengths were measured: the counter's source, or
    // "estimate (4 characters per token; the server has no /tokenize)".
    std::string prompt_token_source;
    workload_options options;
};

// Builds every prompt and body. The prompt is an instruction to stream lines (as llmperf's)
// followed by corpus lines from a seeded shuffle until the counter says the target is reached;
// it is then trimmed word by word to at most the target. Throws bench.config for invalid
// options (negative sizes, no model, sampling params that are not an object).
workload make_workload(const workload_options& o, const token_counter& count = {});

// Send times, in seconds from the start, of n requests at `rate` requests/s with gamma-
// distributed gaps of shape `burstiness` (1: Poisson; < 1 burstier; > 1 more regular), as
// vLLM's bench: the cumulative gaps are rescaled so that the last request is sent at n/rate.
// rate = infinity sends everything at 0. Throws bench.config for rate <= 0 or burstiness <= 0.
std::vector<double> arrival_offsets(std::size_t n, double rate, double burstiness, std::uint64_t seed);

template <class Client>
token_counter server_token_counter(Client& client, const std::string& model) {
    openai::tokenize_request probe;
    probe.model = model;
    probe.prompt = "probe";
    try {
        (void)client.tokenize(probe);
    } catch (const openai::api_error&) {
        return {};
    }
    token_counter c;
    c.source = "server /tokenize";
    c.count = [&client, model](const std::string& prompt) {
        openai::tokenize_request r;
        r.model = model;
        r.prompt = prompt;
        r.add_special_tokens = false;
        return client.tokenize(r).count;
    };
    return c;
}

}  // namespace bench
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/bench_workload_inl.hpp>
#endif
