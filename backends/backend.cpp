#include "backends/backend.h"

#include <algorithm>

#include "core/error.h"

namespace sonic {

std::string_view DeviceKindName(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::kNone:
      return "none";
    case DeviceKind::kCpu:
      return "cpu";
    case DeviceKind::kGpu:
      return "gpu";
    case DeviceKind::kFpga:
      return "fpga";
  }
  return "unknown";
}

void Executable::Run(std::span<const float> input, int batch, std::span<float> output,
                     DeviceTiming* timing) {
  if (batch < 1 || batch > max_batch_) {
    Throw(ErrorKind::kInvalidArgument, "batch {} is outside [1, {}] (the compiled maximum)", batch,
          max_batch_);
  }
  const auto in_count = static_cast<std::size_t>(batch * NumElements(input_shape_));
  const auto out_count = static_cast<std::size_t>(batch * NumElements(output_shape_));
  if (input.size() != in_count) {
    Throw(ErrorKind::kInvalidArgument, "input has {} floats: expected {} (batch {} x {})",
          input.size(), in_count, batch, ShapeToString(input_shape_));
  }
  if (output.size() != out_count) {
    Throw(ErrorKind::kInvalidArgument, "output has room for {} floats: expected {} (batch {} x {})",
          output.size(), out_count, batch, ShapeToString(output_shape_));
  }
  DoRun(input.data(), batch, output.data(), timing);
}

void ThrowVendorError(bool out_of_memory, std::string_view message) {
  throw Error(out_of_memory ? ErrorKind::kResourceExhausted : ErrorKind::kBackend,
              std::string(message));
}

bool Backend::Supports(Precision precision) const {
  const auto supported = precisions();
  return std::find(supported.begin(), supported.end(), precision) != supported.end();
}

}  // namespace sonic
