// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/openai.hpp>

#include <dsdeploy/detail/sse.hpp>
#include <dsdeploy/detail/text.hpp>
#include <dsdeploy/version.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <random>
#include <thread>

#if DSDEPLOY_ENABLE_HTTPLIB
#include <httplib.h>
#endif

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

// ---------------------------------------------------------------------------------------------
// JSON reading helpers: every type error becomes client.decode naming the field.
// ---------------------------------------------------------------------------------------------
namespace detail {

inline std::string join_path(const std::string& path, std::string_view key) {
    if (path.empty()) return std::string(key);
    return path + "." + std::string(key);
}

inline std::string index_path(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

[[noreturn]] inline void wrong_type(const std::string& field, const nlohmann::json& v, std::string_view expected) {
    throw api_decode_error(field, std::string("is ") + v.type_name() + ", expected " + std::string(expected));
}

inline void require_object(const nlohmann::json& j, const std::string& path) {
    if (!j.is_object()) wrong_type(path.empty() ? std::string("(document)") : path, j, "an object");
}

// A field that must be present (as an object member) is read with these; absent and null
// leave the target untouched.
inline const nlohmann::json* member(const nlohmann::json& j, std::string_view key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
}

inline void read_string(const nlohmann::json& j, std::string_view key, const std::string& path, std::string& out) {
    if (const auto* v = member(j, key)) {
        if (!v->is_string()) wrong_type(join_path(path, key), *v, "a string");
        out = v->get<std::string>();
    }
}

inline void read_opt_string(const nlohmann::json& j, std::string_view key, const std::string& path,
                            std::optional<std::string>& out) {
    if (const auto* v = member(j, key)) {
        if (!v->is_string()) wrong_type(join_path(path, key), *v, "a string");
        out = v->get<std::string>();
    }
}

inline void read_int(const nlohmann::json& j, std::string_view key, const std::string& path, std::int64_t& out) {
    if (const auto* v = member(j, key)) {
        if (v->is_number_integer()) {
            out = v->get<std::int64_t>();
        } else if (v->is_number_float() && std::isfinite(v->get<double>()) && std::abs(v->get<double>()) < 9.0e15 &&
                   std::floor(v->get<double>()) == v->get<double>()) {
            out = static_cast<std::int64_t>(v->get<double>());
        } else {
            wrong_type(join_path(path, key), *v, "an integer");
        }
    }
}

inline void read_int(const nlohmann::json& j, std::string_view key, const std::string& path, int& out) {
    std::int64_t v = out;
    read_int(j, key, path, v);
    if (v < INT32_MIN || v > INT32_MAX) throw api_decode_error(join_path(path, key), "is out of range");
    out = static_cast<int>(v);
}

inline void read_opt_int(const nlohmann::json& j, std::string_view key, const std::string& path,
                         std::optional<std::int64_t>& out) {
    if (member(j, key)) {
        std::int64_t v = 0;
        read_int(j, key, path, v);
        out = v;
    }
}

inline void read_json(const nlohmann::json& j, std::string_view key, nlohmann::json& out) {
    auto it = j.find(key);
    if (it != j.end()) out = *it;
}

inline nlohmann::json unknown_fields(const nlohmann::json& j, std::initializer_list<std::string_view> known) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = j.begin(); it != j.end(); ++it)
        if (std::find(known.begin(), known.end(), std::string_view(it.key())) == known.end()) out[it.key()] = it.value();
    return out;
}

inline const nlohmann::json* array_member(const nlohmann::json& j, std::string_view key, const std::string& path) {
    const auto* v = member(j, key);
    if (v && !v->is_array()) wrong_type(join_path(path, key), *v, "an array");
    return v;
}

inline void read_tool_calls(const nlohmann::json& j, const std::string& path, std::vector<tool_call>& out) {
    const auto* arr = array_member(j, "tool_calls", path);
    if (!arr) return;
    const std::string base = join_path(path, "tool_calls");
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto& t = (*arr)[i];
        const std::string p = index_path(base, i);
        require_object(t, p);
        tool_call c;
        c.index = static_cast<int>(i);
        read_int(t, "index", p, c.index);
        read_string(t, "id", p, c.id);
        read_string(t, "type", p, c.type);
        if (const auto* f = member(t, "function")) {
            require_object(*f, join_path(p, "function"));
            read_string(*f, "name", join_path(p, "function"), c.name);
            read_string(*f, "arguments", join_path(p, "function"), c.arguments);
        }
        out.push_back(std::move(c));
    }
}

// "reasoning" (vLLM > 0.11.0) wins over "reasoning_content" (vLLM 0.8 - 0.11.0, DeepSeek's API).
inline void read_reasoning(const nlohmann::json& j, const std::string& path, std::optional<std::string>& out) {
    read_opt_string(j, "reasoning_content", path, out);
    std::optional<std::string> newer;
    read_opt_string(j, "reasoning", path, newer);
    if (newer) out = std::move(newer);
}

inline void read_message(const nlohmann::json& j, const std::string& path, chat_message& m) {
    require_object(j, path);
    read_string(j, "role", path, m.role);
    m.extra = unknown_fields(j, {"role", "content", "reasoning", "reasoning_content", "tool_calls", "name", "tool_call_id"});
    if (const auto* c = member(j, "content")) {
        if (c->is_string()) m.content = c->get<std::string>();
        else if (c->is_array()) m.extra["content"] = *c;  // content parts: kept as sent
        else wrong_type(join_path(path, "content"), *c, "a string, null or an array of content parts");
    }
    read_reasoning(j, path, m.reasoning);
    read_tool_calls(j, path, m.tool_calls);
    read_string(j, "name", path, m.name);
    read_string(j, "tool_call_id", path, m.tool_call_id);
}

