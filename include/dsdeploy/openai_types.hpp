// SPDX-License-Identifier: Apache-2.0
// The OpenAI API's requests and responses as plain structs, with vLLM's extras (sampling
// parameters, structured outputs, /tokenize): chat completions, completions, streamed chunks,
// models, embeddings. Each response keeps the fields it does not model in `extra`. Their JSON
// form is in openai_codec.hpp.
#pragma once

#include <dsdeploy/config.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

using seconds_d = std::chrono::duration<double>;

// Requests.

// A function call requested by the model. In stream deltas, `index` says which call a fragment
// belongs to and `arguments` arrives in pieces; the accumulated message has whole calls.
struct tool_call {
    int index = 0;
    std::string id;
    std::string type = "function";
    std::string name;
    std::string arguments;  // JSON text, as the model wrote it
};

struct chat_message {
    std::string role;                    // "system", "user", "assistant", "tool"
    std::optional<std::string> content;  // null for tool-call-only or reasoning-only answers
    // The model's reasoning (DeepSeek-R1 with --reasoning-parser deepseek_r1). vLLM up to 0.11.0
    // calls it "reasoning_content", later versions "reasoning"; both are read, "reasoning" wins.
    // It is never sent back in requests (the R1 chat template drops it anyway).
    std::optional<std::string> reasoning;
    std::vector<tool_call> tool_calls;
    std::string name;          // optional participant name
    std::string tool_call_id;  // for role "tool"
    nlohmann::json extra = nlohmann::json::object();  // unknown fields (responses) / merged last (requests)

    chat_message() = default;
    chat_message(std::string role_, std::string content_) : role(std::move(role_)), content(std::move(content_)) {}
};

// vLLM's structured outputs: at most one constraint. Sent as the `structured_outputs` object
// (vLLM 0.11 and later) or, with client_options::legacy_guided_decoding, as the `guided_*`
// fields that vLLM up to 0.11 reads (and 0.12 silently ignores).
struct structured_outputs {
    std::optional<nlohmann::json> json_schema;     // "json": a JSON schema the output must match
    std::optional<std::string> regex;              // the output matches this regular expression
    std::optional<std::vector<std::string>> choice;// the output is exactly one of these
    std::optional<std::string> grammar;            // an EBNF/Lark grammar
    bool json_object = false;                      // any JSON object
    std::optional<std::string> whitespace_pattern;

    // How many constraints are set (more than one is a client.config error when sent).
    int constraints() const;
};

struct stream_options {
    bool include_usage = true;            // one last chunk with usage and no choices
    bool continuous_usage_stats = false;  // vLLM: running usage on every chunk
};

// Sampling settings shared by chat and text completions. Unset fields are not sent, so the
// server's defaults (the model's generation_config.json in vLLM) apply.
struct sampling_params {
    std::string model;  // empty: not sent (vLLM then uses its only served model)
    std::optional<int> max_tokens;
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<int> n;
    std::vector<std::string> stop;
    std::optional<std::int64_t> seed;
    std::optional<double> presence_penalty;
    std::optional<double> frequency_penalty;
    std::map<std::string, double> logit_bias;  // token id (as text) -> bias
    std::string user;
    // vLLM's sampling extras
    std::optional<int> top_k;                  // -1 or 0: off
    std::optional<double> min_p;
    std::optional<double> repetition_penalty;
    std::optional<int> min_tokens;
    std::optional<bool> ignore_eos;
    std::optional<bool> skip_special_tokens;
    std::optional<structured_outputs> structured;
    std::optional<nlohmann::json> response_format;  // {"type": "json_schema", ...} etc.
    // Anything not modelled, merged into the request last with JSON merge-patch semantics
    // (a null removes a field). E.g. {"priority": 1, "vllm_xargs": {...}}.
    nlohmann::json extra = nlohmann::json::object();
};

struct chat_request : sampling_params {
    std::vector<chat_message> messages;
    std::optional<bool> logprobs;
    std::optional<int> top_logprobs;
    std::optional<int> max_completion_tokens;
    nlohmann::json tools;        // null: not sent; else the OpenAI tools array
    nlohmann::json tool_choice;  // null: not sent
    // vLLM: passed to the Jinja chat template, e.g. {"thinking": false}. null: not sent.
    nlohmann::json chat_template_kwargs;
    std::optional<bool> add_generation_prompt;
    std::optional<bool> continue_final_message;
    std::optional<stream_options> streaming;  // sent as stream_options when streaming
};

struct completion_request : sampling_params {
    nlohmann::json prompt = "";  // a string, a list of strings, token ids or lists of token ids
    std::optional<bool> echo;
    std::optional<int> logprobs;
    std::string suffix;
    std::optional<stream_options> streaming;
};

