#include "backends/null/null_backend.h"

#include <sys/prctl.h>

#include <cmath>

#include "core/clock.h"
#include "core/error.h"
#include "core/parse.h"

namespace sonic {
namespace {

constexpr std::string_view kOptionForms =
    "latency_us=<µs per execution>,per_sample_us=<µs per sample> (an emulated device; both "
    "optional, e.g. latency_us=1500,per_sample_us=20)";
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
  std::string option_forms() const override { return std::string(kOptionForms); }
  // Runs any graph: it computes nothing, only the output's shape and the emulated time.
  std::string UnsupportedReason(const Graph& /*graph*/, const Node& /*node*/,
                                Precision /*precision*/) const override {
    return {};
  }

 protected:
  void DoValidateOptions(std::string_view /*device*/,
                         std::string_view backend_options) const override {
    ParseEmulatedDevice(backend_options);
  }
  std::unique_ptr<Executable> DoCompile(const Graph& graph,
                                        const CompileOptions& options) const override {
    return std::make_unique<NullExecutable>(graph.input_shape(), graph.output_shape(),
                                            options.max_batch,
                                            ParseEmulatedDevice(options.backend_options));
  }
};

}  // namespace

EmulatedDevice ParseEmulatedDevice(std::string_view text) {
  const auto items =
      ParseBackendOptions(text, "null", {"latency_us", "per_sample_us"}, kOptionForms);
  const auto ns_of = [&](std::string_view key) -> std::int64_t {
    const auto item = items.find(key);
    if (item == items.end()) return 0;
    const double us = ParseDouble(item->second, key);
    if (us < 0 || us > 1e9) {
      Throw(ErrorKind::kInvalidArgument, "null: {} = {}: expected 0 to 1e9 µs", key, item->second);
    }
    return std::llround(us * 1e3);
  };
  return {ns_of("latency_us"), ns_of("per_sample_us")};
}

std::unique_ptr<Backend> MakeNullBackend() { return std::make_unique<NullBackend>(); }

}  // namespace sonic
