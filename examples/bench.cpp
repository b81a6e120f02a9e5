// SPDX-License-Identifier: Apache-2.0
// The benchmark on its own: 20 requests from 4 concurrent users against an OpenAI-compatible
// server (vLLM), prompts sized with the server's /tokenize, vLLM bench serve's summary printed.
//
//   bench [BASE_URL [CONCURRENCY [REQUESTS [OUTPUT_TOKENS]]]]
//         BASE_URL default: $OPENAI_BASE_URL or http://127.0.0.1:8000/v1; key: $OPENAI_API_KEY
#include <dsdeploy/bench.hpp>

#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
    namespace b = dsdeploy::bench;
    try {
        dsdeploy::openai::client_options options;
        if (argc > 1) options.base_url = argv[1];
        dsdeploy::openai::client client(options);

        b::workload_options w;
        w.model = client.models().data.at(0).id;
        w.mean_input_tokens = 64;
        w.stddev_input_tokens = 8;
        w.mean_output_tokens = argc > 4 ? std::atoi(argv[4]) : 16;
        w.stddev_output_tokens = argc > 4 ? 0 : 4;
        w.num_requests = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 20;
        const b::workload load = b::make_workload(w, b::server_token_counter(client, w.model));

        b::run_options r;
        r.max_concurrency = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 4;  // closed loop: 4 users
        b::epoll_engine engine(client.url());                                    // plain http://
        const char* key = std::getenv("OPENAI_API_KEY");
        const b::run_result result = b::run(engine, load, r, key ? key : "", client.url().to_string());
        std::cout << b::to_text(result, b::summarize(result));
        return result.interrupted ? 1 : 0;
    } catch (const dsdeploy::error& e) {
        std::cerr << e.what() << "\n";
        return dynamic_cast<const dsdeploy::config_error*>(&e) ? 2 : 3;
    }
}
