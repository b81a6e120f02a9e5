// SPDX-License-Identifier: Apache-2.0
// One line of a tool's output or log as the diagnose parsers keep it: its 1-based number in the
// input and its cleaned text, so a finding can quote the line that shows the problem.
#pragma once

#include <dsdeploy/config.hpp>

#include <cstddef>
#include <string>

DSDEPLOY_NAMESPACE_BEGIN

// One line of a log: its 1-based number in the input and its text (terminal colour codes
// removed, cut to 400 characters).
struct log_line {
    std::size_t number = 0;
    std::string text;
};

DSDEPLOY_NAMESPACE_END
