// SPDX-License-Identifier: Apache-2.0
// The OpenAI types' JSON form: the request bodies as sent (encode), the nlohmann ADL
// conversions, and decode<T>, which turns an answer into a type. Decoding throws client.decode
// (never nlohmann's exceptions) naming the field, e.g. "choices[0].message.content".
#pragma once

#include <dsdeploy/config.hpp>
#include <dsdeploy/openai_errors.hpp>
#include <dsdeploy/openai_types.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

DSDEPLOY_NAMESPACE_BEGIN
namespace openai {

void to_json(nlohmann::json& j, const tool_call& v);
void to_json(nlohmann::json& j, const chat_message& v);
void from_json(const nlohmann::json& j, chat_message& v);
void to_json(nlohmann::json& j, const usage& v);
void from_json(const nlohmann::json& j, usage& v);
void from_json(const nlohmann::json& j, chat_completion& v);
void from_json(const nlohmann::json& j, chat_chunk& v);
void from_json(const nlohmann::json& j, completion& v);
void from_json(const nlohmann::json& j, model_info& v);
void from_json(const nlohmann::json& j, model_list& v);
void from_json(const nlohmann::json& j, embedding_response& v);
void from_json(const nlohmann::json& j, tokenize_response& v);

struct request_encoding {
    bool legacy_guided_decoding = false;  // guided_* fields instead of structured_outputs
};
// The request bodies as sent (stream flag included); throws client.config for invalid requests.
nlohmann::json encode(const chat_request& r, bool stream = false, request_encoding enc = {});
nlohmann::json encode(const completion_request& r, bool stream = false, request_encoding enc = {});
nlohmann::json encode(const embedding_request& r);
nlohmann::json encode(const tokenize_request& r);

// Decodes a JSON document into T with the rules above; `what` names it in errors.
// Parses text as JSON first (client.decode when it is not JSON).
template <class T>
T decode(const nlohmann::json& j, std::string_view what) {
    try {
        return j.template get<T>();
    } catch (const api_decode_error& e) {
        throw api_decode_error(e.field(), "in the " + std::string(what) + ": " + e.detail());
    } catch (const nlohmann::json::exception& e) {
        throw api_decode_error(std::string(what), std::string("could not be decoded: ") + e.what());
    }
}

template <class T>
T decode(std::string_view body, std::string_view what) {
    auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded()) {
        std::string shown(body.substr(0, 200));
        throw api_decode_error(std::string(what), "the answer is not JSON: \"" + shown + (body.size() > 200 ? "...\"" : "\""));
    }
    return decode<T>(j, what);
}
template <class T>
T decode(const std::string& body, std::string_view what) {
    return decode<T>(std::string_view(body), what);
}
template <class T>
T decode(const char* body, std::string_view what) {
    return decode<T>(std::string_view(body), what);
}

}  // namespace openai
DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/openai_codec_inl.hpp>
#endif
