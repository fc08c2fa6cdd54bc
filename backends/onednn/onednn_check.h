#pragma once

// Internal to the onednn backend: how a failed oneDNN call becomes an Error, named by the call.

#include <oneapi/dnnl/dnnl.hpp>
#include <string_view>
#include <type_traits>

namespace sonic {

// Throws unless `status` is dnnl_success: Error(kResourceExhausted) for dnnl_out_of_memory,
// Error(kBackend) otherwise (ThrowVendorError, backends/backend.h), "onednn: CALL failed: WHAT
// (status NAME)". `what` is oneDNN's own message, empty for the C API.
void CheckDnnl(dnnl_status_t status, std::string_view call, std::string_view what = {});

// Runs `call`, an expression of oneDNN's C++ API (which throws dnnl::error), and returns its
// value; a dnnl::error becomes the Error of CheckDnnl naming `text`.
template <typename Call>
decltype(auto) CallDnnl(Call&& call, std::string_view text) {
  try {
    return call();
  } catch (const dnnl::error& error) {
    CheckDnnl(error.status, text, error.what());
    throw;  // unreachable: error.status is never dnnl_success
  }
}

}  // namespace sonic

// The oneDNN call is named in the error by its source text, as SONIC_CUDNN does for cuDNN.
#define SONIC_DNNL(call) ::sonic::CallDnnl([&]() -> decltype(auto) { return call; }, #call)
