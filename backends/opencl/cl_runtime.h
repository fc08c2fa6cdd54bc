#pragma once

// Internal to the OpenCL backend: the only header that includes the OpenCL API.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/opencl/opencl_backend.h"
#include "core/owned.h"

namespace sonic::cl {

// Compile-time tile sizes of kernels/conv.cl (its header explains them), passed as -D options.
inline constexpr int kTileM = 64;
inline constexpr int kTileN = 64;
inline constexpr int kTileK = 32;
inline constexpr int kWorkM = 8;
// Work-group size of the element-wise and pooling kernels. Fixed because PoCL compiles a
// work-group function per local size: a runtime-chosen one would compile at Run time.
inline constexpr int kElementGroup = 64;
// Values per block of the bfp8 precision (along k), and im2col's work-group: conv.cl's constants.
inline constexpr int kBfpBlock = 16;
inline constexpr int kIm2colGroup = 16;

// "CL_OUT_OF_RESOURCES" for a status code; "CL status -N" for one the headers do not name.
std::string StatusName(cl_int status);

// Throws Error(kBackend) "CALL failed: CL_NAME" unless `status` is CL_SUCCESS (allocation
// failures: Error(kResourceExhausted), ThrowVendorError). `call` names the OpenCL function and
// what it acted on.
void Check(cl_int status, std::string_view call);

// One OpenCL object, released once (core/owned.h). Move-only.
template <typename T, cl_int (*kRelease)(T)>
using Handle = Owned<T, CallRelease<kRelease>>;

using Context = Handle<cl_context, clReleaseContext>;
using Queue = Handle<cl_command_queue, clReleaseCommandQueue>;
using Program = Handle<cl_program, clReleaseProgram>;
using Kernel = Handle<cl_kernel, clReleaseKernel>;
using Buffer = Handle<cl_mem, clReleaseMemObject>;
using Event = Handle<cl_event, clReleaseEvent>;

struct Device {
  OpenClDeviceInfo info;
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
};

// Lists in this process: only after ProcessProbe() succeeded (Select checks it).
std::vector<Device> Devices();
// See SelectOpenClDevice; throws Error(kUnavailable) with the probe's failure when it failed.
Device Select(std::string_view selector);

// The kernel sources, concatenated and embedded at build time (generated from kernels/*.cl).
std::string_view KernelSource();

// A context and an in-order, profiling queue on one device, with the sonicbench program built
// from the embedded source or loaded from `binary_path` (non-empty). Build failures carry the
// build log; a binary compiled with other tile sizes than this sonicbench's is refused
// (Error(kInvalidArgument) naming both).
struct Runtime {
  Device device;
  Context context;
  Queue queue;
  Program program;
};
Runtime Open(const OpenClOptions& options);

// The built program's binary for its one device.
std::vector<unsigned char> ProgramBinary(cl_program program);

Kernel CreateKernel(cl_program program, const char* name);

template <typename T>
void SetArg(cl_kernel kernel, cl_uint index, const T& value, std::string_view what) {
  // For a memory object T is cl_mem, a pointer to an opaque struct, and OpenCL wants the size of
  // that handle (clSetKernelArg: "sizeof(cl_mem)"): not a mistaken sizeof of a pointer.
  // NOLINTNEXTLINE(bugprone-sizeof-expression)
  const cl_int status = clSetKernelArg(kernel, index, sizeof(T), &value);
  if (status != CL_SUCCESS) Check(status, "clSetKernelArg(" + std::string(what) + ")");
}

}  // namespace sonic::cl
