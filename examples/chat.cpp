// SPDX-License-Identifier: Apache-2.0
// The OpenAI client on its own: streams one chat answer from an OpenAI-compatible server
// (vLLM) and prints TTFT, tokens and tokens/s.
//
//   chat [BASE_URL [MESSAGE...]]     BASE_URL default: $OPENAI_BASE_URL or http://127.0.0.1:8000/v1
//                                    the key, if any: $OPENAI_API_KEY
#include <dsdeploy/openai.hpp>

#include <cstdio>
#include <iostream>

int main(int argc, char** argv) {
    namespace oa = dsdeploy::openai;
    try {
        oa::client_options options;
        if (argc > 1) options.base_url = argv[1];
        oa::client client(options);

        oa::chat_request request;
        request.model = client.models().data.at(0).id;  // the served model
        std::string message = argc > 2 ? "" : "Hello! Which model are you?";
        for (int i = 2; i < argc; ++i) message += (i > 2 ? " " : "") + std::string(argv[i]);
        request.messages = {{"user", message}};
        request.max_tokens = 64;

        const oa::chat_completion done = client.chat_stream(request, [](const oa::chat_chunk& chunk) {
            for (const auto& choice : chunk.choices)
                std::cout << choice.delta.reasoning.value_or("") << choice.delta.content.value_or("") << std::flush;
            return true;  // false would cancel
        });
        const double seconds = done.stream->total.count();
        const auto tokens = done.usage ? done.usage->completion_tokens : 0;
        std::printf("\nTTFT %.3f s, %lld tokens, %.1f tokens/s\n", done.stream->time_to_first_token.count(),
                    static_cast<long long>(tokens), seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0);
    } catch (const oa::api_status_error& e) {  // the server said no: its status and words
        std::fprintf(stderr, "HTTP %d: %s\n", e.status(), e.message().c_str());
        return 1;
    } catch (const dsdeploy::error& e) {  // connection, timeout, stream, configuration
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
