// SPDX-License-Identifier: Apache-2.0
// The one gate every inventory passes: validate_inventory() applies every check the bundle
// relies on (names, cluster, network, paths, ports, runtime and API settings, the plan, the
// engine version and every vllm flag, the API key from the environment) once, with errors
// located by file, line and field, and returns a validated_inventory. Only it makes one, so a
// stage that takes one (render_bundle below; the CLI's plan, render, up, status, down and logs)
// cannot see an inventory that was not checked.
#pragma once

#include <dsdeploy/bundle.hpp>
#include <dsdeploy/config.hpp>
#include <dsdeploy/inventory.hpp>
#include <dsdeploy/launch.hpp>
#include <dsdeploy/plan.hpp>

DSDEPLOY_NAMESPACE_BEGIN

class validated_inventory;

// Validates `loaded` as a whole: validate(inv), plan_for(inv), make_launch(inv, plan) and the
// key named by api.key_env (when api.auth and no api.key). Throws config_error with the field
// located in loaded.source ("inventory.toml:12: ports.api"); errc and detail as each check has them.
validated_inventory validate_inventory(loaded_inventory loaded);
// The same for an inventory made in code: errors name the field without a file.
validated_inventory validate_inventory(const inventory& inv);

class validated_inventory {
public:
    const inventory& inv() const noexcept { return inv_; }
    const source_map& source() const noexcept { return source_; }
    // The plan and launch plan the checks produced (no stage needs to make them again).
    const dsdeploy::plan& plan() const noexcept { return plan_; }
    const launch_plan& launch() const noexcept { return launch_; }

    // Runs `f`, locating an error it throws in this inventory's file (with_source); as is for
    // an inventory made in code.
    template <class F>
    decltype(auto) located(F&& f) const {
        if (source_.file.empty()) return f();
        return with_source(source_, std::forward<F>(f));
    }

private:
    validated_inventory() = default;  // only validate_inventory makes one
    friend validated_inventory validate_inventory(loaded_inventory loaded);
    friend validated_inventory validate_inventory(const inventory& inv);

    inventory inv_;
    source_map source_;
    dsdeploy::plan plan_;
    launch_plan launch_;
};

// render_bundle for a validated inventory: its plan and launch plan, nothing checked twice;
// errors (api.key) located in its file.
bundle render_bundle(const validated_inventory& v, const bundle_options& o = {});

namespace detail {
// The stages without repeating what validate_inventory already checked; defined in their rooms.
dsdeploy::plan plan_for_validated(const inventory& inv);                                   // inventory
launch_plan make_launch_validated(const inventory& inv, const dsdeploy::plan& p);
void check_inventory_text(const inventory& inv);                                          // launch
bundle render_bundle_with_launch(const inventory& inv, const dsdeploy::plan& p, launch_plan l,
                                 const bundle_options& o);                                 // bundle
}  // namespace detail

DSDEPLOY_NAMESPACE_END

#ifndef DSDEPLOY_PRECOMPILED
#include <dsdeploy/impl/validated_inventory_inl.hpp>
#endif