struct embedding_request {
    std::string model;
    nlohmann::json input = "";  // a string, a list of strings, token ids
    std::string encoding_format;  // "float" (default) or "base64"
    std::optional<int> dimensions;
    nlohmann::json extra = nlohmann::json::object();
};

// POST /tokenize. The chat form (messages non-empty) renders the chat template first.
struct tokenize_request {
    std::string model;
    std::optional<std::string> prompt;
    std::vector<chat_message> messages;
    std::optional<bool> add_special_tokens;
    std::optional<bool> add_generation_prompt;
    bool return_token_strs = false;
    nlohmann::json chat_template_kwargs;  // null: not sent
    nlohmann::json extra = nlohmann::json::object();
};

// Responses. Each keeps the fields it does not model in `extra` (e.g. vLLM's
// kv_transfer_params, prompt_logprobs, service_tier).

struct usage {
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::int64_t total_tokens = 0;
    std::optional<std::int64_t> cached_tokens;  // prompt_tokens_details.cached_tokens
    nlohmann::json extra = nlohmann::json::object();
};

// Timings of a streamed request, measured by the client from the moment it sent the request.
struct stream_stats {
    seconds_d time_to_first_chunk{0};  // first event of any kind
    seconds_d time_to_first_token{0};  // first chunk with text (content, reasoning or text)
    seconds_d total{0};                // until [DONE]
    std::size_t chunks = 0;            // data events decoded, [DONE] excluded
    std::size_t text_chunks = 0;       // chunks that carried text
};

struct chat_choice {
    int index = 0;
    chat_message message;
    std::string finish_reason;  // "stop", "length", "tool_calls", "abort"; empty when none
    nlohmann::json stop_reason;  // vLLM: the stop string or token id that fired, or null
    nlohmann::json logprobs;
    nlohmann::json extra = nlohmann::json::object();
};

struct chat_completion {
    std::string id;
    std::string object;
    std::int64_t created = 0;
    std::string model;
    std::vector<chat_choice> choices;
    std::optional<openai::usage> usage;
    std::optional<stream_stats> stream;  // set when the completion was assembled from a stream
    nlohmann::json extra = nlohmann::json::object();

    // The first choice's content, or "" (convenience).
    std::string text() const;
};

struct chat_delta {
    std::optional<std::string> role;
    std::optional<std::string> content;
    std::optional<std::string> reasoning;  // "reasoning" or "reasoning_content"
    std::vector<tool_call> tool_calls;
    nlohmann::json extra = nlohmann::json::object();
};

struct chat_chunk_choice {
    int index = 0;
    chat_delta delta;
    std::string finish_reason;  // empty while generating
    nlohmann::json stop_reason;
    nlohmann::json logprobs;
    nlohmann::json extra = nlohmann::json::object();
};

struct chat_chunk {
    std::string id;
    std::string object;
    std::int64_t created = 0;
    std::string model;
    std::vector<chat_chunk_choice> choices;  // empty in the usage chunk
    std::optional<openai::usage> usage;
    nlohmann::json extra = nlohmann::json::object();
};

struct completion_choice {
    int index = 0;
    std::string text;
    std::string finish_reason;
    nlohmann::json stop_reason;
    nlohmann::json logprobs;
    nlohmann::json extra = nlohmann::json::object();
};

// A text completion, and also one chunk of a streamed one (the same shape).
struct completion {
    std::string id;
    std::string object;
    std::int64_t created = 0;
    std::string model;
    std::vector<completion_choice> choices;
    std::optional<openai::usage> usage;
    std::optional<stream_stats> stream;
    nlohmann::json extra = nlohmann::json::object();

    std::string text() const;
};

struct model_info {
    std::string id;
    std::string object;
    std::int64_t created = 0;
    std::string owned_by;
    std::string root;                        // vLLM: the model path
    std::string parent;                      // vLLM: base model of a LoRA adapter
    std::optional<std::int64_t> max_model_len;  // vLLM: the context length served
    nlohmann::json extra = nlohmann::json::object();
};

struct model_list {
    std::vector<model_info> data;
    nlohmann::json extra = nlohmann::json::object();
};

struct embedding {
    int index = 0;
    std::vector<double> values;  // empty when encoding_format was "base64": see `raw`
    nlohmann::json raw;          // the "embedding" value as sent
};

struct embedding_response {
    std::string model;
    std::vector<embedding> data;
    std::optional<openai::usage> usage;
    nlohmann::json extra = nlohmann::json::object();
};

struct tokenize_response {
    std::int64_t count = 0;
    std::int64_t max_model_len = 0;
    std::vector<std::int64_t> tokens;
    std::vector<std::string> token_strs;  // with return_token_strs
    nlohmann::json extra = nlohmann::json::object();
};

}  // namespace openai
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/openai_types_inl.hpp>
#endif
