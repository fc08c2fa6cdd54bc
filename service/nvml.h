#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sonic::service {

// One GPU at one moment, in the units Triton's GPU metrics use.
struct GpuSample {
  std::string uuid;        // "GPU-...": Triton's gpu_uuid label
  double utilization = 0;  // [0, 1]: share of the last sample period a kernel ran
  std::uint64_t memory_total_bytes = 0;
  std::uint64_t memory_used_bytes = 0;
  double power_w = 0;        // instantaneous draw
  double power_limit_w = 0;  // enforced limit
  double energy_j = 0;       // since Nvml::Load (0 where the GPU cannot say)
};

// NVIDIA's management library, opened at run time (libnvidia-ml.so.1 comes with the driver, so a
// build needs no NVML headers and a machine without the driver simply has no GPU metrics).
// Contract: Sample is thread-safe (NVML is); the object owns one nvmlInit, undone at destruction.
class Nvml {
 public:
  // nullptr, with the reason in *why_not, when the library is absent or does not initialise.
  static std::unique_ptr<Nvml> Load(std::string* why_not);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  // Every GPU NVML sees; a GPU whose reading fails reports what it could read.
  std::vector<GpuSample> Sample() const;

 private:
  struct Api;
  explicit Nvml(std::unique_ptr<Api> api);
  std::unique_ptr<Api> api_;
};

}  // namespace sonic::service