inline void read_usage(const nlohmann::json& j, const std::string& path, usage& u) {
    require_object(j, path);
    read_int(j, "prompt_tokens", path, u.prompt_tokens);
    read_int(j, "completion_tokens", path, u.completion_tokens);
    read_int(j, "total_tokens", path, u.total_tokens);
    if (const auto* d = member(j, "prompt_tokens_details")) {
        require_object(*d, join_path(path, "prompt_tokens_details"));
        read_opt_int(*d, "cached_tokens", join_path(path, "prompt_tokens_details"), u.cached_tokens);
    }
    u.extra = unknown_fields(j, {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details"});
}

inline void read_opt_usage(const nlohmann::json& j, const std::string& path, std::optional<usage>& out) {
    if (const auto* u = member(j, "usage")) {
        usage v;
        read_usage(*u, join_path(path, "usage"), v);
        out = std::move(v);
    }
}

template <class Choice, class ReadChoice>
void read_choices(const nlohmann::json& j, const std::string& path, std::vector<Choice>& out, ReadChoice read) {
    const auto* arr = array_member(j, "choices", path);
    if (!arr) return;
    const std::string base = join_path(path, "choices");
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const std::string p = index_path(base, i);
        require_object((*arr)[i], p);
        Choice c;
        c.index = static_cast<int>(i);
        read_int((*arr)[i], "index", p, c.index);
        read(c, (*arr)[i], p);
        out.push_back(std::move(c));
    }
}

inline void read_header_fields(const nlohmann::json& j, const std::string& path, std::string& id, std::string& object,
                               std::int64_t& created, std::string& model) {
    read_string(j, "id", path, id);
    read_string(j, "object", path, object);
    read_int(j, "created", path, created);
    read_string(j, "model", path, model);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// from_json / to_json
// ---------------------------------------------------------------------------------------------

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const tool_call& v) {
    j = nlohmann::json{{"id", v.id}, {"type", v.type}, {"function", {{"name", v.name}, {"arguments", v.arguments}}}};
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const chat_message& v) {
    j = nlohmann::json::object();
    j["role"] = v.role;
    if (v.content) j["content"] = *v.content;
    else j["content"] = nullptr;
    if (!v.name.empty()) j["name"] = v.name;
    if (!v.tool_call_id.empty()) j["tool_call_id"] = v.tool_call_id;
    if (!v.tool_calls.empty()) j["tool_calls"] = v.tool_calls;
    if (v.extra.is_object()) j.merge_patch(v.extra);
}

DSDEPLOY_INLINE void from_json(const nlohmann::json& j, chat_message& v) {
    v = chat_message{};
    detail::read_message(j, "", v);
}

DSDEPLOY_INLINE void to_json(nlohmann::json& j, const usage& v) {
    j = nlohmann::json{{"prompt_tokens", v.prompt_tokens},
                       {"completion_tokens", v.completion_tokens},
                       {"total_tokens", v.total_tokens}};
    if (v.cached_tokens) j["prompt_tokens_details"] = {{"cached_tokens", *v.cached_tokens}};
    if (v.extra.is_object()) j.merge_patch(v.extra);
}

DSDEPLOY_INLINE void from_json(const nlohmann::json& j, usage& v) {
    v = usage{};
    detail::read_usage(j, "", v);
}

DSDEPLOY_INLINE void from_json(const nlohmann::json& j, chat_completion& v) {
    using namespace detail;
    v = chat_completion{};
    require_object(j, "");
    read_header_fields(j, "", v.id, v.object, v.created, v.model);
    read_choices(j, "", v.choices, [](chat_choice& c, const nlohmann::json& cj, const std::string& p) {
        if (const auto* m = member(cj, "message")) read_message(*m, join_path(p, "message"), c.message);
        read_string(cj, "finish_reason", p, c.finish_reason);
        read_json(cj, "stop_reason", c.stop_reason);
        read_json(cj, "logprobs", c.logprobs);
        c.extra = unknown_fields(cj, {"index", "message", "finish_reason", "stop_reason", "logprobs"});
    });
    read_opt_usage(j, "", v.usage);
    v.extra = unknown_fields(j, {"id", "object", "created", "model", "choices", "usage"});
}

DSDEPLOY_INLINE void from_json(const nlohmann::json& j, chat_chunk& v) {
    using namespace detail;
    v = chat_chunk{};
    require_object(j, "");
    read_header_fields(j, "", v.id, v.object, v.created, v.model);
    read_choices(j, "", v.choices, [](chat_chunk_choice& c, const nlohmann::json& cj, const std::string& p) {
        if (const auto* d = member(cj, "delta")) {
            const std::string dp = join_path(p, "delta");
            require_object(*d, dp);
            read_opt_string(*d, "role", dp, c.delta.role);
            read_opt_string(*d, "content", dp, c.delta.content);
            read_reasoning(*d, dp, c.delta.reasoning);
            read_tool_calls(*d, dp, c.delta.tool_calls);
            c.delta.extra = unknown_fields(*d, {"role", "content", "reasoning", "reasoning_content", "tool_calls"});
        }
        read_string(cj, "finish_reason", p, c.finish_reason);
        read_json(cj, "stop_reason", c.stop_reason);
        read_json(cj, "logprobs", c.logprobs);
        c.extra = unknown_fields(cj, {"index", "delta", "finish_reason", "stop_reason", "logprobs"});
    });
    read_opt_usage(j, "", v.usage);
    v.extra = unknown_fields(j, {"id", "object", "created", "model", "choices", "usage"});
}

DSDEPLOY_INLINE void from_json(const nlohmann::json& j, completion& v) {
    using namespace detail;
    v = completion{};
    require_object(j, "");
    read_header_fields(j, "", v.id, v.object, v.created, v.model);
    read_choices(j, "", v.choices, [](completion_choice& c, const nlohmann::json& cj, const std::string& p) {
        read_string(cj, "text", p, c.text);
        read_string(cj, "finish_reason", p, c.finish_reason);
        read_json(cj, "stop_reason", c.stop_reason);
        read_json(cj, "logprobs", c.logprobs);
        c.extra = unknown_fields(cj, {"index", "text", "finish_reason", "stop_reason", "logprobs"});
    });
    read_opt_usage(j, "", v.usage);
    v.extra = unknown_fields(j, {"id", "object", "created", "model", "choices", "usage"});
}

namespace detail {
inline void read_model_info(const nlohmann::json& j, const std::string& p, model_info& v) {
    require_object(j, p);
    read_string(j, "id", p, v.id);
    read_string(j, "object", p, v.object);
    read_int(j, "created", p, v.created);
    read_string(j, "owned_by", p, v.owned_by);
    read_string(j, "root", p, v.root);
    read_string(j, "parent", p, v.parent);
    read_opt_int(j, "max_model_len", p, v.max_model_len);
    v.extra = unknown_fields(j, {"id", "object", "created", "owned_by", "root", "parent", "max_model_len"});
}
}  // namespace detail

DSDEPLOY_INLINE void from_json(const nlohmann::json& j, model_info& v) {
    v = model_info{};
    detail::read_model_info(j, "", v);
}

DSDEPLOY_INLINE void from_json(const nlohmann::json& j, model_list& v) {
    using namespace detail;
    v = model_list{};
    require_object(j, "");
    const auto* arr = array_member(j, "data", "");
    if (!arr) throw api_decode_error("data", "is missing; a model list has a \"data\" array");
    for (std::size_t i = 0; i < arr->size(); ++i) {
        model_info m;
        read_model_info((*arr)[i], index_path("data", i), m);
        v.data.push_back(std::move(m));
    }
    v.extra = unknown_fields(j, {"data"});
}

DSDEPLOY_INLINE void from_json(const nlohmann::json& j, embedding_response& v) {
    using namespace detail;
    v = embedding_response{};
    require_object(j, "");
    read_string(j, "model", "", v.model);
    if (const auto* arr = array_member(j, "data", "")) {
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const std::string p = index_path("data", i);
            const auto& e = (*arr)[i];
            require_object(e, p);
            embedding out;
            out.index = static_cast<int>(i);
            read_int(e, "index", p, out.index);
            read_json(e, "embedding", out.raw);
            if (out.raw.is_array()) {
                for (std::size_t k = 0; k < out.raw.size(); ++k) {
                    if (!out.raw[k].is_number()) wrong_type(index_path(join_path(p, "embedding"), k), out.raw[k], "a number");
                    out.values.push_back(out.raw[k].get<double>());
                }
            } else if (!out.raw.is_string()) {
                wrong_type(join_path(p, "embedding"), out.raw, "an array of numbers or a base64 string");
            }
            v.data.push_back(std::move(out));
        }
    }
    read_opt_usage(j, "", v.usage);
    v.extra = unknown_fields(j, {"model", "data", "usage"});
}

DSDEPLOY_INLINE void from_json(const nlohmann::json& j, tokenize_response& v) {
    using namespace detail;
    v = tokenize_response{};
    require_object(j, "");
    read_int(j, "count", "", v.count);
    read_int(j, "max_model_len", "", v.max_model_len);
    if (const auto* arr = array_member(j, "tokens", "")) {
        for (std::size_t i = 0; i < arr->size(); ++i) {
            if (!(*arr)[i].is_number_integer()) wrong_type(index_path("tokens", i), (*arr)[i], "an integer");
            v.tokens.push_back((*arr)[i].get<std::int64_t>());
        }
    }
    if (const auto* arr = array_member(j, "token_strs", "")) {
        for (std::size_t i = 0; i < arr->size(); ++i) {
            if (!(*arr)[i].is_string()) wrong_type(index_path("token_strs", i), (*arr)[i], "a string");
            v.token_strs.push_back((*arr)[i].get<std::string>());
        }
    }
    v.extra = unknown_fields(j, {"count", "max_model_len", "tokens", "token_strs"});
}


