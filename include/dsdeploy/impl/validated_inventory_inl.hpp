// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <dsdeploy/detail/names.hpp>
#include <dsdeploy/validated_inventory.hpp>

#include <cstdlib>
#include <utility>

DSDEPLOY_NAMESPACE_BEGIN

namespace detail {
// What resolve_api_key would refuse: the variable api.key_env names is set to a value that is
// not a usable key (checked here too, so every command refuses it the same way).
inline void check_api_key_env(const inventory& inv) {
    const auto& a = inv.api;
    if (!a.auth || !a.key.empty() || a.key_env.empty()) return;
    if (const char* v = std::getenv(a.key_env.c_str()); v && *v && !is_api_key_text(v))
        raise(errc::inventory_field, "api.key_env",
              "$" + a.key_env + " is set but is not a usable API key (16-512 characters of letters, digits and . _ ~ + / = -)");
}

// Every check, in the order render has always applied them (so the first error is the same):
// the inventory, the plan, the API key's source, the engine version and flags.
inline void check_everything(const inventory& inv, plan& p, launch_plan& l) {
    check_inventory_text(inv);
    validate(inv);
    p = plan_for_validated(inv);
    check_api_key_env(inv);
    l = make_launch_validated(inv, p);
}
}  // namespace detail

DSDEPLOY_INLINE validated_inventory validate_inventory(loaded_inventory loaded) {
    validated_inventory v;
    v.inv_ = std::move(loaded.inv);
    v.source_ = std::move(loaded.source);
    with_source(v.source_, [&] { detail::check_everything(v.inv_, v.plan_, v.launch_); });
    return v;
}

DSDEPLOY_INLINE validated_inventory validate_inventory(const inventory& inv) {
    validated_inventory v;
    v.inv_ = inv;
    detail::check_everything(v.inv_, v.plan_, v.launch_);
    return v;
}

DSDEPLOY_INLINE bundle render_bundle(const validated_inventory& v, const bundle_options& o) {
    return v.located([&] { return detail::render_bundle_with_launch(v.inv(), v.plan(), v.launch(), o); });
}

DSDEPLOY_NAMESPACE_END
