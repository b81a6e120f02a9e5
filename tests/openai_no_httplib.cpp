// SPDX-License-Identifier: Apache-2.0
// With DSDEPLOY_ENABLE_HTTPLIB=0 the client compiles without <httplib.h>, for a transport of
// the user's own (this one answers every request with 503, enough to compile and link).
#define DSDEPLOY_ENABLE_HTTPLIB 0
#include <dsdeploy/openai.hpp>

#ifdef CPPHTTPLIB_VERSION
#error "openai.hpp included httplib.h although DSDEPLOY_ENABLE_HTTPLIB is 0"
#endif

namespace {
struct closed_transport {
    explicit closed_transport(const dsdeploy::openai::transport_config&) {}
    dsdeploy::openai::http_response send(const dsdeploy::openai::http_request&) {
        dsdeploy::openai::http_response r;
        r.status = 503;
        return r;
    }
    dsdeploy::openai::http_response send(const dsdeploy::openai::http_request& q, const dsdeploy::openai::stream_sink&) {
        return send(q);
    }
};
}  // namespace

int main() {
    dsdeploy::openai::client_options o;
    o.base_url = "http://127.0.0.1:8000/v1";
    o.max_retries = 0;
    dsdeploy::openai::basic_client<closed_transport> c(o);
    try {
        c.models();
    } catch (const dsdeploy::openai::internal_server_error& e) {
        return e.status() == 503 ? 0 : 1;
    }
    return 1;
}
