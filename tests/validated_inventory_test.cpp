// SPDX-License-Identifier: Apache-2.0
#include <dsdeploy/validated_inventory.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <type_traits>

namespace validated_inventory_test {

using namespace dsdeploy;

// Only validate_inventory makes a validated_inventory: no default, no conversion, no way to
// build one from its parts, and no way to change the inventory inside.
static_assert(!std::is_default_constructible_v<validated_inventory>);
static_assert(!std::is_constructible_v<validated_inventory, inventory>);
static_assert(!std::is_constructible_v<validated_inventory, const inventory&>);
static_assert(!std::is_constructible_v<validated_inventory, loaded_inventory>);
static_assert(!std::is_constructible_v<validated_inventory, inventory, source_map, plan, launch_plan>);
static_assert(!std::is_convertible_v<inventory, validated_inventory>);
static_assert(!std::is_convertible_v<loaded_inventory, validated_inventory>);
static_assert(std::is_copy_constructible_v<validated_inventory>);  // a copy of a validated inventory is still valid
static_assert(std::is_same_v<decltype(std::declval<const validated_inventory&>().inv()), const inventory&>);
static_assert(std::is_same_v<decltype(std::declval<validated_inventory&>().inv()), const inventory&>);

TEST_CASE("validate_inventory passes a valid inventory with its plan and launch plan") {
    const inventory inv = default_inventory();
    const validated_inventory v = validate_inventory(inv);
    CHECK(nlohmann::json(v.inv()) == nlohmann::json(inv));
    CHECK(v.plan().parallel.tp == 8);
    CHECK(v.plan().parallel.pp == 2);
    CHECK(v.launch().nodes.size() == 2);
    CHECK(v.launch().version.text == "0.11.0");
    // The bundle from the validated inventory is the one render_bundle(inv, plan) gives.
    bundle_options o;
    o.api_key = "0123456789abcdef0123";
    const bundle a = render_bundle(v, o);
    const bundle b = render_bundle(inv, plan_for(inv), o);
    REQUIRE(a.files.size() == b.files.size());
    for (std::size_t i = 0; i < a.files.size(); ++i) {
        CHECK(a.files[i].path == b.files[i].path);
        CHECK(a.files[i].content == b.files[i].content);
    }
}

TEST_CASE("validate_inventory applies every check render applies, located in the file") {
    const std::string base = dsdeploy::to_toml(default_inventory());
    auto refused = [&](const std::string& from, const std::string& to) {
        std::string text = base;
        const auto at = text.find(from);
        REQUIRE(at != std::string::npos);
        text.replace(at, from.size(), to);
        return parse_inventory(text, "inv.toml");
    };
    // validate(): ports, names, runtime, API settings, served name, derived flags
    CHECK_DSDEPLOY_ERROR(validate_inventory(refused("api = 8000", "api = 6379")), errc::inventory_ports, "inv.toml:40: ports.api", "already uses");
    CHECK_DSDEPLOY_ERROR(validate_inventory(refused("restart = \"unless-stopped\"", "restart = \"sometimes\"")), errc::inventory_field,
                         "inv.toml:19: runtime.restart", "is not a restart policy");
    CHECK_DSDEPLOY_ERROR(validate_inventory(refused("served_model_name = \"deepseek-v3\"", "served_model_name = \"a\\nb\"")),
                         errc::inventory_field, "inv.toml:65: serving.served_model_name", "one line of printable text");
    CHECK_DSDEPLOY_ERROR(validate_inventory(refused("# extra_args = [\"--enforce-eager\"]", "extra_args = [\"--port\", \"1\"]")),
                         errc::inventory_field, "inv.toml:81: serving.extra_args[0]", "--port is derived from the inventory");
    // planning: a model the catalog does not know
    CHECK_DSDEPLOY_ERROR(validate_inventory(refused("model = \"deepseek-ai/DeepSeek-V3\"", "model = \"no/such-model\"")),
                         errc::model_unknown, "inv.toml:63: serving.model", "no/such-model");
    // the engine: a vLLM older than dsdeploy renders for
    CHECK_DSDEPLOY_ERROR(validate_inventory(refused("vllm_version = \"0.11.0\"", "vllm_version = \"0.6.0\"")), errc::launch_version,
                         "inv.toml:13: runtime.vllm_version", "is older than");
}

TEST_CASE("an inventory made in code is checked the same way, errors without a file") {
    inventory inv = default_inventory();
    inv.runtime.shm_size = "lots";
    CHECK_DSDEPLOY_ERROR(validate_inventory(inv), errc::inventory_field, "runtime.shm_size", "is not a size");
}

}  // namespace validated_inventory_test