DSDEPLOY_INLINE std::string chat_completion::text() const {
    return choices.empty() || !choices.front().message.content ? std::string() : *choices.front().message.content;
}

DSDEPLOY_INLINE std::string completion::text() const { return choices.empty() ? std::string() : choices.front().text; }

// ---------------------------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------------------------

DSDEPLOY_INLINE int structured_outputs::constraints() const {
    return int(json_schema.has_value()) + int(regex.has_value()) + int(choice.has_value()) + int(grammar.has_value()) +
           int(json_object);
}

namespace detail {

inline void check_extra(const nlohmann::json& extra, const char* field) {
    if (!extra.is_null() && !extra.is_object())
        raise(errc::client_config, field, std::string("must be a JSON object (merged into the request), not ") + extra.type_name());
}

inline void encode_sampling(nlohmann::json& j, const sampling_params& r, request_encoding enc) {
    if (!r.model.empty()) j["model"] = r.model;
    if (r.max_tokens) j["max_tokens"] = *r.max_tokens;
    if (r.temperature) j["temperature"] = *r.temperature;
    if (r.top_p) j["top_p"] = *r.top_p;
    if (r.n) j["n"] = *r.n;
    if (!r.stop.empty()) j["stop"] = r.stop;
    if (r.seed) j["seed"] = *r.seed;
    if (r.presence_penalty) j["presence_penalty"] = *r.presence_penalty;
    if (r.frequency_penalty) j["frequency_penalty"] = *r.frequency_penalty;
    if (!r.logit_bias.empty()) j["logit_bias"] = r.logit_bias;
    if (!r.user.empty()) j["user"] = r.user;
    if (r.top_k) j["top_k"] = *r.top_k;
    if (r.min_p) j["min_p"] = *r.min_p;
    if (r.repetition_penalty) j["repetition_penalty"] = *r.repetition_penalty;
    if (r.min_tokens) j["min_tokens"] = *r.min_tokens;
    if (r.ignore_eos) j["ignore_eos"] = *r.ignore_eos;
    if (r.skip_special_tokens) j["skip_special_tokens"] = *r.skip_special_tokens;
    if (r.response_format) j["response_format"] = *r.response_format;
    if (r.structured) {
        const auto& s = *r.structured;
        if (s.constraints() > 1)
            raise(errc::client_config, "structured",
                  "sets " + std::to_string(s.constraints()) +
                      " constraints; vLLM accepts one of json_schema, regex, choice, grammar or json_object");
        if (enc.legacy_guided_decoding) {
            if (s.json_schema) j["guided_json"] = *s.json_schema;
            if (s.regex) j["guided_regex"] = *s.regex;
            if (s.choice) j["guided_choice"] = *s.choice;
            if (s.grammar) j["guided_grammar"] = *s.grammar;
            if (s.json_object && !r.response_format) j["response_format"] = {{"type", "json_object"}};
            if (s.whitespace_pattern) j["guided_whitespace_pattern"] = *s.whitespace_pattern;
        } else {
            nlohmann::json so = nlohmann::json::object();
            if (s.json_schema) so["json"] = *s.json_schema;
            if (s.regex) so["regex"] = *s.regex;
            if (s.choice) so["choice"] = *s.choice;
            if (s.grammar) so["grammar"] = *s.grammar;
            if (s.json_object) so["json_object"] = true;
            if (s.whitespace_pattern) so["whitespace_pattern"] = *s.whitespace_pattern;
            j["structured_outputs"] = std::move(so);
        }
    }
}

inline void encode_stream(nlohmann::json& j, bool stream, const std::optional<stream_options>& so) {
    if (!stream) return;
    j["stream"] = true;
    const stream_options o = so.value_or(stream_options{});
    // vLLM treats a present stream_options object as include_usage = true unless told otherwise.
    j["stream_options"] = {{"include_usage", o.include_usage}};
    if (o.continuous_usage_stats) j["stream_options"]["continuous_usage_stats"] = true;
}

}  // namespace detail

DSDEPLOY_INLINE nlohmann::json encode(const chat_request& r, bool stream, request_encoding enc) {
    detail::check_extra(r.extra, "extra");
    nlohmann::json j = nlohmann::json::object();
    j["messages"] = r.messages;
    detail::encode_sampling(j, r, enc);
    if (r.logprobs) j["logprobs"] = *r.logprobs;
    if (r.top_logprobs) j["top_logprobs"] = *r.top_logprobs;
    if (r.max_completion_tokens) j["max_completion_tokens"] = *r.max_completion_tokens;
    if (!r.tools.is_null()) j["tools"] = r.tools;
    if (!r.tool_choice.is_null()) j["tool_choice"] = r.tool_choice;
    if (!r.chat_template_kwargs.is_null()) j["chat_template_kwargs"] = r.chat_template_kwargs;
    if (r.add_generation_prompt) j["add_generation_prompt"] = *r.add_generation_prompt;
    if (r.continue_final_message) j["continue_final_message"] = *r.continue_final_message;
    detail::encode_stream(j, stream, r.streaming);
    if (r.extra.is_object()) j.merge_patch(r.extra);
    return j;
}

DSDEPLOY_INLINE nlohmann::json encode(const completion_request& r, bool stream, request_encoding enc) {
    detail::check_extra(r.extra, "extra");
    nlohmann::json j = nlohmann::json::object();
    j["prompt"] = r.prompt;
    detail::encode_sampling(j, r, enc);
    if (r.echo) j["echo"] = *r.echo;
    if (r.logprobs) j["logprobs"] = *r.logprobs;
    if (!r.suffix.empty()) j["suffix"] = r.suffix;
    detail::encode_stream(j, stream, r.streaming);
    if (r.extra.is_object()) j.merge_patch(r.extra);
    return j;
}

DSDEPLOY_INLINE nlohmann::json encode(const embedding_request& r) {
    detail::check_extra(r.extra, "extra");
    nlohmann::json j = {{"input", r.input}};
    if (!r.model.empty()) j["model"] = r.model;
    if (!r.encoding_format.empty()) j["encoding_format"] = r.encoding_format;
    if (r.dimensions) j["dimensions"] = *r.dimensions;
    if (r.extra.is_object()) j.merge_patch(r.extra);
    return j;
}

