// SPDX-License-Identifier: Apache-2.0
// Library-wide macros: every switch a user can set is listed here, in one place (toml++'s
// preprocessor.h is the model). Every macro carries the DSDEPLOY_ prefix.
//
//   DSDEPLOY_PRECOMPILED    defined: the definitions come from the compiled library
//                           (CMake target dsdeploy::compiled, built from src/<room>.cpp) and the
//                           headers do not include impl/<room>_inl.hpp. Undefined (the default):
//                           header-only, every definition is inline. The CMake target sets it;
//                           do not define it by hand unless you link src/*.cpp yourself.
//   DSDEPLOY_INLINE         how impl/*_inl.hpp marks its non-template definitions: `inline` in
//                           header-only mode, empty in the compiled library. Derived from the
//                           switch above; overriding it is not supported.
//   DSDEPLOY_ENABLE_HTTPLIB 1 (default): openai::client is the cpp-httplib transport.
//                           0: the client without <httplib.h>, for your own transport
//                           (openai_transport.hpp; header-only mode only, the compiled library
//                           has it on).
#pragma once

#include <dsdeploy/version.hpp>

#ifndef DSDEPLOY_INLINE
#ifdef DSDEPLOY_PRECOMPILED
#define DSDEPLOY_INLINE
#else
#define DSDEPLOY_INLINE inline
#endif
#endif

// All public API lives in dsdeploy::v0; the inline namespace leaves room for an ABI break.
#define DSDEPLOY_NAMESPACE_BEGIN \
    namespace dsdeploy {         \
    inline namespace v0 {
#define DSDEPLOY_NAMESPACE_END \
    }                          \
    }
