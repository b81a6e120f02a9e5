// SPDX-License-Identifier: Apache-2.0
// dsdeploy init: writes the commented default inventory (TOML) or its JSON form.
#include "cli.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

namespace dsdeploy_cli {

command add_init_command(CLI::App& root, options& o) {
    struct args {
        std::string out;
        std::string format;
        bool force = false;
    };
    auto a = std::make_shared<args>();
    CLI::App* app = root.add_subcommand("init", "write the commented default inventory (two servers of 8 x L20, DeepSeek-V3) to start from");
    app->add_option("-o,--out", a->out, "file to write (default: print to stdout)");
    app->add_option("--format", a->format, "toml (commented, for people) or json (for machines); default: from --out's extension, else toml")
        ->check(CLI::IsMember({"toml", "json"}));
    app->add_flag("--force", a->force, "overwrite --out if it exists");
    app->footer("Then edit it and run: dsdeploy plan --inventory FILE; dsdeploy render --inventory FILE --out DIR");
    return {app, [a, &o]() {
                (void)o;
                namespace fs = std::filesystem;
                std::string format = a->format;
                if (format.empty()) format = fs::path(a->out).extension() == ".json" ? "json" : "toml";
                const dsdeploy::inventory inv = dsdeploy::default_inventory();
                std::string text;
                if (format == "json") text = nlohmann::json(inv).dump(2) + "\n";
                else text = dsdeploy::to_toml(inv);
                if (a->out.empty()) {
                    std::cout << text;
                    return exit_ok;
                }
                const fs::path out(a->out);
                if (fs::exists(out) && !a->force)
                    throw dsdeploy::config_error(dsdeploy::errc::cli_usage, "--out", out.string() + " exists; use --force to overwrite it, or choose another file");
                // Write beside it, then rename: a failed write never leaves half an inventory.
                const fs::path tmp = out.string() + ".dsdeploy-tmp";
                {
                    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
                    f << text;
                    f.close();
                    if (!f) throw dsdeploy::environment_error(dsdeploy::errc::inventory_unreadable, tmp.string(), "cannot write the inventory file");
                }
                std::error_code ec;
                fs::rename(tmp, out, ec);
                if (ec) {
                    fs::remove(tmp, ec);
                    throw dsdeploy::environment_error(dsdeploy::errc::inventory_unreadable, out.string(), "cannot move the inventory into place");
                }
                std::cout << "wrote " << out.string() << " (" << format << "); edit it, then: dsdeploy render --inventory " << out.string()
                          << " --out bundle\n";
                return exit_ok;
            }};
}

}  // namespace dsdeploy_cli
