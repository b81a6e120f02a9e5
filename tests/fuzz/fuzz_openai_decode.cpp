// SPDX-License-Identifier: Apache-2.0
// Whatever a server answers is outside input: every response decoder, the error-document
// reader, the Prometheus /metrics parser and the base-URL parser give a value or a
// dsdeploy::error, never a crash. The first input byte chooses the decoder.
#include <dsdeploy/openai.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    namespace oa = dsdeploy::openai;
    try {
        switch (data[0] % 10) {
            case 0: (void)oa::decode<oa::chat_completion>(body, "chat").text(); break;
            case 1: (void)oa::decode<oa::chat_chunk>(body, "chunk"); break;
            case 2: (void)oa::decode<oa::completion>(body, "completion").text(); break;
            case 3: (void)oa::decode<oa::model_list>(body, "models"); break;
            case 4: (void)oa::decode<oa::tokenize_response>(body, "tokenize"); break;
            case 5: (void)oa::decode<oa::embedding_response>(body, "embeddings"); break;
            case 6: (void)oa::decode<oa::usage>(body, "usage"); break;
            case 7: {
                const auto info = oa::parse_error_body(body);
                (void)info.message.size();
                break;
            }
            case 8: {
                const auto m = oa::parse_metrics(body);
                (void)m.total("vllm:num_requests_running");
                if (m.time_to_first_token) (void)m.time_to_first_token->mean();
                break;
            }
            case 9: (void)oa::parse_base_url(body).to_string(); break;
        }
    } catch (const dsdeploy::error&) {
    }
    return 0;
}
