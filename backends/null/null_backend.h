#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "backends/backend.h"

namespace sonic {

// A backend that computes nothing and accepts any graph and every precision. By default its Run
// returns at once without touching the output: it measures the load generator's and the
// service's own ceiling. With a service-time model in CompileOptions::device,
// `latency_us=A,per_sample_us=B`, each Run of a batch of n takes A + n * B µs of wall time
// without using the host's CPU (it sleeps until 60 µs before the end, then spins: a wake-up on a
// VM is late by tens of µs): an emulated accelerator elsewhere, whose capacity at batch n is
// n / (A + n * B) samples per µs per executable. DeviceTiming reports that time as compute.
std::unique_ptr<Backend> MakeNullBackend();

// The service-time model of `latency_us=A,per_sample_us=B` (either may be left out: 0; both
// finite and at least 0). "" is no model: Run returns at once. Throws Error(kInvalidArgument)
// naming the item and the accepted form. Pure.
struct EmulatedDevice {
  std::int64_t latency_ns = 0;
  std::int64_t per_sample_ns = 0;
  std::int64_t ServiceNs(int batch) const { return latency_ns + batch * per_sample_ns; }
  bool operator==(const EmulatedDevice&) const = default;
};
EmulatedDevice ParseEmulatedDevice(std::string_view text);

}  // namespace sonic