DSDEPLOY_INLINE nlohmann::json encode(const tokenize_request& r) {
    detail::check_extra(r.extra, "extra");
    nlohmann::json j = nlohmann::json::object();
    if (!r.model.empty()) j["model"] = r.model;
    if (!r.messages.empty()) {
        if (r.prompt) raise(errc::client_config, "prompt", "set either prompt or messages, not both");
        j["messages"] = r.messages;
        if (r.add_generation_prompt) j["add_generation_prompt"] = *r.add_generation_prompt;
        if (!r.chat_template_kwargs.is_null()) j["chat_template_kwargs"] = r.chat_template_kwargs;
    } else {
        j["prompt"] = r.prompt.value_or("");
    }
    if (r.add_special_tokens) j["add_special_tokens"] = *r.add_special_tokens;
    if (r.return_token_strs) j["return_token_strs"] = true;
    if (r.extra.is_object()) j.merge_patch(r.extra);
    return j;
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

DSDEPLOY_INLINE server_error_info parse_error_body(std::string_view body) {
    server_error_info info;
    const auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    auto shorten = [](std::string_view s) {
        s = dsdeploy::detail::trim(s);
        std::string out(s.substr(0, 500));
        if (s.size() > 500) out += "...";
        return out;
    };
    auto from_object = [&](const nlohmann::json& e) {
        if (auto it = e.find("message"); it != e.end()) info.message = it->is_string() ? it->get<std::string>() : it->dump();
        if (auto it = e.find("type"); it != e.end() && it->is_string()) info.type = it->get<std::string>();
        if (auto it = e.find("param"); it != e.end()) info.param = *it;
        if (auto it = e.find("code"); it != e.end()) info.code = *it;
    };
    if (j.is_discarded() || !j.is_object()) {
        info.message = shorten(body);
        return info;
    }
    if (auto it = j.find("error"); it != j.end()) {
        if (it->is_object()) from_object(*it);            // vLLM >= 0.10.1, OpenAI
        else if (it->is_string()) info.message = it->get<std::string>();  // vLLM's --api-key middleware
        else info.message = shorten(it->dump());
    } else if (j.contains("message")) {
        from_object(j);  // vLLM <= 0.10.0: {"object": "error", "message": ..., "type": ..., "code": 400}
    } else if (auto d = j.find("detail"); d != j.end()) {
        info.message = d->is_string() ? d->get<std::string>() : shorten(d->dump());  // FastAPI
    } else {
        info.message = shorten(body);
    }
    return info;
}

namespace detail {
template <class E>
[[noreturn]] void throw_as(std::string& route, int status, server_error_info& info, std::string& body,
                           std::string& request_id, std::string& detail) {
    throw E(std::move(route), status, std::move(info), std::move(body), std::move(request_id), std::move(detail));
}
}  // namespace detail

DSDEPLOY_INLINE void throw_status_error(std::string route, int status, std::string body, std::string request_id) {
    server_error_info info = parse_error_body(body);
    std::string detail = "HTTP " + std::to_string(status);
    if (!info.type.empty()) detail += " (" + info.type + ")";
    detail += info.message.empty() ? std::string(": the server gave no reason") : ": " + info.message;
    if (!request_id.empty()) detail += " [request id " + request_id + "]";
    using detail::throw_as;
    switch (status) {
        case 400: throw_as<bad_request_error>(route, status, info, body, request_id, detail);
        case 401: throw_as<authentication_error>(route, status, info, body, request_id, detail);
        case 403: throw_as<permission_denied_error>(route, status, info, body, request_id, detail);
        case 404: throw_as<not_found_error>(route, status, info, body, request_id, detail);
        case 409: throw_as<conflict_error>(route, status, info, body, request_id, detail);
        case 422: throw_as<unprocessable_entity_error>(route, status, info, body, request_id, detail);
        case 429: throw_as<rate_limit_error>(route, status, info, body, request_id, detail);
        default:
            if (status >= 500) throw_as<internal_server_error>(route, status, info, body, request_id, detail);
            throw_as<api_status_error>(route, status, info, body, request_id, detail);
    }
}

DSDEPLOY_INLINE std::string_view to_string(api_stream_error::reason r) {
    switch (r) {
        case api_stream_error::reason::truncated: return "truncated";
        case api_stream_error::reason::disconnected: return "disconnected";
        case api_stream_error::reason::timeout: return "timeout";
        case api_stream_error::reason::server_error: return "server_error";
    }
    return "unknown";
}

DSDEPLOY_INLINE std::string_view to_string(transport_error e) {
    switch (e) {
        case transport_error::none: return "none";
        case transport_error::connection: return "connection";
        case transport_error::timeout: return "timeout";
        case transport_error::read: return "read";
        case transport_error::write: return "write";
        case transport_error::tls: return "tls";
        case transport_error::canceled: return "canceled";
        case transport_error::other: return "other";
    }
    return "unknown";
}

DSDEPLOY_INLINE const std::string* find_header(const header_list& headers, std::string_view name) {
    for (const auto& h : headers)
        if (dsdeploy::detail::iequals(h.first, name)) return &h.second;
    return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Base URL
// ---------------------------------------------------------------------------------------------

DSDEPLOY_INLINE std::string base_url::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + api_path;
}

DSDEPLOY_INLINE base_url parse_base_url(std::string_view url) {
    auto bad = [&](const std::string& why) -> base_url {
        raise(errc::client_config, "base_url",
              "\"" + std::string(url) + "\" " + why + "; expected http(s)://host[:port][/path], e.g. http://127.0.0.1:8000/v1");
    };
    base_url out;
    std::string_view rest = dsdeploy::detail::trim(url);
    const auto scheme_end = rest.find("://");
    if (scheme_end == std::string_view::npos) return bad("has no scheme");
    out.scheme = dsdeploy::detail::to_lower(rest.substr(0, scheme_end));
    if (out.scheme != "http" && out.scheme != "https") return bad("has scheme \"" + out.scheme + "\"");
    rest.remove_prefix(scheme_end + 3);
    const auto path_start = rest.find('/');
    std::string_view authority = rest.substr(0, path_start);
    std::string_view path = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
    if (authority.find('@') != std::string_view::npos) return bad("has user information (pass the key as api_key)");
    if (path.find_first_of("?#") != std::string_view::npos) return bad("has a query or fragment");
    if (authority.find_first_of("?#") != std::string_view::npos) return bad("has a query or fragment");
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return bad("has an unclosed IPv6 bracket");
        out.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("has text after the IPv6 address");
            port_text = after.substr(1);
            if (port_text.empty()) return bad("has an empty port");
        }
        if (out.host.empty() || out.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos)
            return bad("has an invalid IPv6 address");
    } else {
        const auto colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty()) return bad("has an empty port");
        }
        if (out.host.empty()) return bad("has no host");
        for (char c : out.host)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
                return bad("has an invalid host name");
    }
    if (port_text.empty()) {
        out.port = out.scheme == "https" ? 443 : 80;
    } else {
        int p = 0;
        auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
        if (ec != std::errc() || ptr != port_text.data() + port_text.size() || p < 1 || p > 65535)
            return bad("has an invalid port");
        out.port = p;
    }
    std::string p(path);
    while (!p.empty() && p.back() == '/') p.pop_back();
    for (char c : p)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("has spaces or control characters in its path");
    if (dsdeploy::detail::ends_with(p, "/v1")) {
        out.api_path = p;
        out.root_path = p.substr(0, p.size() - 3);
    } else {
        out.root_path = p;
        out.api_path = p + "/v1";
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

DSDEPLOY_INLINE std::string metric_sample::label(std::string_view key) const {
    for (const auto& l : labels)
        if (l.first == key) return l.second;
    return {};
}

DSDEPLOY_INLINE std::optional<double> server_metrics::total(std::string_view name) const {
    std::optional<double> sum;
    for (const auto& s : samples)
        if (s.name == name) sum = sum.value_or(0) + s.value;
    return sum;
}

namespace detail {

inline bool parse_metric_value(std::string_view text, double& out) {
    if (text == "+Inf" || text == "Inf") { out = HUGE_VAL; return true; }
    if (text == "-Inf") { out = -HUGE_VAL; return true; }
    if (text == "NaN") { out = std::nan(""); return true; }
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    if (text.empty()) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

// name{labels} value [timestamp]; false when the line is not a sample.
inline bool parse_sample_line(std::string_view line, metric_sample& s) {
    auto is_name_char = [](char c, bool first) {
        return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
               (!first && std::isdigit(static_cast<unsigned char>(c)));
    };
    std::size_t i = 0;
    while (i < line.size() && is_name_char(line[i], i == 0)) ++i;
    if (i == 0) return false;
    s.name.assign(line.substr(0, i));
    s.labels.clear();
    if (i < line.size() && line[i] == '{') {
        ++i;
        while (true) {
            while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
            if (i >= line.size()) return false;
            if (line[i] == '}') { ++i; break; }
            const std::size_t k0 = i;
            while (i < line.size() && is_name_char(line[i], i == k0) && line[i] != ':') ++i;
            if (i == k0 || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return false;
            std::string key(line.substr(k0, i - k0)), value;
            i += 2;
            bool closed = false;
            while (i < line.size()) {
                const char c = line[i++];
                if (c == '"') { closed = true; break; }
                if (c == '\\' && i < line.size()) {
                    const char e = line[i++];
                    value.push_back(e == 'n' ? '\n' : e);
                } else {
                    value.push_back(c);
                }
            }
            if (!closed) return false;
            s.labels.emplace_back(std::move(key), std::move(value));
        }
    }
    if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return false;
    std::string_view rest = dsdeploy::detail::trim(line.substr(i));
    const auto space = rest.find_first_of(" \t");
    return parse_metric_value(rest.substr(0, space), s.value);
}

inline std::optional<histogram_summary> histogram(const server_metrics& m, std::initializer_list<const char*> names) {
    for (const char* n : names) {
        const auto sum = m.total(std::string(n) + "_sum");
        const auto count = m.total(std::string(n) + "_count");
        if (sum && count) return histogram_summary{*sum, *count};
    }
    return std::nullopt;
}

inline std::optional<double> first_total(const server_metrics& m, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (auto v = m.total(n)) return v;
    return std::nullopt;
}

}  // namespace detail

DSDEPLOY_INLINE server_metrics parse_metrics(std::string_view text) {
    server_metrics m;
    std::size_t content_lines = 0;
    for (std::string_view raw : dsdeploy::detail::split_lines(text)) {
        std::string_view line = dsdeploy::detail::trim(raw);
        if (line.empty() || line.front() == '#') continue;
        ++content_lines;
        metric_sample s;
        if (detail::parse_sample_line(line, s)) m.samples.push_back(std::move(s));
    }
    if (content_lines > 0 && m.samples.empty())
        throw api_decode_error("metrics", "the answer has " + std::to_string(content_lines) +
                                              " lines but not one Prometheus sample; it is not a /metrics page");
    using detail::first_total;
    m.requests_running = first_total(m, {"vllm:num_requests_running"});
    m.requests_waiting = first_total(m, {"vllm:num_requests_waiting"});
    m.kv_cache_usage = first_total(m, {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"});
    m.prefix_cache_queries = first_total(m, {"vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"});
    m.prefix_cache_hits = first_total(m, {"vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"});
    m.preemptions = first_total(m, {"vllm:num_preemptions_total"});
    m.prompt_tokens = first_total(m, {"vllm:prompt_tokens_total"});
    m.generation_tokens = first_total(m, {"vllm:generation_tokens_total"});
    m.requests_finished = first_total(m, {"vllm:request_success_total"});
    for (const auto& s : m.samples)
        if (s.name == "vllm:request_success_total") m.requests_by_finish_reason[s.label("finished_reason")] += s.value;
    m.time_to_first_token = detail::histogram(m, {"vllm:time_to_first_token_seconds"});
    m.inter_token_latency = detail::histogram(m, {"vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"});
    m.e2e_request_latency = detail::histogram(m, {"vllm:e2e_request_latency_seconds"});
    m.queue_time = detail::histogram(m, {"vllm:request_queue_time_seconds"});
    return m;
}

// ---------------------------------------------------------------------------------------------
// The client's machinery
// ---------------------------------------------------------------------------------------------
namespace detail {

using clock = std::chrono::steady_clock;

inline std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

DSDEPLOY_INLINE client_state make_client_state(const client_options& options) {
    client_state s;
    s.options = options;
    std::string url = options.base_url;
    if (url.empty()) url = env_or_empty("OPENAI_BASE_URL");
    if (url.empty()) url = "http://127.0.0.1:8000/v1";
    s.url = parse_base_url(url);
    s.options.base_url = s.url.to_string();
    if (options.api_key) {
        s.api_key = *options.api_key;
    } else if (!options.api_key_env.empty()) {
        s.api_key = env_or_empty(options.api_key_env.c_str());
    }
    for (char c : s.api_key)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            raise(errc::client_config, "api_key", "contains control characters (a newline from a file?)");
    if (options.max_retries < 0) raise(errc::client_config, "max_retries", "must be 0 or more");
    if (options.connect_timeout.count() <= 0 || options.read_timeout.count() <= 0 || options.write_timeout.count() <= 0)
        raise(errc::client_config, "timeouts", "connect, read and write timeouts must be positive");
    if (options.deadline && options.deadline->count() <= 0) raise(errc::client_config, "deadline", "must be positive");
    s.options.api_key.reset();  // kept once, in s.api_key
    return s;
}

DSDEPLOY_INLINE transport_config make_transport_config(const client_state& s) {
    transport_config c;
    c.scheme = s.url.scheme;
    c.host = s.url.host;
    c.port = s.url.port;
    c.verify_tls = s.options.verify_tls;
    c.ca_cert_path = s.options.ca_cert_path;
    return c;
}

// Replaces every occurrence of the key with "***".
inline std::string scrub(std::string text, const std::string& key) {
    if (key.empty()) return text;
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + 3)) text.replace(pos, key.size(), "***");
    return text;
}

inline server_error_info scrub(server_error_info info, const std::string& key) {
    info.message = scrub(std::move(info.message), key);
    if (!key.empty() && !info.param.is_null()) info.param = nlohmann::json(scrub(info.param.dump(), key));
    return info;
}

DSDEPLOY_INLINE void rethrow_scrubbed(const api_decode_error& e, const std::string& key) {
    throw api_decode_error(e.field(), scrub(e.detail(), key));
}

inline void log_line(const client_state& s, const std::string& line) {
    if (s.options.log) s.options.log(scrub(line, s.api_key));
}

inline std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

struct call_clock {
    clock::time_point start = clock::now();
    std::optional<clock::time_point> deadline;

    explicit call_clock(const client_options& o) {
        if (o.deadline) deadline = start + *o.deadline;
    }
    bool expired() const { return deadline && clock::now() >= *deadline; }
    std::chrono::milliseconds clip(std::chrono::milliseconds t) const {
        if (!deadline) return t;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - clock::now());
        if (left.count() < 1) left = std::chrono::milliseconds(1);
        return std::min(t, left);
    }
    bool fits(std::chrono::milliseconds wait) const { return !deadline || clock::now() + wait < *deadline; }
    // Whether the deadline, not the configured timeouts, limited this request's waits.
    bool bounds(const http_request& r, const client_options& o) const {
        return deadline && (r.read_timeout < o.read_timeout || r.connect_timeout < o.connect_timeout);
    }
};

inline http_request make_request(const client_state& s, const call_clock& cc, std::string_view method,
                                 const std::string& path, const std::string& body, bool stream) {
    http_request r;
    r.method = std::string(method);
    r.path = path;
    r.body = body;
    r.headers.emplace_back("User-Agent", "dsdeploy/" DSDEPLOY_VERSION);
    r.headers.emplace_back("Accept", stream ? "text/event-stream" : "application/json");
    if (!body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    if (!s.api_key.empty()) r.headers.emplace_back("Authorization", "Bearer " + s.api_key);
    for (const auto& h : s.options.default_headers) r.headers.push_back(h);
    r.connect_timeout = cc.clip(s.options.connect_timeout);
    r.read_timeout = cc.clip(s.options.read_timeout);
    r.write_timeout = cc.clip(s.options.write_timeout);
    return r;
}

inline bool status_retryable(int status, const header_list& headers) {
    if (const auto* h = find_header(headers, "x-should-retry")) {
        if (*h == "true") return true;
        if (*h == "false") return false;
    }
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

// The server's wish from retry-after-ms or Retry-After (seconds or an HTTP date), if any.
inline std::optional<std::chrono::milliseconds> retry_after(const header_list& headers) {
    auto number = [](const std::string& text, double& v) {
        std::string_view t = dsdeploy::detail::trim(text);
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        return ec == std::errc() && ptr == t.data() + t.size() && std::isfinite(v);
    };
    double v = 0;
    if (const auto* ms = find_header(headers, "retry-after-ms"); ms && number(*ms, v))
        return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(v, 1e12)));
    const auto* ra = find_header(headers, "retry-after");
    if (!ra) return std::nullopt;
    if (number(*ra, v)) return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(v, 1e9) * 1000));
    std::tm tm{};
    const char* end = strptime(ra->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    const std::time_t when = timegm(&tm);
    const std::time_t now = std::time(nullptr);
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::difftime(when, now) * 1000));
}

