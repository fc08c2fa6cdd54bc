#include "service/nvml.h"

#include <dlfcn.h>
#include <fmt/format.h>

namespace sonic::service {
namespace {

// The few NVML declarations used, as nvml.h (a stable C ABI) has them.
using NvmlReturn = int;  // nvmlReturn_t; NVML_SUCCESS is 0
// NVML's 64-bit counters (bytes, millijoules).
using NvmlCounter = unsigned long long;  // NOLINT(google-runtime-int): nvml.h declares them so
using NvmlDevice = struct NvmlDeviceOpaque*;
struct NvmlUtilization {
  unsigned int gpu;  // percent
  unsigned int memory;
};
struct NvmlMemory {
  NvmlCounter total;
  NvmlCounter free;
  NvmlCounter used;
};
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr unsigned int kUuidBufferSize = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE

template <typename Fn>
Fn Symbol(void* library, const char* name) {
  return reinterpret_cast<Fn>(dlsym(library, name));
}

}  // namespace

struct Nvml::Api {
  void* library = nullptr;
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*device_count)(unsigned int*) = nullptr;
  NvmlReturn (*device_by_index)(unsigned int, NvmlDevice*) = nullptr;
  NvmlReturn (*uuid)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  NvmlReturn (*memory)(NvmlDevice, NvmlMemory*) = nullptr;
  NvmlReturn (*power)(NvmlDevice, unsigned int*) = nullptr;        // milliwatts
  NvmlReturn (*power_limit)(NvmlDevice, unsigned int*) = nullptr;  // milliwatts
  NvmlReturn (*energy)(NvmlDevice, NvmlCounter*) = nullptr;        // millijoules
  std::vector<NvmlDevice> devices;
  std::vector<NvmlCounter> energy_at_load_mj;  // by device; 0 where unknown
  ~Api() {
    if (library != nullptr) dlclose(library);
  }
};

std::unique_ptr<Nvml> Nvml::Load(std::string* why_not) {
  auto api = std::make_unique<Api>();
  api->library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (api->library == nullptr) {
    *why_not = fmt::format("no NVML: {}", dlerror());
    return nullptr;
  }
  void* lib = api->library;
  api->init = Symbol<decltype(api->init)>(lib, "nvmlInit_v2");
  api->shutdown = Symbol<decltype(api->shutdown)>(lib, "nvmlShutdown");
  api->device_count = Symbol<decltype(api->device_count)>(lib, "nvmlDeviceGetCount_v2");
  api->device_by_index =
      Symbol<decltype(api->device_by_index)>(lib, "nvmlDeviceGetHandleByIndex_v2");
  api->uuid = Symbol<decltype(api->uuid)>(lib, "nvmlDeviceGetUUID");
  api->utilization = Symbol<decltype(api->utilization)>(lib, "nvmlDeviceGetUtilizationRates");
  api->memory = Symbol<decltype(api->memory)>(lib, "nvmlDeviceGetMemoryInfo");
  api->power = Symbol<decltype(api->power)>(lib, "nvmlDeviceGetPowerUsage");
  api->power_limit = Symbol<decltype(api->power_limit)>(lib, "nvmlDeviceGetEnforcedPowerLimit");
  api->energy = Symbol<decltype(api->energy)>(lib, "nvmlDeviceGetTotalEnergyConsumption");
  if (api->init == nullptr || api->shutdown == nullptr || api->device_count == nullptr ||
      api->device_by_index == nullptr || api->uuid == nullptr || api->utilization == nullptr ||
      api->memory == nullptr || api->power == nullptr || api->power_limit == nullptr ||
      api->energy == nullptr) {
    *why_not = "NVML lacks a function sonicbench reads (driver too old?)";
    return nullptr;
  }
  if (const NvmlReturn status = api->init(); status != kNvmlSuccess) {
    *why_not = fmt::format("nvmlInit failed (NVML error {})", status);
    return nullptr;
  }
  unsigned int count = 0;
  if (api->device_count(&count) != kNvmlSuccess) count = 0;
  for (unsigned int i = 0; i < count; ++i) {
    NvmlDevice device = nullptr;
    if (api->device_by_index(i, &device) != kNvmlSuccess) continue;
    NvmlCounter energy_mj = 0;
    if (api->energy(device, &energy_mj) != kNvmlSuccess) energy_mj = 0;
    api->devices.push_back(device);
    api->energy_at_load_mj.push_back(energy_mj);
  }
  return std::unique_ptr<Nvml>(new Nvml(std::move(api)));
}

Nvml::Nvml(std::unique_ptr<Api> api) : api_(std::move(api)) {}

Nvml::~Nvml() { api_->shutdown(); }

std::vector<GpuSample> Nvml::Sample() const {
  std::vector<GpuSample> samples;
  for (std::size_t i = 0; i < api_->devices.size(); ++i) {
    NvmlDevice device = api_->devices[i];
    GpuSample sample;
    char uuid[kUuidBufferSize] = {};
    if (api_->uuid(device, uuid, kUuidBufferSize) != kNvmlSuccess) continue;
    sample.uuid = uuid;
    if (NvmlUtilization rates{}; api_->utilization(device, &rates) == kNvmlSuccess) {
      sample.utilization = rates.gpu / 100.0;
    }
    if (NvmlMemory memory{}; api_->memory(device, &memory) == kNvmlSuccess) {
      sample.memory_total_bytes = memory.total;
      sample.memory_used_bytes = memory.used;
    }
    if (unsigned int mw = 0; api_->power(device, &mw) == kNvmlSuccess) sample.power_w = mw / 1e3;
    if (unsigned int mw = 0; api_->power_limit(device, &mw) == kNvmlSuccess) {
      sample.power_limit_w = mw / 1e3;
    }
    if (NvmlCounter mj = 0;
        api_->energy_at_load_mj[i] != 0 && api_->energy(device, &mj) == kNvmlSuccess) {
      sample.energy_j = static_cast<double>(mj - api_->energy_at_load_mj[i]) / 1e3;
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace sonic::service
