#include "backends/null/null_backend.h"

namespace sonic {
namespace {

class NullExecutable final : public Executable {
 public:
  using Executable::Executable;

 protected:
  void DoRun(const float*, int, float*, DeviceTiming* timing) override {
    if (timing != nullptr) *timing = {0, 0, 0};
  }
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
  std::unique_ptr<Executable> Compile(const Graph& graph,
                                      const CompileOptions& options) const override {
    return std::make_unique<NullExecutable>(graph.input_shape(), graph.output_shape(),
                                            options.max_batch);
  }
};

}  // namespace

std::unique_ptr<Backend> MakeNullBackend() { return std::make_unique<NullBackend>(); }

}  // namespace sonic