inline std::chrono::milliseconds backoff(const client_options& o, int retry, const header_list* headers) {
    if (headers) {
        if (auto wish = retry_after(*headers); wish && wish->count() > 0 && *wish <= o.max_retry_after) return *wish;
    }
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_real_distribution<double> jitter(0.75, 1.0);
    const double base = std::min(static_cast<double>(o.initial_retry_delay.count()) * std::pow(2.0, retry),
                                 static_cast<double>(o.max_retry_delay.count()));
    return std::chrono::milliseconds(static_cast<std::int64_t>(base * jitter(rng)));
}

inline bool transport_retryable(transport_error e) {
    return e == transport_error::connection || e == transport_error::timeout || e == transport_error::read ||
           e == transport_error::write || e == transport_error::other;
}

[[noreturn]] inline void throw_transport(const client_state& s, const std::string& route, const http_response& r,
                                         int attempts) {
    std::string what = scrub(r.error_message, s.api_key);
    const std::string where = s.url.scheme + "://" + (s.url.host.find(':') != std::string::npos ? "[" + s.url.host + "]" : s.url.host) +
                              ":" + std::to_string(s.url.port);
    const std::string tries = attempts > 1 ? " after " + std::to_string(attempts) + " attempts" : std::string();
    if (r.error == transport_error::timeout)
        throw api_timeout_error(route, "no answer from " + where + " within the timeout" + tries + " (" + what + ")");
    throw api_connection_error(route, "could not talk to " + where + tries + ": " + std::string(to_string(r.error)) +
                                          " error (" + what + ")");
}

