// SPDX-License-Identifier: Apache-2.0
// The definitions of openai_codec.hpp: included by it in header-only mode, compiled once by
// src/openai_codec.cpp in the compiled library (DSDEPLOY_PRECOMPILED).
#pragma once

#include <dsdeploy/openai_codec.hpp>

#include <dsdeploy/detail/text.hpp>

#include <algorithm>
#include <cmath>
#include <initializer_list>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

// JSON reading helpers: every type error becomes client.decode naming the field.
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

}  // namespace openai
DSDEPLOY_NAMESPACE_END
