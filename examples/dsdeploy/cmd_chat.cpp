// SPDX-License-Identifier: Apache-2.0
// dsdeploy chat: the bring-up's verification request (a chat completion to the served model,
// which the original recipe sends with curl), typed and streamed to the terminal, with TTFT,
// tokens and tokens/s at the end.
#include "cli.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

namespace dsdeploy_cli {

namespace {

// --base-url, else $OPENAI_BASE_URL or $OPENAI_API_BASE, else the URL the deployment advertises (its head, api.port,
// IPv6 in brackets) when an inventory file was given -- read through the same gate as plan,
// render and up, so a bad inventory exits 2 here too -- else http://127.0.0.1:8000/v1.
// (OPENAI_API_BASE is the name the OpenAI Python library used before 1.0; still set in many
// shells.) The API key: --api-key-env, else the inventory's api.key_env, else OPENAI_API_KEY.
std::string resolve_base_url(const std::string& flag, const std::optional<dsdeploy::validated_inventory>& v) {
    if (!flag.empty()) return flag;
    for (const char* name : {"OPENAI_BASE_URL", "OPENAI_API_BASE"})
        if (const char* env = std::getenv(name); env && *env) return env;
    if (v) return v->launch().api_url + "/v1";
    return "http://127.0.0.1:8000/v1";
}

}  // namespace

command add_chat_command(CLI::App& root, options& o) {
    struct settings {
        std::string base_url;
        std::string model;
        std::string api_key_env;
        int max_tokens = 256;
        std::vector<std::string> words;
    };
    auto s = std::make_shared<settings>();
    CLI::App* app = root.add_subcommand("chat", "send one chat message to the OpenAI-compatible server and stream the answer");
    app->add_option("--base-url", s->base_url,
                    "server URL, with or without /v1 (default: $OPENAI_BASE_URL or $OPENAI_API_BASE, else the URL the "
                    "inventory's deployment advertises, else http://127.0.0.1:8000/v1)");
    app->add_option("--model", s->model, "model name (default: the first one the server lists)");
    app->add_option("--api-key-env", s->api_key_env,
                    "environment variable holding the API key, never the key itself (default: the inventory's api.key_env "
                    "when --inventory is given, else OPENAI_API_KEY)");
    app->add_option("--max-tokens", s->max_tokens, "most tokens to generate")->capture_default_str()->check(CLI::PositiveNumber);
    app->add_flag("--json", o.json, "print one JSON object (text, usage, timings) instead of streaming");
    app->add_option("message", s->words, "the message (default: \"Hello! Which model are you?\")");
    app->footer("Exit status: 0 answered, 2 invalid input, 3 the server could not be reached or answered with an error.");
    return {app, [s, &o]() {
                std::optional<dsdeploy::validated_inventory> v;
                if (!o.inventory_path.empty()) v.emplace(load_validated_inventory(o));
                dsdeploy::openai::client_options co;
                co.base_url = resolve_base_url(s->base_url, v);
                co.api_key_env = !s->api_key_env.empty() ? s->api_key_env
                                 : v && v->inv().api.auth ? v->inv().api.key_env
                                                          : std::string("OPENAI_API_KEY");
                co.read_timeout = std::chrono::seconds(300);
                if (!o.json) co.log = [](std::string_view line) { std::cerr << "dsdeploy: " << line << "\n"; };
                dsdeploy::openai::client c(co);

                dsdeploy::openai::chat_request req;
                req.model = model_or_first_served(c, s->model);
                std::string message;
                for (const auto& w : s->words) message += (message.empty() ? "" : " ") + w;
                if (message.empty()) message = "Hello! Which model are you?";
                req.messages = {{"user", message}};
                req.max_tokens = s->max_tokens;

                if (!o.json) std::cerr << "dsdeploy: " << req.model << " at " << c.url().to_string() << "\n";
                bool in_reasoning = false;
                const auto done = c.chat_stream(req, [&](const dsdeploy::openai::chat_chunk& ch) {
                    if (o.json) return true;
                    for (const auto& choice : ch.choices) {
                        if (choice.delta.reasoning && !choice.delta.reasoning->empty()) {
                            if (!in_reasoning) std::cout << "[reasoning] ";
                            in_reasoning = true;
                            std::cout << *choice.delta.reasoning;
                        }
                        if (choice.delta.content && !choice.delta.content->empty()) {
                            if (in_reasoning) std::cout << "\n[answer] ";
                            in_reasoning = false;
                            std::cout << *choice.delta.content;
                        }
                    }
                    std::cout.flush();
                    return true;
                });
                const auto& st = *done.stream;
                const std::int64_t tokens = done.usage ? done.usage->completion_tokens : 0;
                const double total = st.total.count();
                const double rate = total > 0 ? static_cast<double>(tokens) / total : 0.0;
                const std::string finish = done.choices.empty() ? std::string() : done.choices.front().finish_reason;
                if (o.json) {
                    nlohmann::json j = {{"base_url", c.url().to_string()},
                                        {"model", req.model},
                                        {"content", done.text()},
                                        {"finish_reason", finish},
                                        {"ttft_s", st.time_to_first_token.count()},
                                        {"total_s", total},
                                        {"tokens_per_s", rate}};
                    if (!done.choices.empty() && done.choices.front().message.reasoning)
                        j["reasoning"] = *done.choices.front().message.reasoning;
                    if (done.usage) j["usage"] = *done.usage;
                    std::cout << j.dump(2) << "\n";
                } else {
                    std::cout << "\n";
                    std::cerr << fmt::format("--- TTFT {:.3f} s, {} tokens ({} prompt) in {:.2f} s, {:.1f} tokens/s, finish: {}\n",
                                             st.time_to_first_token.count(), tokens,
                                             done.usage ? done.usage->prompt_tokens : 0, total, rate,
                                             finish.empty() ? "-" : finish);
                }
                return exit_ok;
            }};
}

}  // namespace dsdeploy_cli