[[noreturn]] inline void throw_deadline(const client_state& s, const std::string& route, int attempts) {
    throw api_timeout_error(route, "the deadline of " +
                                       seconds_text(std::chrono::duration<double>(*s.options.deadline).count()) +
                                       " passed after " + std::to_string(attempts) + " attempt(s)");
}

// A 2xx body that is {"error": ...}: vLLM answers some failures this way (e.g. /v1/embeddings
// on a generative model is HTTP 200 with a 400 error object).
inline void check_error_in_body(const client_state& s, const std::string& route, const std::string& body,
                                const header_list& headers) {
    if (body.empty() || body.front() != '{' || body.find("\"error\"") == std::string::npos) return;
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("error")) return;
    const auto& e = j["error"];
    if (!(e.is_object() || e.is_string())) return;
    int status = 500;
    if (e.is_object() && e.contains("code") && e["code"].is_number_integer()) {
        const auto c = e["code"].get<std::int64_t>();
        if (c >= 400 && c <= 599) status = static_cast<int>(c);
    }
    const auto* rid = find_header(headers, "x-request-id");
    throw_status_error(route, status, scrub(body, s.api_key), rid ? *rid : std::string());
}

DSDEPLOY_INLINE std::string call(const client_state& s, const erased_transport& t, std::string_view method,
                                 const std::string& path, const std::string& body) {
    const std::string route = std::string(method) + " " + path;
    call_clock cc(s.options);
    for (int attempt = 0;; ++attempt) {
        if (cc.expired()) throw_deadline(s, route, attempt);
        const http_request req = make_request(s, cc, method, path, body, false);
        http_response res = t.send(req);
        const bool can_retry = attempt < s.options.max_retries;
        if (res.error != transport_error::none) {
            if (res.error == transport_error::timeout && (cc.expired() || cc.bounds(req, s.options)))
                throw_deadline(s, route, attempt + 1);
            if (can_retry && transport_retryable(res.error)) {
                const auto wait = backoff(s.options, attempt, nullptr);
                if (cc.fits(wait)) {
                    log_line(s, route + ": " + std::string(to_string(res.error)) + " error (" + res.error_message +
                                    "); retry " + std::to_string(attempt + 1) + " of " +
                                    std::to_string(s.options.max_retries) + " in " +
                                    seconds_text(std::chrono::duration<double>(wait).count()));
                    std::this_thread::sleep_for(wait);
                    continue;
                }
            }
            throw_transport(s, route, res, attempt + 1);
        }
        if (res.status >= 200 && res.status < 300) {
            check_error_in_body(s, route, res.body, res.headers);
            return std::move(res.body);
        }
        if (can_retry && status_retryable(res.status, res.headers)) {
            const auto wait = backoff(s.options, attempt, &res.headers);
            if (cc.fits(wait)) {
                log_line(s, route + ": HTTP " + std::to_string(res.status) + "; retry " + std::to_string(attempt + 1) +
                                " of " + std::to_string(s.options.max_retries) + " in " +
                                seconds_text(std::chrono::duration<double>(wait).count()));
                std::this_thread::sleep_for(wait);
                continue;
            }
        }
        const auto* rid = find_header(res.headers, "x-request-id");
        throw_status_error(route, res.status, scrub(std::move(res.body), s.api_key), rid ? *rid : std::string());
    }
}

