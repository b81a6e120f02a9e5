// SPDX-License-Identifier: Apache-2.0
// Implementation of executor.hpp.
#pragma once

#include <dsdeploy/detail/process.hpp>
#include <dsdeploy/executor.hpp>

DSDEPLOY_NAMESPACE_BEGIN

DSDEPLOY_INLINE command_result local_executor::run(const std::string&, const command_spec& c) {
    const auto p = detail::run_process(c.argv, c.input, c.timeout);
    command_result r;
    r.started = p.started;
    r.timed_out = p.timed_out;
    r.exit_code = p.timed_out ? -1 : p.exit_code;
    r.out = p.out;
    r.err = p.err;
    r.elapsed = p.elapsed;
    return r;
}

DSDEPLOY_NAMESPACE_END
