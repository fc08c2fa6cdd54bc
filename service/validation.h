#pragma once

#include <grpcpp/support/status.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/tensor.h"
#include "service/proto/grpc_service.pb.h"
#include "service/shared_memory.h"

namespace sonic::service {

// The tensors every served model exposes (ModelMetadata documents them):
//   input  "input"  FP32 [-1, <per-sample input shape>]   e.g. [-1, 3, 224, 224]
//   output "output" FP32 [-1, <per-sample output shape>]  e.g. [-1, 1000]
// and its one version, "1".
inline constexpr std::string_view kInputName = "input";
inline constexpr std::string_view kOutputName = "output";
inline constexpr std::string_view kModelVersion = "1";

struct ModelSpec {
  std::string name;
  std::string platform;  // "sonicbench_<backend>"
  Shape input_shape;     // per sample
  Shape output_shape;    // per sample
  int max_batch = 1;
};

// Where a valid request's input samples are, not copied: in the request message itself (raw
// bytes or fp32_contents) or in a registered shared-memory region; and where its output goes when
// the request asked for it in shared memory (output.data null: in the response message).
struct ValidatedInput {
  const char* data = nullptr;
  std::size_t bytes = 0;
  int batch = 0;
  std::shared_ptr<const SharedMemoryRegion> input_region;  // keeps a shared input mapped
  SharedTensor output;
};

// Checks one ModelInfer request against the model it names (the caller has found it), resolving
// shared-memory parameters against `regions`. Returns OK and fills `input`, or: NOT_FOUND for a
// version other than "" or "1"; INVALID_ARGUMENT for a wrong input count, name, datatype, shape,
// byte count, contents layout, shared-memory reference or requested output; RESOURCE_EXHAUSTED
// for a batch over the model's maximum. Every message names what was wrong and what was expected.
// Thread-safe.
grpc::Status ValidateInferRequest(const inference::ModelInferRequest& request,
                                  const ModelSpec& spec, const SharedMemoryRegistry& regions,
                                  ValidatedInput* input);

// "[-1, 3, 224, 224]": the wire shape of a per-sample shape.
std::string WireShape(const Shape& per_sample);

}  // namespace sonic::service