DSDEPLOY_INLINE void call_stream(const client_state& s, const erased_transport& t, const std::string& path,
                                 const std::string& body, const std::function<bool(std::string_view data)>& on_event,
                                 const std::function<api_stream_error::partial()>& partial, bool& done_seen) {
    const std::string route = "POST " + path;
    call_clock cc(s.options);
    done_seen = false;
    constexpr std::size_t max_error_body = std::size_t{1} << 20;
    for (int attempt = 0;; ++attempt) {
        if (cc.expired()) throw_deadline(s, route, attempt);
        const http_request req = make_request(s, cc, "POST", path, body, true);
        int status = 0;
        header_list headers;
        std::string error_body;
        bool started = false, stopped_by_caller = false, deadline_hit = false;
        std::exception_ptr failure;
        dsdeploy::detail::sse_parser parser;
        stream_sink sink;
        sink.on_headers = [&](int st, const header_list& h) {
            status = st;
            headers = h;
            started = st >= 200 && st < 300;
            return true;
        };
        sink.on_data = [&](std::string_view bytes) {
            if (!started) {
                if (error_body.size() < max_error_body) error_body.append(bytes.substr(0, max_error_body - error_body.size()));
                return true;
            }
            if (cc.expired()) {
                deadline_hit = true;
                return false;
            }
            try {
                return parser.feed(bytes, [&](const dsdeploy::detail::sse_event& ev) {
                    if (ev.type != "message" && ev.type != "error") return true;
                    if (dsdeploy::detail::starts_with(ev.data, "[DONE]")) {
                        done_seen = true;
                        return false;  // the answer is complete: stop reading (vLLM closes anyway)
                    }
                    if (ev.type == "error" && !dsdeploy::detail::starts_with(dsdeploy::detail::trim(ev.data), "{")) {
                        throw api_stream_error(route, api_stream_error::reason::server_error, partial(),
                                               server_error_info{scrub(ev.data, s.api_key), "", nullptr, nullptr},
                                               "the server reported an error mid-stream: " + scrub(ev.data, s.api_key));
                    }
                    if (!on_event(ev.data)) {
                        stopped_by_caller = true;
                        return false;
                    }
                    return true;
                });
            } catch (...) {
                failure = std::current_exception();
                return false;
            }
        };
        http_response res = t.send_stream(req, sink);
        if (failure) std::rethrow_exception(failure);
        if (stopped_by_caller) return;
        const bool can_retry = attempt < s.options.max_retries;
        if (!started) {
            if (status == 0) {  // no answer at all
                if (res.error == transport_error::none || res.error == transport_error::canceled) {
                    res.error = transport_error::other;
                    res.error_message = "the transport returned no status";
                }
                if (res.error == transport_error::timeout && (cc.expired() || cc.bounds(req, s.options)))
                    throw_deadline(s, route, attempt + 1);
                if (can_retry && transport_retryable(res.error)) {
                    const auto wait = backoff(s.options, attempt, nullptr);
                    if (cc.fits(wait)) {
                        log_line(s, route + ": " + std::string(to_string(res.error)) + " error (" + res.error_message +
                                        "); retry " + std::to_string(attempt + 1) + " of " +
                                        std::to_string(s.options.max_retries) + " in " +
                                        seconds_text(std::chrono::duration<double>(wait).count()));
                        std::this_thread::sleep_for(wait);
                        continue;
                    }
                }
                throw_transport(s, route, res, attempt + 1);
            }
            if (can_retry && status_retryable(status, headers)) {
                const auto wait = backoff(s.options, attempt, &headers);
                if (cc.fits(wait)) {
                    log_line(s, route + ": HTTP " + std::to_string(status) + "; retry " + std::to_string(attempt + 1) +
                                    " of " + std::to_string(s.options.max_retries) + " in " +
                                    seconds_text(std::chrono::duration<double>(wait).count()));
                    std::this_thread::sleep_for(wait);
                    continue;
                }
            }
            const auto* rid = find_header(headers, "x-request-id");
            throw_status_error(route, status, scrub(std::move(error_body), s.api_key), rid ? *rid : std::string());
        }
        // The stream had started: whatever happens now is reported, never retried.
        const bool mid_event = parser.finish();
        if (done_seen) return;
        const auto got = partial();
        const std::string so_far = " after " + std::to_string(got.chunks) + " chunk(s)";
        if (deadline_hit || (res.error == transport_error::timeout && cc.bounds(req, s.options)))
            throw api_stream_error(route, api_stream_error::reason::timeout, got, {},
                                   "the deadline of " +
                                       seconds_text(std::chrono::duration<double>(*s.options.deadline).count()) +
                                       " passed mid-stream" + so_far);
        if (res.error == transport_error::timeout)
            throw api_stream_error(route, api_stream_error::reason::timeout, got, {},
                                   "no data within the read timeout" + so_far + " (" + scrub(res.error_message, s.api_key) + ")");
        if (res.error != transport_error::none)
            throw api_stream_error(route, api_stream_error::reason::disconnected, got, {},
                                   "the connection broke mid-stream" + so_far + ": " + std::string(to_string(res.error)) +
                                       " error (" + scrub(res.error_message, s.api_key) + ")");
        const std::string* ctype = find_header(headers, "content-type");
        std::string hint;
        if (parser.events_dispatched() == 0 && ctype && ctype->find("text/event-stream") == std::string::npos)
            hint = " (the answer was " + *ctype + ", not an event stream: does the server support stream=true?)";
        throw api_stream_error(route, api_stream_error::reason::truncated, got, {},
                               std::string("the stream ended without data: [DONE]") +
                                   (mid_event ? " in the middle of an event" : "") + so_far + hint);
    }
}

// Decodes one data event of an OpenAI stream: an in-band {"error": ...} throws.
template <class Chunk>
Chunk decode_event(const client_state& s, const std::string& route, std::string_view data,
                   const std::function<api_stream_error::partial()>& partial) {
    const auto j = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
    if (j.is_discarded()) {
        std::string shown(data.substr(0, 200));
        throw api_decode_error("stream", "an event's data is not JSON: \"" + scrub(shown, s.api_key) + "\"");
    }
    if (j.is_object() && j.contains("error") && !j.contains("choices")) {
        server_error_info info = scrub(parse_error_body(std::string(data)), s.api_key);
        throw api_stream_error(route, api_stream_error::reason::server_error, partial(), info,
                               "the server reported an error mid-stream: " +
                                   (info.message.empty() ? std::string("(no message)") : info.message));
    }
    return decode<Chunk>(j, "stream chunk");
}

inline seconds_d since(clock::time_point t0) { return std::chrono::duration_cast<seconds_d>(clock::now() - t0); }

DSDEPLOY_INLINE chat_completion chat_stream(const client_state& s, const erased_transport& t, const chat_request& r,
                                            const std::function<bool(const chat_chunk&)>& on_chunk) {
    const std::string path = s.url.api_path + "/chat/completions";
    const std::string route = "POST " + path;
    const std::string body = encode(r, true, {s.options.legacy_guided_decoding}).dump();
    chat_completion out;
    std::map<int, chat_choice> choices;
    stream_stats stats;
    clock::time_point t0 = clock::now();
    bool first = true;
    auto partial = [&]() {
        api_stream_error::partial p;
        p.chunks = stats.chunks;
        if (auto it = choices.find(0); it != choices.end()) {
            p.text = it->second.message.content.value_or("");
            p.reasoning = it->second.message.reasoning.value_or("");
        }
        return p;
    };
    bool done = false;
    call_stream(s, t, path, body, [&](std::string_view data) {
        chat_chunk ch = decode_event<chat_chunk>(s, route, data, partial);
        if (stats.chunks == 0) stats.time_to_first_chunk = since(t0);
        ++stats.chunks;
        if (first) {
            out.id = ch.id;
            out.created = ch.created;
            out.model = ch.model;
            out.object = "chat.completion";
            first = false;
        }
        bool has_text = false;
        for (const auto& c : ch.choices) {
            auto& acc = choices[c.index];
            acc.index = c.index;
            if (c.delta.role) acc.message.role = *c.delta.role;
            if (c.delta.content) {
                acc.message.content = acc.message.content.value_or("") + *c.delta.content;
                has_text |= !c.delta.content->empty();
            }
            if (c.delta.reasoning) {
                acc.message.reasoning = acc.message.reasoning.value_or("") + *c.delta.reasoning;
                has_text |= !c.delta.reasoning->empty();
            }
            for (const auto& tc : c.delta.tool_calls) {
                auto it = std::find_if(acc.message.tool_calls.begin(), acc.message.tool_calls.end(),
                                       [&](const tool_call& x) { return x.index == tc.index; });
                if (it == acc.message.tool_calls.end()) {
                    acc.message.tool_calls.push_back(tc);
                } else {
                    if (!tc.id.empty()) it->id = tc.id;
                    if (it->name.empty()) it->name = tc.name;
                    it->arguments += tc.arguments;
                }
                has_text |= !tc.arguments.empty() || !tc.name.empty();
            }
            if (!c.finish_reason.empty()) acc.finish_reason = c.finish_reason;
            if (!c.stop_reason.is_null()) acc.stop_reason = c.stop_reason;
            if (c.logprobs.is_object() && c.logprobs.contains("content") && c.logprobs["content"].is_array()) {
                if (!acc.logprobs.is_object()) acc.logprobs = {{"content", nlohmann::json::array()}};
                for (const auto& lp : c.logprobs["content"]) acc.logprobs["content"].push_back(lp);
            }
        }
        if (ch.usage) out.usage = ch.usage;
        if (has_text) {
            if (stats.text_chunks == 0) stats.time_to_first_token = since(t0);
            ++stats.text_chunks;
        }
        return on_chunk ? on_chunk(ch) : true;
    }, partial, done);
    for (auto& [index, c] : choices) {
        if (c.message.role.empty()) c.message.role = "assistant";
        out.choices.push_back(std::move(c));
    }
    stats.total = since(t0);
    out.stream = stats;
    return out;
}

