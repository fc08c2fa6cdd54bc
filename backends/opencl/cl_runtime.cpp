#include "backends/opencl/cl_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <optional>

#include "backends/opencl/opencl_probe.h"
#include "core/error.h"
#include "core/file.h"
#include "core/parse.h"

namespace sonic {
namespace cl {
namespace {

std::string PlatformString(cl_platform_id platform, cl_platform_info what) {
  std::size_t size = 0;
  Check(clGetPlatformInfo(platform, what, 0, nullptr, &size), "clGetPlatformInfo");
  std::string text(size, '\0');
  Check(clGetPlatformInfo(platform, what, size, text.data(), nullptr), "clGetPlatformInfo");
  while (!text.empty() && (text.back() == '\0' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string DeviceString(cl_device_id device, cl_device_info what) {
  std::size_t size = 0;
  Check(clGetDeviceInfo(device, what, 0, nullptr, &size), "clGetDeviceInfo");
  std::string text(size, '\0');
  Check(clGetDeviceInfo(device, what, size, text.data(), nullptr), "clGetDeviceInfo");
  while (!text.empty() && (text.back() == '\0' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string DeviceTypeName(cl_device_id device) {
  cl_device_type type = 0;
  Check(clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof(type), &type, nullptr),
        "clGetDeviceInfo(CL_DEVICE_TYPE)");
  if (type & CL_DEVICE_TYPE_GPU) return "gpu";
  if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  if (type & CL_DEVICE_TYPE_CPU) return "cpu";
  return "custom";
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string BuildLog(cl_program program, cl_device_id device) {
  std::size_t size = 0;
  if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size) !=
      CL_SUCCESS) {
    return "(no build log)";
  }
  std::string log(size, '\0');
  clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, log.data(), nullptr);
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log.empty() ? "(empty build log)" : log;
}

std::vector<unsigned char> ReadFile(const std::string& path) {
  const std::string text = ReadWholeFile(path, "OpenCL program binary");
  if (text.empty()) Throw(ErrorKind::kIo, "OpenCL program binary '{}' is empty", path);
  return {text.begin(), text.end()};
}

// Runs the program's build_config kernel and compares the constants it was compiled with to
// this sonicbench's: a binary built with other tile sizes would run and compute garbage.
void CheckBuildConfig(const Runtime& rt, const std::string& binary_path) {
  constexpr int kCount = 7;
  const int expected[kCount] = {kTileM,        kTileN,       kTileK,   kWorkM,
                                kElementGroup, kIm2colGroup, kBfpBlock};
  const Kernel kernel = CreateKernel(rt.program.get(), "build_config");
  cl_int status = CL_SUCCESS;
  const Buffer buffer(
      clCreateBuffer(rt.context.get(), CL_MEM_WRITE_ONLY, sizeof(expected), nullptr, &status));
  Check(status, "clCreateBuffer(build config)");
  const cl_mem mem = buffer.get();
  SetArg(kernel.get(), 0, mem, "build_config");
  const std::size_t one = 1;
  Check(clEnqueueNDRangeKernel(rt.queue.get(), kernel.get(), 1, nullptr, &one, &one, 0, nullptr,
                               nullptr),
        "clEnqueueNDRangeKernel(build_config)");
  int built[kCount] = {};
  Check(clEnqueueReadBuffer(rt.queue.get(), mem, CL_TRUE, 0, sizeof(built), built, 0, nullptr,
                            nullptr),
        "clEnqueueReadBuffer(build config)");
  if (!std::equal(built, built + kCount, expected)) {
    Throw(ErrorKind::kInvalidArgument,
          "OpenCL program binary '{}' was built with TM={} TN={} TK={} WM={} ELEMENT_GROUP={} "
          "IM2COL_GROUP={} BFP_BLOCK={}, this sonicbench needs {} (IM2COL_GROUP={} "
          "BFP_BLOCK={})",
          binary_path, built[0], built[1], built[2], built[3], built[4], built[5], built[6],
          OpenClBuildOptions(), expected[5], expected[6]);
  }
}

}  // namespace

std::string StatusName(cl_int status) {
  switch (status) {
#define SONIC_CL_STATUS(name) \
  case name:                  \
    return #name;
    SONIC_CL_STATUS(CL_SUCCESS)
    SONIC_CL_STATUS(CL_DEVICE_NOT_FOUND)
    SONIC_CL_STATUS(CL_DEVICE_NOT_AVAILABLE)
    SONIC_CL_STATUS(CL_COMPILER_NOT_AVAILABLE)
    SONIC_CL_STATUS(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    SONIC_CL_STATUS(CL_OUT_OF_RESOURCES)
    SONIC_CL_STATUS(CL_OUT_OF_HOST_MEMORY)
    SONIC_CL_STATUS(CL_PROFILING_INFO_NOT_AVAILABLE)
    SONIC_CL_STATUS(CL_MEM_COPY_OVERLAP)
    SONIC_CL_STATUS(CL_IMAGE_FORMAT_MISMATCH)
    SONIC_CL_STATUS(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    SONIC_CL_STATUS(CL_BUILD_PROGRAM_FAILURE)
    SONIC_CL_STATUS(CL_MAP_FAILURE)
    SONIC_CL_STATUS(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    SONIC_CL_STATUS(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    SONIC_CL_STATUS(CL_COMPILE_PROGRAM_FAILURE)
    SONIC_CL_STATUS(CL_LINKER_NOT_AVAILABLE)
    SONIC_CL_STATUS(CL_LINK_PROGRAM_FAILURE)
    SONIC_CL_STATUS(CL_DEVICE_PARTITION_FAILED)
    SONIC_CL_STATUS(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    SONIC_CL_STATUS(CL_INVALID_VALUE)
    SONIC_CL_STATUS(CL_INVALID_DEVICE_TYPE)
    SONIC_CL_STATUS(CL_INVALID_PLATFORM)
    SONIC_CL_STATUS(CL_INVALID_DEVICE)
    SONIC_CL_STATUS(CL_INVALID_CONTEXT)
    SONIC_CL_STATUS(CL_INVALID_QUEUE_PROPERTIES)
    SONIC_CL_STATUS(CL_INVALID_COMMAND_QUEUE)
    SONIC_CL_STATUS(CL_INVALID_HOST_PTR)
    SONIC_CL_STATUS(CL_INVALID_MEM_OBJECT)
    SONIC_CL_STATUS(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    SONIC_CL_STATUS(CL_INVALID_IMAGE_SIZE)
    SONIC_CL_STATUS(CL_INVALID_SAMPLER)
    SONIC_CL_STATUS(CL_INVALID_BINARY)
    SONIC_CL_STATUS(CL_INVALID_BUILD_OPTIONS)
    SONIC_CL_STATUS(CL_INVALID_PROGRAM)
    SONIC_CL_STATUS(CL_INVALID_PROGRAM_EXECUTABLE)
    SONIC_CL_STATUS(CL_INVALID_KERNEL_NAME)
    SONIC_CL_STATUS(CL_INVALID_KERNEL_DEFINITION)
    SONIC_CL_STATUS(CL_INVALID_KERNEL)
    SONIC_CL_STATUS(CL_INVALID_ARG_INDEX)
    SONIC_CL_STATUS(CL_INVALID_ARG_VALUE)
    SONIC_CL_STATUS(CL_INVALID_ARG_SIZE)
    SONIC_CL_STATUS(CL_INVALID_KERNEL_ARGS)
    SONIC_CL_STATUS(CL_INVALID_WORK_DIMENSION)
    SONIC_CL_STATUS(CL_INVALID_WORK_GROUP_SIZE)
    SONIC_CL_STATUS(CL_INVALID_WORK_ITEM_SIZE)
    SONIC_CL_STATUS(CL_INVALID_GLOBAL_OFFSET)
    SONIC_CL_STATUS(CL_INVALID_EVENT_WAIT_LIST)
    SONIC_CL_STATUS(CL_INVALID_EVENT)
    SONIC_CL_STATUS(CL_INVALID_OPERATION)
    SONIC_CL_STATUS(CL_INVALID_GL_OBJECT)
    SONIC_CL_STATUS(CL_INVALID_BUFFER_SIZE)
    SONIC_CL_STATUS(CL_INVALID_MIP_LEVEL)
    SONIC_CL_STATUS(CL_INVALID_GLOBAL_WORK_SIZE)
    SONIC_CL_STATUS(CL_INVALID_PROPERTY)
    SONIC_CL_STATUS(CL_INVALID_IMAGE_DESCRIPTOR)
    SONIC_CL_STATUS(CL_INVALID_COMPILER_OPTIONS)
    SONIC_CL_STATUS(CL_INVALID_LINKER_OPTIONS)
    SONIC_CL_STATUS(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef SONIC_CL_STATUS
    case -1001:  // CL_PLATFORM_NOT_FOUND_KHR, from the ICD loader
      return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
      return fmt::format("CL status {}", status);
  }
}

void Check(cl_int status, std::string_view call) {
  if (status == CL_SUCCESS) return;
  const bool memory = status == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
                      status == CL_OUT_OF_HOST_MEMORY || status == CL_INVALID_BUFFER_SIZE;
  ThrowVendorError(memory, fmt::format("{} failed: {}", call, StatusName(status)));
}

std::vector<Device> Devices() {
  cl_uint platform_count = 0;
  const cl_int status = clGetPlatformIDs(0, nullptr, &platform_count);
  // The ICD loader reports "no platform" as an error code rather than a zero count.
  if (status == -1001 || platform_count == 0) return {};
  Check(status, "clGetPlatformIDs");
  std::vector<cl_platform_id> platforms(platform_count);
  Check(clGetPlatformIDs(platform_count, platforms.data(), nullptr), "clGetPlatformIDs");
  std::vector<Device> devices;
  for (cl_uint p = 0; p < platform_count; ++p) {
    cl_uint device_count = 0;
    const cl_int found =
        clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, nullptr, &device_count);
    if (found == CL_DEVICE_NOT_FOUND) continue;
    Check(found, "clGetDeviceIDs");
    std::vector<cl_device_id> ids(device_count);
    Check(clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, device_count, ids.data(), nullptr),
          "clGetDeviceIDs");
    for (cl_uint d = 0; d < device_count; ++d) {
      Device device;
      device.platform = platforms[p];
      device.device = ids[d];
      device.info.platform_index = static_cast<int>(p);
      device.info.device_index = static_cast<int>(d);
      device.info.platform_name = PlatformString(platforms[p], CL_PLATFORM_NAME);
      device.info.platform_version = PlatformString(platforms[p], CL_PLATFORM_VERSION);
      device.info.device_name = DeviceString(ids[d], CL_DEVICE_NAME);
      device.info.device_type = DeviceTypeName(ids[d]);
      device.info.device_version = DeviceString(ids[d], CL_DEVICE_VERSION);
      devices.push_back(std::move(device));
    }
  }
  return devices;
}

Device Select(std::string_view selector) {
  if (const OpenClProbe& probe = ProcessProbe(); !probe.failure.empty()) {
    Throw(ErrorKind::kUnavailable, "OpenCL: {}", probe.failure);
  }
  std::vector<Device> devices = Devices();
  if (devices.empty()) {
    Throw(ErrorKind::kUnavailable,
          "no OpenCL device: no ICD platform is installed (e.g. Debian's pocl-opencl-icd)");
  }
  if (selector.empty()) return devices.front();
  // "P:D" selects by indices, anything else by name.
  const std::size_t colon = selector.find(':');
  const std::optional<std::int64_t> platform =
      colon == std::string_view::npos ? std::nullopt : TryParseInt(selector.substr(0, colon));
  const std::optional<std::int64_t> device =
      colon == std::string_view::npos ? std::nullopt : TryParseInt(selector.substr(colon + 1));
  const bool indices = platform && device;
  const std::string needle = Lower(selector);
  for (Device& d : devices) {
    const bool match = indices
                           ? d.info.platform_index == *platform && d.info.device_index == *device
                           : Lower(d.info.platform_name + " " + d.info.device_name).find(needle) !=
                                 std::string::npos;
    if (match) return std::move(d);
  }
  std::string known;
  for (const Device& d : devices) {
    known += fmt::format("\n  {}:{} {} / {}", d.info.platform_index, d.info.device_index,
                         d.info.platform_name, d.info.device_name);
  }
  Throw(ErrorKind::kNotFound, "no OpenCL device matches '{}'; the devices are:{}", selector, known);
}

Runtime Open(const OpenClOptions& options) {
  Runtime rt;
  rt.device = Select(options.device);
  cl_int status = CL_SUCCESS;
  const cl_context_properties properties[] = {
      CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(rt.device.platform), 0};
  rt.context =
      Context(clCreateContext(properties, 1, &rt.device.device, nullptr, nullptr, &status));
  Check(status, "clCreateContext");
  rt.queue = Queue(
      clCreateCommandQueue(rt.context.get(), rt.device.device, CL_QUEUE_PROFILING_ENABLE, &status));
  Check(status, "clCreateCommandQueue");

  if (options.binary_path.empty()) {
    const std::string_view source = KernelSource();
    const char* text = source.data();
    const std::size_t length = source.size();
    rt.program = Program(clCreateProgramWithSource(rt.context.get(), 1, &text, &length, &status));
    Check(status, "clCreateProgramWithSource");
  } else {
    const std::vector<unsigned char> bytes = ReadFile(options.binary_path);
    const unsigned char* data = bytes.data();
    const std::size_t length = bytes.size();
    cl_int binary_status = CL_SUCCESS;
    rt.program = Program(clCreateProgramWithBinary(rt.context.get(), 1, &rt.device.device, &length,
                                                   &data, &binary_status, &status));
    if (status == CL_SUCCESS) status = binary_status;
    Check(status, fmt::format("clCreateProgramWithBinary('{}' on {})", options.binary_path,
                              rt.device.info.device_name));
  }
  const std::string build_options = OpenClBuildOptions();
  status = clBuildProgram(rt.program.get(), 1, &rt.device.device, build_options.c_str(), nullptr,
                          nullptr);
  if (status != CL_SUCCESS) {
    Throw(ErrorKind::kBackend, "clBuildProgram({}) failed: {}; build log:\n{}",
          options.binary_path.empty() ? "embedded kernels" : options.binary_path,
          StatusName(status), BuildLog(rt.program.get(), rt.device.device));
  }
  if (!options.binary_path.empty()) CheckBuildConfig(rt, options.binary_path);
  return rt;
}

std::vector<unsigned char> ProgramBinary(cl_program program) {
  std::size_t size = 0;
  Check(clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, nullptr),
        "clGetProgramInfo(CL_PROGRAM_BINARY_SIZES)");
  if (size == 0) {
    Throw(ErrorKind::kUnsupported, "this OpenCL device gives no program binary (size 0)");
  }
  std::vector<unsigned char> bytes(size);
  unsigned char* data = bytes.data();
  Check(clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(data), &data, nullptr),
        "clGetProgramInfo(CL_PROGRAM_BINARIES)");
  return bytes;
}

Kernel CreateKernel(cl_program program, const char* name) {
  cl_int status = CL_SUCCESS;
  Kernel kernel(clCreateKernel(program, name, &status));
  Check(status, fmt::format("clCreateKernel({})", name));
  return kernel;
}

}  // namespace cl

OpenClDeviceInfo SelectOpenClDevice(std::string_view selector) { return cl::Select(selector).info; }

OpenClOptions ParseOpenClOptions(std::string_view device, std::string_view backend_options) {
  OpenClOptions options;
  options.device = Trim(device);
  if (options.device.find('=') != std::string::npos) {
    Throw(ErrorKind::kInvalidArgument,
          "opencl: device '{}': expected a selector P:D or NAME; backend options ({}) go in "
          "--backend-options / backend_options",
          device, kOpenClOptionForms);
  }
  const auto items = ParseBackendOptions(backend_options, "opencl", {"binary"}, kOpenClOptionForms);
  if (const auto binary = items.find("binary"); binary != items.end()) {
    options.binary_path = binary->second;
  }
  return options;
}

std::vector<unsigned char> BuildOpenClBinary(std::string_view selector) {
  OpenClOptions options;
  options.device = selector;
  const cl::Runtime rt = cl::Open(options);
  return cl::ProgramBinary(rt.program.get());
}

std::string_view OpenClKernelSource() { return cl::KernelSource(); }

std::string OpenClBuildOptions() {
  return fmt::format("-cl-std=CL1.2 -DTM={} -DTN={} -DTK={} -DWM={} -DELEMENT_GROUP={}", cl::kTileM,
                     cl::kTileN, cl::kTileK, cl::kWorkM, cl::kElementGroup);
}

}  // namespace sonic
