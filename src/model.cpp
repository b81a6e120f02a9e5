// SPDX-License-Identifier: Apache-2.0
// The compiled library's translation unit for the model room (DSDEPLOY_PRECOMPILED).
#include <dsdeploy/model.hpp>
#include <dsdeploy/impl/model_inl.hpp>
