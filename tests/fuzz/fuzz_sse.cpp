// SPDX-License-Identifier: Apache-2.0
// A server's event stream is outside input: the SSE parser, fed in arbitrary pieces, and the
// OpenAI stream layer above it (chunk decoders, in-band error documents) give events or a
// dsdeploy::error, never a crash. The first input byte chooses how the rest is cut into reads.
#include <dsdeploy/detail/sse.hpp>
#include <dsdeploy/openai.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t piece = 1 + data[0] % 17;  // 1..17 bytes per read
    const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
    using namespace dsdeploy;
    detail::sse_parser parser(1 << 16);
    std::size_t events = 0;
    try {
        for (std::size_t i = 0; i < stream.size(); i += piece) {
            const bool more = parser.feed(stream.substr(i, piece), [&](const detail::sse_event& ev) {
                ++events;
                if (ev.data == "[DONE]") return false;
                (void)openai::parse_error_body(ev.data);
                try {
                    const auto chunk = openai::decode<openai::chat_chunk>(std::string_view(ev.data), "chunk");
                    for (const auto& c : chunk.choices) (void)c.delta.content.value_or("").size();
                } catch (const error&) {
                }
                try {
                    (void)openai::decode<openai::completion>(std::string_view(ev.data), "chunk");
                } catch (const error&) {
                }
                return true;
            });
            if (!more) break;
        }
        (void)parser.finish();
    } catch (const error&) {
    }
    (void)events;
    return 0;
}