DSDEPLOY_INLINE completion complete_stream(const client_state& s, const erased_transport& t, const completion_request& r,
                                           const std::function<bool(const completion&)>& on_chunk) {
    const std::string path = s.url.api_path + "/completions";
    const std::string route = "POST " + path;
    const std::string body = encode(r, true, {s.options.legacy_guided_decoding}).dump();
    completion out;
    std::map<int, completion_choice> choices;
    stream_stats stats;
    clock::time_point t0 = clock::now();
    auto partial = [&]() {
        api_stream_error::partial p;
        p.chunks = stats.chunks;
        if (auto it = choices.find(0); it != choices.end()) p.text = it->second.text;
        return p;
    };
    bool done = false;
    call_stream(s, t, path, body, [&](std::string_view data) {
        completion ch = decode_event<completion>(s, route, data, partial);
        if (stats.chunks == 0) {
            stats.time_to_first_chunk = since(t0);
            out.id = ch.id;
            out.created = ch.created;
            out.model = ch.model;
            out.object = ch.object;
        }
        ++stats.chunks;
        bool has_text = false;
        for (const auto& c : ch.choices) {
            auto& acc = choices[c.index];
            acc.index = c.index;
            acc.text += c.text;
            has_text |= !c.text.empty();
            if (!c.finish_reason.empty()) acc.finish_reason = c.finish_reason;
            if (!c.stop_reason.is_null()) acc.stop_reason = c.stop_reason;
        }
        if (ch.usage) out.usage = ch.usage;
        if (has_text) {
            if (stats.text_chunks == 0) stats.time_to_first_token = since(t0);
            ++stats.text_chunks;
        }
        return on_chunk ? on_chunk(ch) : true;
    }, partial, done);
    for (auto& [index, c] : choices) out.choices.push_back(std::move(c));
    stats.total = since(t0);
    out.stream = stats;
    return out;
}

DSDEPLOY_INLINE probe_result health(const client_state& s, const erased_transport& t) {
    call_clock cc(s.options);
    const std::string path = s.url.root_path + "/health";
    http_request req = make_request(s, cc, "GET", path, {}, false);
    req.read_timeout = std::min(req.read_timeout, std::chrono::milliseconds(30000));  // a probe, not a generation
    http_response res = t.send(req);
    probe_result p;
    p.status = res.status;
    if (res.error != transport_error::none) {
        p.error = res.error == transport_error::timeout ? errc::client_timeout : errc::client_connection;
        p.message = std::string(to_string(res.error)) + " error: " + scrub(res.error_message, s.api_key);
        return p;
    }
    p.ok = res.status == 200;
    if (!p.ok) {
        p.error = errc::client_status;
        p.message = "HTTP " + std::to_string(res.status) + ": " + scrub(parse_error_body(res.body).message, s.api_key);
    }
    return p;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// The cpp-httplib transport
// ---------------------------------------------------------------------------------------------
#if DSDEPLOY_ENABLE_HTTPLIB

DSDEPLOY_INLINE httplib_transport::httplib_transport(transport_config config) : config_(std::move(config)) {}

namespace detail {

inline transport_error map_httplib_error(httplib::Error e, bool idle_too_long) {
    switch (e) {
        case httplib::Error::Success: return transport_error::none;
        case httplib::Error::Connection: return transport_error::connection;
        case httplib::Error::ConnectionTimeout: return transport_error::timeout;
        case httplib::Error::Read: return idle_too_long ? transport_error::timeout : transport_error::read;
        case httplib::Error::Write: return transport_error::write;
        case httplib::Error::Canceled: return transport_error::canceled;
        case httplib::Error::SSLConnection:
        case httplib::Error::SSLLoadingCerts:
        case httplib::Error::SSLServerVerification: return transport_error::tls;
        default: return transport_error::other;
    }
}

inline http_response httplib_send(const transport_config& cfg, const http_request& req, const stream_sink* sink) {
    http_response out;
    const bool v6 = cfg.host.find(':') != std::string::npos;
    const std::string origin = cfg.scheme + "://" + (v6 ? "[" + cfg.host + "]" : cfg.host) + ":" + std::to_string(cfg.port);
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
    if (cfg.scheme == "https") {
        out.error = transport_error::tls;
        out.error_message = "this cpp-httplib was built without OpenSSL, so https:// is not available";
        return out;
    }
#endif
    httplib::Client cli(origin);
    cli.set_connection_timeout(req.connect_timeout);
    cli.set_read_timeout(req.read_timeout);
    cli.set_write_timeout(req.write_timeout);
    cli.set_keep_alive(false);
    cli.set_follow_location(false);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    cli.enable_server_certificate_verification(cfg.verify_tls);
    if (!cfg.ca_cert_path.empty()) cli.set_ca_cert_path(cfg.ca_cert_path);
#endif
    if (!cli.is_valid()) {
        out.error = transport_error::other;
        out.error_message = "cpp-httplib could not set up a client for " + origin;
        return out;
    }
    httplib::Request r;
    r.method = req.method;
    r.path = req.path;
    r.body = req.body;
    for (const auto& h : req.headers) r.headers.emplace(h.first, h.second);
    auto last_activity = clock::now();
    auto copy_headers = [&](const httplib::Response& resp) {
        out.status = resp.status;
        out.headers.clear();
        for (const auto& h : resp.headers) out.headers.emplace_back(h.first, h.second);
    };
    if (sink) {
        r.response_handler = [&](const httplib::Response& resp) {
            last_activity = clock::now();
            copy_headers(resp);
            return sink->on_headers ? sink->on_headers(out.status, out.headers) : true;
        };
        r.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
            last_activity = clock::now();
            return sink->on_data ? sink->on_data(std::string_view(data, n)) : true;
        };
    }
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const bool ok = cli.send(r, res, err);
    if (!sink) {
        copy_headers(res);
        out.body = std::move(res.body);
    }
    if (!ok || err != httplib::Error::Success) {
        const bool idle = clock::now() - last_activity >= req.read_timeout - std::chrono::milliseconds(20);
        out.error = map_httplib_error(err == httplib::Error::Success ? httplib::Error::Unknown : err, idle);
        out.error_message = httplib::to_string(err);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
        if (err == httplib::Error::SSLServerVerification)
            out.error_message += " (certificate verification failed: set ca_cert_path, or verify_tls = false for a test server)";
#endif
        if (!sink) out.status = 0;
    }
    return out;
}

}  // namespace detail

DSDEPLOY_INLINE http_response httplib_transport::send(const http_request& req) {
    return detail::httplib_send(config_, req, nullptr);
}

DSDEPLOY_INLINE http_response httplib_transport::send(const http_request& req, const stream_sink& sink) {
    return detail::httplib_send(config_, req, &sink);
}

#endif  // DSDEPLOY_ENABLE_HTTPLIB

}  // namespace openai
DSDEPLOY_NAMESPACE_END
