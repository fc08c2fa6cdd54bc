#pragma once

// Internal to the OpenCL backend: the process's probe, and the pieces of ProbeOpenClDevices
// (opencl_backend.h) that are pure functions, so that tests check them without a broken platform.

#include <string>
#include <string_view>
#include <vector>

#include "backends/opencl/opencl_backend.h"

namespace sonic::cl {

// How long the child process may take to list the devices before it is killed: PoCL's first
// listing takes well under a second; a platform that hangs must not hang sonicbench.
inline constexpr int kProbeTimeoutSeconds = 30;

// The child's report on its result pipe: "ok" and the devices, or "error" and the message of the
// Error the listing threw. Fields are separated by \x1f and devices by \x1e, bytes no OpenCL
// name contains; a device list ends with an "end" record, so that a truncated one is refused.
std::string EncodeProbeResult(const std::vector<OpenClDeviceInfo>& devices);
std::string EncodeProbeError(std::string_view message);

// What the parent makes of the child: `wait_status` as waitpid gives it, `timed_out` when the
// parent killed it, `result` what it wrote on the result pipe, `output` what it printed on
// stdout and stderr (a vendor runtime's last words, quoted in the failure).
OpenClProbe InterpretProbe(int wait_status, bool timed_out, std::string_view result,
                           std::string_view output);

// The first ProbeOpenClDevices() of this process, kept: the platform does not change while
// sonicbench runs, and each probe forks and loads the vendor runtime. Thread-safe.
const OpenClProbe& ProcessProbe();

}  // namespace sonic::cl
