// SPDX-License-Identifier: Apache-2.0
// Library-wide macros. Every macro carries the DSDEPLOY_ prefix.
#pragma once

#include <dsdeploy/version.hpp>

// Definitions of non-template functions live in impl/*_inl.hpp and are marked with
// DSDEPLOY_INLINE so that the library stays header-only (one definition per program).
#ifndef DSDEPLOY_INLINE
#define DSDEPLOY_INLINE inline
#endif

// All public API lives in dsdeploy::v0; the inline namespace leaves room for an ABI break.
#define DSDEPLOY_NAMESPACE_BEGIN \
    namespace dsdeploy {         \
    inline namespace v0 {
#define DSDEPLOY_NAMESPACE_END \
    }                          \
    }
