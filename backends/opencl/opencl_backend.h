#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace sonic {

// The FPGA backend: the whole network as a chain of OpenCL C 1.2 kernels (convolution and dense
// as a local-memory-tiled GEMM, after an on-device im2col except for 1x1 stride-1 layers, with
// fused bias, residual add and ReLU; pooling; softmax) on one in-order queue of any OpenCL
// device. Compile uploads every weight once; Run is one upload, the kernel chain and one
// download, timed by profiling events. Precisions fp32 and bfp8 (block floating point: 16 values
// along the input channels share an exponent, 8-bit signed mantissas; weights rounded at
// compile, activations inside the GEMM kernel). The program is built from the sources embedded
// in the binary, or loaded from a device binary (an FPGA bitstream from aoc or v++, or one
// written by `sonicbench opencl-compile`). CompileOptions::threads does not apply: the device
// owns its parallelism (PoCL: the POCL_MAX_PTHREAD_COUNT environment variable). docs/FPGA.md has
// the details.
//
// CompileOptions::device is "" | "P:D" | "NAME", ::backend_options "" | "binary=PATH" (see
// ParseOpenClOptions).
std::unique_ptr<Backend> MakeOpenClBackend();

// One OpenCL device as the ICD loader lists it.
struct OpenClDeviceInfo {
  int platform_index = 0;
  int device_index = 0;
  std::string platform_name;
  std::string platform_version;
  std::string device_name;
  std::string device_type;  // "cpu", "gpu", "accelerator", "custom"
  std::string device_version;
};

// What listing the OpenCL devices found. The listing runs in a child process (fork), because a
// vendor runtime may abort or hang instead of failing: PoCL in a container without /sys prints
// "Not enough memory to run on this device" and raises SIGABRT inside clGetPlatformIDs. There it
// costs only the OpenCL backend, which reports `failure`, instead of the whole process.
struct OpenClProbe {
  std::vector<OpenClDeviceInfo> devices;  // every device of every platform, in ICD order
  std::string failure;  // empty: the listing finished (devices may still be empty)
};

// Lists the devices in a child process, killed after 30 s. Each call forks anew; the backend
// keeps the first result for the life of the process and lists in-process (to open a device)
// only when it succeeded. In the child only the
// OpenCL calls run, then _exit: safe while other threads run unless one of them holds a lock the
// ICD loader needs (the timeout bounds that case too).
OpenClProbe ProbeOpenClDevices();

// The devices of this process's first probe (kept); throws Error(kUnavailable) with its failure
// when the listing failed. Empty when no platform is installed.
std::vector<OpenClDeviceInfo> ListOpenClDevices();

// The backend's options, from CompileOptions::device and ::backend_options. The device selector
// is "P:D" (platform and device indices) or a case-insensitive substring of "platform name device
// name"; empty: the first device. The one backend option, `binary=PATH`, loads the program from
// a device binary instead of building the embedded source. Throws Error(kInvalidArgument) for a
// selector with an option in it, an unknown or repeated option. Pure: no device is opened.
inline constexpr std::string_view kOpenClOptionForms =
    "binary=PATH (a device binary: an FPGA bitstream, or one from `sonicbench opencl-compile`)";
struct OpenClOptions {
  std::string device;
  std::string binary_path;
};
OpenClOptions ParseOpenClOptions(std::string_view device, std::string_view backend_options);

// The device a selector names; throws Error(kNotFound) listing the devices, or Error(kUnavailable)
// when there is no OpenCL platform at all.
OpenClDeviceInfo SelectOpenClDevice(std::string_view selector);

// Builds the embedded kernel sources for the selected device and returns the program binary
// (what clGetProgramInfo(CL_PROGRAM_BINARIES) gives), to be saved and loaded with `binary=PATH`.
std::vector<unsigned char> BuildOpenClBinary(std::string_view selector);

// The kernels' OpenCL C source exactly as the backend builds it (kernels/*.cl concatenated,
// embedded at build time); with OpenClBuildOptions() it is the input of an FPGA offline compiler.
std::string_view OpenClKernelSource();

// The OpenCL build options the kernels are built with (tile sizes as -D defines); a device
// binary for an FPGA must be compiled offline with the same ones (docs/FPGA.md).
std::string OpenClBuildOptions();

// The functions above that `sonicbench opencl-devices` and `opencl-compile` use, as a table the
// registry hands out (FindOpenClTools in backends/registry.h): the CLI asks the registry whether
// this build has them instead of seeing a build flag of its own.
struct OpenClTools {
  std::vector<OpenClDeviceInfo> (*list_devices)();
  OpenClDeviceInfo (*select_device)(std::string_view selector);
  std::vector<unsigned char> (*build_binary)(std::string_view selector);
  std::string_view (*kernel_source)();
  std::string (*build_options)();
};

}  // namespace sonic
