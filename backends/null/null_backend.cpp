#include "backends/null/null_backend.h"

#include <sys/prctl.h>

#include <cmath>

#include "core/clock.h"
#include "core/error.h"
#include "core/parse.h"

namespace sonic {
namespace {

constexpr std::string_view kDeviceOptions =
    "latency_us=<µs per execution>,per_sample_us=<µs per sample> (an emulated device; both "
    "optional)";
// Sleep until this long before the end of an emulated execution, then spin: the spin costs at
// most this much CPU per execution, the sleep's late wake-up nothing.
constexpr std::int64_t kSpinMarginNs = 60'000;

void WaitUntil(std::int64_t deadline_ns) {
  // The default 50 µs timer slack would make every emulated execution late by up to that.
  thread_local const bool exact_timers = prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) == 0;
  static_cast<void>(exact_timers);
  SleepUntilNs(deadline_ns - kSpinMarginNs);
  while (MonotonicNs() < deadline_ns) __builtin_ia32_pause();
}

class NullExecutable final : public Executable {
 public:
  NullExecutable(Shape input_shape, Shape output_shape, int max_batch, EmulatedDevice device)
      : Executable(std::move(input_shape), std::move(output_shape), max_batch), device_(device) {}

 protected:
  void DoRun(const float*, int batch, float*, DeviceTiming* timing) override {
    const std::int64_t service_ns = device_.ServiceNs(batch);
    if (service_ns > 0) WaitUntil(MonotonicNs() + service_ns);
    if (timing != nullptr) *timing = {0, service_ns, 0};
  }

 private:
  const EmulatedDevice device_;
};

class NullBackend final : public Backend {
 public:
  std::string_view name() const override { return "null"; }
  DeviceKind device_kind() const override { return DeviceKind::kNone; }
  std::string device_name() const override { return "none"; }
  std::string library_version() const override { return "none"; }
  std::vector<Precision> precisions() const override {
    return {Precision::kFp32, Precision::kTf32, Precision::kFp16,
            Precision::kBf16, Precision::kInt8, Precision::kBfp8};
  }
  std::string device_options() const override { return std::string(kDeviceOptions); }
  std::unique_ptr<Executable> Compile(const Graph& graph,
                                      const CompileOptions& options) const override {
    return std::make_unique<NullExecutable>(graph.input_shape(), graph.output_shape(),
                                            options.max_batch, ParseEmulatedDevice(options.device));
  }
};

}  // namespace

EmulatedDevice ParseEmulatedDevice(std::string_view spec) {
  EmulatedDevice device;
  bool have_latency = false, have_per_sample = false;
  const auto to_ns = [](std::string_view text, std::string_view what) {
    const double us = ParseDouble(text, what);
    if (us < 0 || us > 1e9) {
      Throw(ErrorKind::kInvalidArgument, "null: {} = {}: expected 0 to 1e9 µs", what, text);
    }
    return static_cast<std::int64_t>(std::llround(us * 1e3));
  };
  if (Trim(spec).empty()) return device;
  for (const std::string& item : SplitList(spec, "null device option")) {
    const std::string_view text = item;
    const std::size_t eq = text.find('=');
    const std::string_view key = text.substr(0, eq);
    const std::string_view value =
        eq == std::string::npos ? std::string_view() : text.substr(eq + 1);
    if (key == "latency_us" && !have_latency && eq != std::string::npos) {
      have_latency = true;
      device.latency_ns = to_ns(value, "latency_us");
    } else if (key == "per_sample_us" && !have_per_sample && eq != std::string::npos) {
      have_per_sample = true;
      device.per_sample_ns = to_ns(value, "per_sample_us");
    } else {
      Throw(ErrorKind::kInvalidArgument,
            "null: device option '{}' is unknown or repeated: expected {}, e.g. "
            "'latency_us=1500,per_sample_us=20'",
            item, kDeviceOptions);
    }
  }
  return device;
}

std::unique_ptr<Backend> MakeNullBackend() { return std::make_unique<NullBackend>(); }

}  // namespace sonic
