// `sonicbench opencl-devices` and `sonicbench opencl-compile` (issue 5, docs/FPGA.md). Built in
// every configuration: the registry says whether the OpenCL backend is (FindOpenClTools); without
// it the commands say so and exit 4 (unavailable).
#include <fmt/format.h>

#include <fstream>
#include <memory>
#include <string>

#include "backends/opencl/opencl_backend.h"
#include "backends/registry.h"
#include "bench/cli/commands.h"
#include "core/error.h"

namespace sonic::cli {
namespace {

struct OpenClCompileOptions {
  std::string device;
  std::string out;
  std::string source;
};

void WriteFile(const std::string& path, const void* data, std::size_t size, const char* what) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  file.close();
  if (!file) Throw(ErrorKind::kIo, "cannot write the {} to '{}'", what, path);
}

const OpenClTools& Tools() {
  const OpenClTools* tools = FindOpenClTools();
  if (tools == nullptr) {
    Throw(ErrorKind::kUnavailable,
          "this sonicbench was built without the OpenCL backend (SONIC_BACKEND_OPENCL; needs "
          "ocl-icd-opencl-dev)");
  }
  return *tools;
}

void ListDevices() {
  const auto devices = Tools().list_devices();
  if (devices.empty()) {
    Throw(ErrorKind::kUnavailable,
          "no OpenCL platform is installed (e.g. Debian's pocl-opencl-icd, or a board's ICD)");
  }
  for (const OpenClDeviceInfo& d : devices) {
    fmt::print("{}:{}  {:<11} {} / {} ({})\n", d.platform_index, d.device_index, d.device_type,
               d.platform_name, d.device_name, d.device_version);
  }
}

void Compile(const OpenClCompileOptions& options) {
  const OpenClTools& tools = Tools();
  if (options.out.empty() == options.source.empty()) {
    Throw(ErrorKind::kInvalidArgument, "give exactly one of --out FILE or --source FILE");
  }
  if (!options.source.empty()) {
    const std::string_view source = tools.kernel_source();
    WriteFile(options.source, source.data(), source.size(), "OpenCL kernel source");
    fmt::print("wrote {} ({} bytes)\nbuild options: {}\n", options.source, source.size(),
               tools.build_options());
    return;
  }
  const OpenClDeviceInfo device = tools.select_device(options.device);
  const std::vector<unsigned char> binary = tools.build_binary(options.device);
  WriteFile(options.out, binary.data(), binary.size(), "OpenCL program binary");
  fmt::print("wrote {} ({} bytes) for {}:{} {} / {}\nbuild options: {}\n", options.out,
             binary.size(), device.platform_index, device.device_index, device.platform_name,
             device.device_name, tools.build_options());
  fmt::print("use it with {}--backend-options binary={}\n",
             options.device.empty() ? "" : fmt::format("--device {} ", options.device),
             options.out);
}

}  // namespace

void RegisterOpenClCommand(CLI::App& app) {
  auto* devices = app.add_subcommand(
      "opencl-devices", "List the OpenCL platforms and devices the `opencl` backend can use");
  devices->footer("Select one with its P:D index or part of its name (see docs/FPGA.md).");
  devices->callback([] { ListDevices(); });

  auto* compile = app.add_subcommand(
      "opencl-compile",
      "Build the `opencl` backend's kernels for one device and write the program binary");
  auto options = std::make_shared<OpenClCompileOptions>();
  compile
      ->add_option("--device", options->device,
                   "Device: P:D (platform:device index) or part of its name; default: the first")
      ->capture_default_str();
  compile->add_option("--out", options->out, "File to write the program binary to");
  compile->add_option("--source", options->source,
                      "Instead, write the kernels' OpenCL C source (the input of an FPGA offline "
                      "compiler, with the printed build options); needs no device");
  compile->footer(
      "The binary is what clGetProgramInfo(CL_PROGRAM_BINARIES) returns for the device; the\n"
      "backend loads it with clCreateProgramWithBinary when its backend options name it:\n"
      "  --device P:D --backend-options binary=FILE (--device left out: the first device).\n"
      "For an FPGA board the binary comes from the vendor's offline compiler (docs/FPGA.md).\n"
      "Examples:\n"
      "  sonicbench opencl-compile --device 0:0 --out sonic_pocl.bin\n"
      "  sonicbench opencl-compile --source sonic.cl");
  compile->callback([options] { Compile(*options); });
}

}  // namespace sonic::cli
