#include "backends/onednn/onednn_backend.h"

#include <fmt/format.h>
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/onednn/onednn_check.h"
#include "backends/onednn/onednn_choices.h"
#include "backends/onednn/onednn_idle.h"
#include "core/error.h"
#include "core/random.h"
#include "core/sysinfo.h"
#include "models/fusion.h"

namespace sonic {
namespace {

using dnnl::memory;
using DataT = memory::data_type;
using Tag = memory::format_tag;

std::string_view StatusName(dnnl_status_t status) {
  switch (status) {
    case dnnl_success:
      return "success";
    case dnnl_out_of_memory:
      return "out_of_memory";
    case dnnl_invalid_arguments:
      return "invalid_arguments";
    case dnnl_unimplemented:
      return "unimplemented";
    case dnnl_iterator_ends:
      return "iterator_ends";
    case dnnl_runtime_error:
      return "runtime_error";
    case dnnl_not_required:
      return "not_required";
  }
  return "unknown status";
}

bool IsaHas(dnnl::cpu_isa isa) {
  const auto wanted = static_cast<unsigned>(isa);
  return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & wanted) == wanted;
}

bool HasBf16() { return IsaHas(dnnl::cpu_isa::avx512_core_bf16); }
bool HasAmx() { return IsaHas(dnnl::cpu_isa::avx512_core_amx); }
bool HasInt8() {
  return IsaHas(dnnl::cpu_isa::avx512_core_vnni) || IsaHas(dnnl::cpu_isa::avx2_vnni);
}

memory::dims PlainStrides(const memory::dims& dims) {
  memory::dims strides(dims.size(), 1);
  for (std::size_t d = dims.size() - 1; d > 0; --d) strides[d - 1] = strides[d] * dims[d];
  return strides;
}

// Row-major layout of any rank (oneDNN's format tags stop at 5 dimensions; strides do not).
memory::desc PlainMemoryDesc(const memory::dims& dims, DataT type) {
  return {dims, type, PlainStrides(dims)};
}

// Batch-first dims of a value: {batch, per-sample shape...}.
memory::dims BatchDims(const Shape& shape, int batch) {
  memory::dims dims{batch};
  dims.insert(dims.end(), shape.begin(), shape.end());
  return dims;
}

memory::desc WithDataType(memory::desc desc, DataT type) {
  desc.data.data_type = memory::convert_to_c(type);
  return desc;
}

// How fp32 3x3 stride-1 convolutions are computed, chosen by the backend's device options
// (CompileOptions::device): `conv=winograd` (the default) uses oneDNN's Winograd kernels where it
// implements them for the shape (F(2,3) and F(4,3) on AVX-512: 2.25-4x fewer multiplications, no
// measurable loss of accuracy, docs/ARCHITECTURE.md) on layers whose input and output channels
// fill 16-channel blocks, direct convolution elsewhere; `conv=direct` uses direct convolution
// everywhere, as the other CPU runtimes do.
enum class ConvAlgorithm { kWinograd, kDirect };

constexpr std::string_view kOptionForms =
    "conv=winograd|direct, idle=default|passive|active|spin:<duration> (comma-separated, e.g. "
    "conv=direct,idle=spin:20ms)";

// CompileOptions::backend_options: `conv=...` and `idle=...`, each at most once.
struct OneDnnOptions {
  ConvAlgorithm conv = ConvAlgorithm::kWinograd;
  std::optional<OmpIdlePolicy> idle;  // none: any policy the process has
};

OneDnnOptions ParseOneDnnOptions(std::string_view text) {
  OneDnnOptions options;
  const auto items = ParseBackendOptions(text, "onednn", {"conv", "idle"}, kOptionForms);
  if (const auto conv = items.find("conv"); conv != items.end()) {
    if (conv->second == "direct") {
      options.conv = ConvAlgorithm::kDirect;
    } else if (conv->second != "winograd") {
      Throw(ErrorKind::kInvalidArgument, "onednn: conv={}: expected conv=winograd or conv=direct",
            conv->second);
    }
  }
  if (const auto idle = items.find("idle"); idle != items.end()) {
    options.idle = ParseOmpIdlePolicy(idle->second);
  }
  return options;
}

// What libgomp took from the environment when it was loaded, before main (it reads it once):
// read here at static initialisation, before any code of this process could change it.
const OmpIdlePolicy kLoadedIdlePolicy =
    OmpIdlePolicyFromEnvironment(std::getenv("OMP_WAIT_POLICY"), std::getenv("GOMP_SPINCOUNT"));

// An `idle=` option states the policy a run needs; the process must have been started with it.
void CheckIdlePolicy(const std::optional<OmpIdlePolicy>& wanted) {
  if (!wanted || *wanted == kLoadedIdlePolicy) return;
  const std::string environment = OmpIdleEnvironment(*wanted);
  Throw(ErrorKind::kInvalidArgument,
        "onednn: idle={} needs the OpenMP runtime started with {}, but this process has "
        "idle={} (libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when it is loaded): "
        "start it as `{}sonicbench ...`, or leave idle= out to run with idle={}",
        OmpIdlePolicyName(*wanted),
        environment.empty() ? "neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT set" : environment,
        OmpIdlePolicyName(kLoadedIdlePolicy),
        environment.empty() ? "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "
                            : "env " + environment + " ",
        OmpIdlePolicyName(kLoadedIdlePolicy));
}

bool IsInt8(DataT type) { return type == DataT::s8 || type == DataT::u8; }

// oneDNN's tensors here have at most 5 dimensions, the batch one included.
constexpr std::size_t kMaxSampleRank = 4;

// The extra right padding a ceil-mode pooling window needs to produce `out` positions (0 for a
// window that ends inside the padded input).
std::int64_t CeilModeExtraPad(std::int64_t in, std::int64_t out, std::int64_t kernel,
                              std::int64_t stride, std::int64_t pad_begin, std::int64_t pad_end) {
  return std::max<std::int64_t>(0, (out - 1) * stride + kernel - in - pad_begin - pad_end);
}

// Why the onednn backend cannot run `node` (empty when it can); every other rule lives in
// OneDnnExecutable, which needs the fused plan (int8's fused-only Add, ReLU and BatchNorm).
std::string OneDnnUnsupportedReason(const Graph& graph, const Node& node, Precision precision) {
  const Shape& in = graph.values.at(node.inputs.at(0)).shape;
  const Shape& out = graph.values.at(node.output).shape;
  // Copies (reorders) take any rank oneDNN has; its compute primitives here take 5 dimensions.
  const bool copies = node.op == OpKind::kReshape || node.op == OpKind::kTranspose;
  const std::size_t max_rank = copies ? DNNL_MAX_NDIMS - 1 : kMaxSampleRank;
  for (const Shape* shape : {&in, &out}) {
    if (shape->size() > max_rank) {
      return fmt::format("a value of shape {} has more than {} per-sample axes",
                         ShapeToString(*shape), max_rank);
    }
  }
  const bool int8 = precision == Precision::kInt8;
  switch (node.op) {
    case OpKind::kConv2D:
    case OpKind::kRelu:
    case OpKind::kAdd:
    case OpKind::kFlatten:
    case OpKind::kBatchNorm:
    case OpKind::kGlobalAveragePool:
    case OpKind::kGlobalMaxPool:
      return {};
    case OpKind::kMaxPool:
    case OpKind::kAveragePool: {
      const auto& pool = std::get<PoolAttrs>(node.attrs);
      if (!pool.ceil_mode || !pool.count_include_pad || node.op == OpKind::kMaxPool) return {};
      for (int axis = 0; axis < 2; ++axis) {
        if (CeilModeExtraPad(in[axis + 1], out[axis + 1], pool.kernel[axis], pool.stride[axis],
                             pool.pads[axis], pool.pads[axis + 2]) > 0) {
          return "average pooling with ceil_mode and count_include_pad whose last window passes "
                 "the padding (oneDNN would count the positions beyond it)";
        }
      }
      return {};
    }
    case OpKind::kDense:
    case OpKind::kSoftmax:
      return int8 && in.size() != 1 ? "int8 runs it only on rank-1 values" : "";
    case OpKind::kActivation: {
      const ActivationKind kind = std::get<ActivationAttrs>(node.attrs).kind;
      if (int8 && kind != ActivationKind::kClip && kind != ActivationKind::kLeakyRelu) {
        return "int8 fuses only Clip and LeakyRelu (the activations that commute with a scale)";
      }
      return {};
    }
    case OpKind::kBinary: {
      if (int8) return "int8 runs no broadcasting binary op";
      const auto& binary = std::get<BinaryAttrs>(node.attrs);
      const bool first_is_out = in == out;
      const bool second_is_out =
          binary.constant.empty() && graph.values.at(node.inputs.at(1)).shape == out;
      if (!binary.constant.empty() && !first_is_out) {
        return fmt::format("the value operand of shape {} must have the output's shape {}",
                           ShapeToString(in), ShapeToString(out));
      }
      if (!first_is_out && !second_is_out) {
        return "both operands broadcast (oneDNN broadcasts only one of them)";
      }
      return {};
    }
    case OpKind::kReduce:
      return int8 ? "int8 runs no reduction" : "";
    case OpKind::kConcat:
    case OpKind::kTranspose:
    case OpKind::kReshape:
    case OpKind::kMatMul:
    case OpKind::kPad:
    case OpKind::kGather:
      return int8 ? fmt::format("int8 runs no {}", OpKindName(node.op)) : "";
  }
  return "not implemented by this backend";
}

// One oneDNN eltwise operation: dst = f(alpha, beta; src).
struct Eltwise {
  dnnl::algorithm algorithm;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// The eltwise operations that compute `activation`, in order. `scale` multiplies the bounds of a
// clip (int8: the values are in the output's quantised units, where only the scale-invariant
// activations, Clip and LeakyRelu, are allowed: OneDnnUnsupportedReason).
std::vector<Eltwise> ActivationEltwise(const ActivationAttrs& activation, float scale) {
  using dnnl::algorithm;
  switch (activation.kind) {
    case ActivationKind::kClip:
      return {{algorithm::eltwise_clip, activation.alpha * scale, activation.beta * scale}};
    case ActivationKind::kSigmoid:
      return {{algorithm::eltwise_logistic}};
    case ActivationKind::kHardSigmoid:
      // oneDNN 2.6 has no hardsigmoid: max(0, min(1, alpha x + beta)) as a line, then a clip.
      return {{algorithm::eltwise_linear, activation.alpha, activation.beta},
              {algorithm::eltwise_clip, 0.0f, 1.0f}};
    case ActivationKind::kHardSwish:
      return {{algorithm::eltwise_hardswish}};
    case ActivationKind::kTanh:
      return {{algorithm::eltwise_tanh}};
    case ActivationKind::kLeakyRelu:
      return {{algorithm::eltwise_relu, activation.alpha}};
    case ActivationKind::kElu:
      return {{algorithm::eltwise_elu, activation.alpha}};
  }
  Throw(ErrorKind::kInternal, "onednn: activation {} has no eltwise form",
        ActivationKindName(activation.kind));
}

// The activation a fused step applies last (ReLU or another), as eltwise operations.
std::vector<Eltwise> StepActivation(const FusedStep& step, float scale) {
  if (step.relu) return {{dnnl::algorithm::eltwise_relu}};
  if (step.activation != nullptr) return ActivationEltwise(*step.activation, scale);
  return {};
}

// An activation whose output is never negative (int8 stores it as u8).
bool NonNegative(const FusedStep& step) {
  return step.relu ||
         (step.activation != nullptr && step.activation->kind == ActivationKind::kClip &&
          step.activation->alpha >= 0);
}

float MaxAbs(const float* data, std::size_t count) {
  float peak = 0.0f;
  for (std::size_t i = 0; i < count; ++i) peak = std::max(peak, std::fabs(data[i]));
  return peak;
}

// Maps max-abs of a tensor onto the int8 range; a tensor that was all zeros keeps scale 1.
float QuantScale(float max_abs, DataT type) {
  const float range = type == DataT::u8 ? 255.0f : 127.0f;
  return max_abs > 0.0f ? range / max_abs : 1.0f;
}

struct AlignedFree {
  void operator()(std::byte* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<std::byte, AlignedFree>;

// Buffers of a megabyte or more (ResNet-50's weights and activations) are aligned to 2 MiB and
// advised as transparent huge pages: with the kernel's default `madvise` policy they would
// otherwise sit on 4 KiB pages, and the TLB misses of streaming them cost ResNet-50 measurable
// fp32 throughput (the huge-page row of docs/PERFORMANCE.md, "oneDNN CPU backend"). The advice is
// a hint: where it is refused, 4 KiB pages are used as before.
AlignedBuffer AllocateAligned(std::size_t bytes) {
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  const bool huge = bytes >= (std::size_t{1} << 20);
  const std::size_t alignment = huge ? kHugePage : 64;
  const std::size_t rounded =
      std::max<std::size_t>(alignment, (bytes + alignment - 1) / alignment * alignment);
  auto* p = static_cast<std::byte*>(std::aligned_alloc(alignment, rounded));
  if (p == nullptr) Throw(ErrorKind::kResourceExhausted, "onednn: cannot allocate {} bytes", bytes);
  if (huge) madvise(p, rounded, MADV_HUGEPAGE);
  std::fill_n(p, rounded, std::byte{0});
  return AlignedBuffer(p);
}

// How each value of the fused plan is stored, independent of the batch size.
struct ValueInfo {
  DataT type = DataT::f32;
  float scale = 1.0f;  // int8 only: quantised = scale * real
  int buffer = -1;     // index into the executable's buffers
};

// One primitive execution with its arguments, ready for dnnl_primitive_execute.
struct Op {
  dnnl::primitive primitive;
  std::vector<dnnl_exec_arg_t> args;
  std::vector<memory> memories;  // owns what `args` points to
  std::string what;              // names the primitive and node in error messages
  ValueId record_value = -1;     // calibration: the fp32 value this op writes, or -1
  int record_buffer = -1;
  std::size_t record_count = 0;
};

// Primitives compiled for one batch size; buffers are shared by all batch sizes.
struct BatchPlan {
  int batch = 0;
  std::vector<Op> ops;
};

// The network input and output reorders of one batch plan.
struct BatchIo {
  memory user_input, user_output;
  Op input, output;
  // Bytes to copy instead of running `output` when the stored output already is plain fp32
  // rows (a classifier's probabilities): a reorder launches a parallel region for a few KB.
  std::size_t output_copy_bytes = 0;
};

// A graph compiled to oneDNN primitives. Batch sizes: primitives are created at Compile for the
// powers of two below max_batch and for max_batch itself, and a run of batch b executes them on
// consecutive slices of b, the largest that fits first (11 = 8 + 2 + 1). This keeps Compile at
// O(log max_batch) primitive sets and wastes no work. Running b on the smallest plan that holds
// it instead would waste up to half of it, while a network's per-image cost falls only a little
// with the batch, so pieces are never much slower than the padded plan and often much faster
// (measured on ResNet-50: docs/PERFORMANCE.md, "Service", the dynamic batching table). Weights
// are shared between batch sizes whenever the primitives chose the same format, and activation
// buffers and the scratchpad are shared by all of them (one run at a time).
class OneDnnExecutable final : public Executable {
 public:
  // `calibration_max_abs` non-null: fp32 only; Run records each value's max-abs into it.
  OneDnnExecutable(const Graph& graph, const CompileOptions& options,
                   std::vector<float>* calibration_max_abs = nullptr)
      : Executable(graph.input_shape(), graph.output_shape(), options.max_batch),
        graph_(graph),
        precision_(options.precision),
        threads_(options.threads > 0 ? options.threads : omp_get_num_procs()),
        winograd_(ParseOneDnnOptions(options.backend_options).conv == ConvAlgorithm::kWinograd),
        record_(calibration_max_abs) {
    FoldBatchNorm(graph_);
    InferShapes(graph_);
    plan_ = PlanFusedSteps(graph_);
    CheckSupported();
    // oneDNN's kernels pick their work split from the thread count at creation time.
    omp_set_num_threads(threads_);
    engine_ = SONIC_DNNL(dnnl::engine(dnnl::engine::kind::cpu, 0));
    stream_ = SONIC_DNNL(dnnl::stream(engine_));
    AssignTypes(options);
    AssignBuffers();
    std::vector<int> batches;
    for (int b = 1; b < max_batch(); b *= 2) batches.push_back(b);
    batches.push_back(max_batch());
    for (int b : batches) {
      BuildPlan(b);
      Building(fmt::format("the input and output reorders for batch {}", b), [&] { BuildIo(b); });
    }
    BindBuffers();
    ReleaseParameters();
    // The compiling thread keeps a pool of OpenMP workers (oneDNN reorders weights in parallel).
    // libgomp counts the workers of every thread's pool, and while they outnumber the CPUs it
    // makes all OpenMP threads sleep after ~100 spins instead of ~300,000, a futex wake-up
    // per layer. An executable compiled on one thread and run on another (a server's
    // instance thread) would pay that, so the pool is freed; Run makes a new one if needed.
    omp_pause_resource_all(omp_pause_soft);
  }

 protected:
  void DoRun(const float* input, int batch, float* output, DeviceTiming* timing) override {
    omp_set_num_threads(threads_);
    if (timing != nullptr) *timing = {0, 0, 0};
    const std::size_t input_floats = static_cast<std::size_t>(NumElements(input_shape()));
    const std::size_t output_floats = static_cast<std::size_t>(NumElements(output_shape()));
    std::size_t plan = plans_.size() - 1;
    for (int done = 0; done < batch;) {
      while (plans_[plan].batch > batch - done) --plan;
      RunPlan(plan, input + done * input_floats, output + done * output_floats, timing);
      done += plans_[plan].batch;
    }
  }

 private:
  // One run of batch plan `plan` on its batch of rows; adds its phases to `timing` if non-null.
  void RunPlan(std::size_t plan, const float* input, float* output, DeviceTiming* timing) {
    using Clock = std::chrono::steady_clock;
    BatchIo& io = io_[plan];
    io.user_input.set_data_handle(const_cast<float*>(input));
    io.user_output.set_data_handle(output);
    const auto t0 = Clock::now();
    Execute(io.input);
    const auto t1 = Clock::now();
    for (Op& op : plans_[plan].ops) {
      Execute(op);
      if (record_ != nullptr && op.record_value >= 0) {
        const auto* data = reinterpret_cast<const float*>(buffers_[op.record_buffer].get());
        float& peak = (*record_)[op.record_value];
        peak = std::max(peak, MaxAbs(data, op.record_count));
      }
    }
    const auto t2 = Clock::now();
    if (io.output_copy_bytes > 0) {
      std::memcpy(output, buffers_[values_[output_value_].buffer].get(), io.output_copy_bytes);
    } else {
      Execute(io.output);
    }
    const auto t3 = Clock::now();
    if (timing != nullptr) {
      auto ns = [](auto d) {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
      };
      timing->upload_ns += ns(t1 - t0);
      timing->compute_ns += ns(t2 - t1);
      timing->download_ns += ns(t3 - t2);
    }
  }

  // The C API takes a prepared argument array: the C++ wrapper would build one per call.
  void Execute(const Op& op) {
    const dnnl_status_t status = dnnl_primitive_execute(
        op.primitive.get(), stream_.get(), static_cast<int>(op.args.size()), op.args.data());
    if (status != dnnl_success) CheckDnnl(status, fmt::format("executing {}", op.what));
  }

  // Runs `build`; a failed oneDNN call in it (Error kBackend or kResourceExhausted) gets
  // "(building WHAT)" appended, so that the error names the node as well as the call.
  template <typename Build>
  static void Building(std::string_view what, Build&& build) {
    try {
      build();
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::kBackend && error.kind() != ErrorKind::kResourceExhausted) {
        throw;
      }
      Throw(error.kind(), "{} (building {})", error.what(), what);
    }
  }

  void CheckSupported() const {
    for (const FusedStep& step : plan_.steps) {
      const OpKind op = step.node->op;
      const bool standalone = op == OpKind::kAdd || op == OpKind::kRelu ||
                              op == OpKind::kBatchNorm || op == OpKind::kActivation;
      if (precision_ == Precision::kInt8 && standalone) {
        Throw(ErrorKind::kUnsupported,
              "onednn int8: node '{}' ({}) is not fused into a convolution or dense layer; int8 "
              "supports {} only as a fused post-op",
              step.node->name, OpKindName(op), OpKindName(op));
      }
      if (op == OpKind::kSoftmax && precision_ != Precision::kFp32) {
        const FusedStep* producer = Producer(step.input);
        const bool computed = producer != nullptr && (producer->node->op == OpKind::kConv2D ||
                                                      producer->node->op == OpKind::kDense);
        if (!computed) {
          Throw(ErrorKind::kUnsupported,
                "onednn {}: softmax '{}' must read a convolution or dense output (which is then "
                "written in fp32)",
                PrecisionName(precision_), step.node->name);
        }
      }
    }
  }

  const FusedStep* Producer(ValueId value) const {
    for (const FusedStep& step : plan_.steps) {
      if (step.output == value) return &step;
    }
    return nullptr;
  }

  bool ReadBySoftmax(ValueId value) const {
    return std::any_of(plan_.steps.begin(), plan_.steps.end(), [&](const FusedStep& step) {
      return step.node->op == OpKind::kSoftmax && step.input == value;
    });
  }

  // Data types and (int8) scales of every stored value. Softmax and its input stay fp32: logits
  // need the precision, and a bf16 or int8 probability loses the small classes.
  void AssignTypes(const CompileOptions& options) {
    values_.assign(graph_.values.size(), {});
    if (precision_ == Precision::kFp32) return;
    const DataT low = precision_ == Precision::kBf16 ? DataT::bf16 : DataT::s8;
    std::vector<float> max_abs;
    float input_min = 0.0f;
    if (precision_ == Precision::kInt8) max_abs = Calibrate(options, input_min);
    const ValueId input = graph_.input;
    values_[input].type = low;
    if (low == DataT::s8) {
      // Non-negative calibration inputs (images in [0, 1)) use the u8 range: negative inputs at
      // run time would then clip to zero.
      if (input_min >= 0.0f) values_[input].type = DataT::u8;
      values_[input].scale = QuantScale(max_abs[input], values_[input].type);
    }
    for (const FusedStep& step : plan_.steps) {
      ValueInfo& out = values_[step.output];
      const OpKind op = step.node->op;
      if (op == OpKind::kSoftmax || ReadBySoftmax(step.output)) {
        out.type = DataT::f32;
      } else if (op == OpKind::kConv2D || op == OpKind::kDense) {
        out.type = low == DataT::s8 ? (NonNegative(step) ? DataT::u8 : DataT::s8) : low;
        if (low == DataT::s8) out.scale = QuantScale(max_abs[step.output], out.type);
      } else {
        // Every other op keeps its (first) input's type and scale.
        out.type = values_[step.input].type;
        out.scale = values_[step.input].scale;
      }
    }
  }

  // Runs the fp32 network over the calibration inputs (or 16 seeded random ones in [0, 1)) and
  // returns each value's max-abs.
  std::vector<float> Calibrate(const CompileOptions& options, float& input_min) {
    const std::int64_t per_sample = NumElements(graph_.input_shape());
    std::vector<float> seeded;
    std::span<const float> samples = options.calibration;
    if (samples.empty()) {
      constexpr int kSeededSamples = 16;
      Random random(0x5eed);
      seeded.resize(kSeededSamples * per_sample);
      for (float& v : seeded) v = static_cast<float>(random.Uniform());
      samples = seeded;
    }
    const int count = static_cast<int>(samples.size() / per_sample);
    int chunk = std::min(count, 8);
    while (count % chunk != 0) --chunk;  // full batches only: every recorded row is valid
    CompileOptions fp32 = options;
    fp32.precision = Precision::kFp32;
    fp32.max_batch = chunk;
    fp32.calibration = {};
    std::vector<float> max_abs(graph_.values.size(), 0.0f);
    OneDnnExecutable executable(graph_, fp32, &max_abs);
    std::vector<float> scratch(chunk * NumElements(graph_.output_shape()));
    for (int first = 0; first < count; first += chunk) {
      executable.Run(samples.subspan(first * per_sample, chunk * per_sample), chunk, scratch);
    }
    max_abs[graph_.input] = MaxAbs(samples.data(), samples.size());
    input_min = *std::min_element(samples.begin(), samples.end());
    return max_abs;
  }

  // Activation buffers, planned once for every batch size: a value's buffer is reused once its
  // last reader has run. A fused residual Add writes into the shortcut's buffer when this step is
  // the shortcut's last reader (the sum post-op accumulates in place); otherwise the shortcut is
  // first copied into the step's own buffer.
  void AssignBuffers() {
    const int n = static_cast<int>(plan_.steps.size());
    std::vector<int> last_use(graph_.values.size(), -1);
    for (int i = 0; i < n; ++i) {
      const FusedStep& step = plan_.steps[i];
      last_use[step.input] = i;
      if (step.residual >= 0) last_use[step.residual] = i;
      for (ValueId value : step.node->inputs) {
        if (plan_.storage[value] >= 0) last_use[plan_.storage[value]] = i;
      }
    }
    output_value_ = plan_.storage[graph_.output];
    last_use[output_value_] = std::numeric_limits<int>::max();
    std::vector<int> busy_until;
    auto take_free = [&](int step, ValueId value) {
      for (std::size_t b = 0; b < busy_until.size(); ++b) {
        if (busy_until[b] < step) {
          busy_until[b] = last_use[value];
          return static_cast<int>(b);
        }
      }
      busy_until.push_back(last_use[value]);
      return static_cast<int>(busy_until.size()) - 1;
    };
    values_[graph_.input].buffer = take_free(-1, graph_.input);
    in_place_.assign(n, false);
    for (int i = 0; i < n; ++i) {
      const FusedStep& step = plan_.steps[i];
      const bool computes = step.node->op == OpKind::kConv2D || step.node->op == OpKind::kDense;
      if (computes && step.residual >= 0 && last_use[step.residual] == i &&
          step.residual != step.input && step.residual != output_value_) {
        in_place_[i] = true;
        const int buffer = values_[step.residual].buffer;
        busy_until[buffer] = last_use[step.output];
        values_[step.output].buffer = buffer;
      } else {
        values_[step.output].buffer = take_free(i, step.output);
      }
    }
    scratchpad_buffer_ = static_cast<int>(busy_until.size());
    buffer_bytes_.assign(scratchpad_buffer_ + 1, 0);
  }

  // The primitives hold their own copies of the parameters: the graph's are freed, since every
  // worker has its own Executable.
  void ReleaseParameters() {
    for (Node& node : graph_.nodes) {
      if (auto* conv = std::get_if<Conv2DAttrs>(&node.attrs)) {
        conv->weight = {};
        conv->bias = {};
      } else if (auto* dense = std::get_if<DenseAttrs>(&node.attrs)) {
        dense->weight = {};
        dense->bias = {};
      } else if (auto* bn = std::get_if<BatchNormAttrs>(&node.attrs)) {
        *bn = {};
      }
    }
  }

  // A memory object on one of the shared buffers; its handle is set once all are sized.
  memory Bind(const memory::desc& desc, int buffer) {
    memory mem = SONIC_DNNL(memory(desc, engine_, DNNL_MEMORY_NONE));
    buffer_bytes_[buffer] = std::max(buffer_bytes_[buffer], desc.get_size());
    bindings_.emplace_back(mem, buffer);
    return mem;
  }

  int NewBuffer() {
    buffer_bytes_.push_back(0);
    return static_cast<int>(buffer_bytes_.size()) - 1;
  }

  void BindBuffers() {
    for (std::size_t b = 0; b < buffer_bytes_.size(); ++b) {
      buffers_.push_back(AllocateAligned(buffer_bytes_[b]));
    }
    for (auto& [mem, buffer] : bindings_) mem.set_data_handle(buffers_[buffer].get());
  }

  dnnl::primitive_attr BaseAttr() const {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
  }

  // Appends an op for `pd`: arguments plus the shared scratchpad.
  template <typename Primitive>
  void AddOp(BatchPlan& plan, const typename Primitive::primitive_desc& pd,
             std::vector<std::pair<int, memory>> args, std::string what) {
    Op op;
    op.primitive = SONIC_DNNL(Primitive(pd));
    args.emplace_back(DNNL_ARG_SCRATCHPAD, Bind(pd.scratchpad_desc(), scratchpad_buffer_));
    for (auto& [arg, mem] : args) {
      op.args.push_back({arg, mem.get()});
      op.memories.push_back(mem);
    }
    op.what = std::move(what);
    plan.ops.push_back(std::move(op));
  }

  Op MakeReorder(const memory& from, const memory& to, float scale, std::string what) {
    dnnl::primitive_attr attr = BaseAttr();
    if (scale != 1.0f) attr.set_output_scales(0, {scale});
    const auto pd = SONIC_DNNL(
        dnnl::reorder::primitive_desc(engine_, from.get_desc(), engine_, to.get_desc(), attr));
    Op op;
    op.primitive = SONIC_DNNL(dnnl::reorder(pd));
    const memory scratch = Bind(pd.scratchpad_desc(), scratchpad_buffer_);
    op.args = {
        {DNNL_ARG_FROM, from.get()}, {DNNL_ARG_TO, to.get()}, {DNNL_ARG_SCRATCHPAD, scratch.get()}};
    op.memories = {from, to, scratch};
    op.what = std::move(what);
    return op;
  }

  // The memory holding `value` for this batch plan, created on first use (the network input
  // takes the layout its first reader prefers).
  memory& ValueMemory(std::vector<memory>& mems, ValueId value, const memory::desc& preferred) {
    if (!mems[value]) mems[value] = Bind(preferred, values_[value].buffer);
    return mems[value];
  }

  // `value` in the layout `wanted`: itself, or a reorder into a private buffer (only when
  // consecutive primitives chose different layouts).
  memory Operand(BatchPlan& plan, std::vector<memory>& mems, ValueId value,
                 const memory::desc& wanted, const std::string& node) {
    memory& have = ValueMemory(mems, value, wanted);
    if (have.get_desc() == wanted) return have;
    memory copy = Bind(wanted, NewBuffer());
    plan.ops.push_back(
        MakeReorder(have, copy, 1.0f, fmt::format("layout reorder before '{}'", node)));
    return copy;
  }

  // Weights reordered once into the primitive's format, shared by batch plans that chose the
  // same format. int8: quantised to s8 with one scale per output channel (`scales`).
  memory Weights(std::size_t step, const std::vector<float>& data, const memory::dims& dims,
                 const memory::desc& wanted, const std::vector<float>& scales, int scale_mask) {
    for (const memory& mem : weights_[step]) {
      if (mem.get_desc() == wanted) return mem;
    }
    memory user = SONIC_DNNL(
        memory(PlainMemoryDesc(dims, DataT::f32), engine_, const_cast<float*>(data.data())));
    weight_buffers_.push_back(AllocateAligned(wanted.get_size()));
    memory mem = SONIC_DNNL(memory(wanted, engine_, weight_buffers_.back().get()));
    dnnl::primitive_attr attr;
    if (!scales.empty()) attr.set_output_scales(scale_mask, scales);
    const auto reorder = SONIC_DNNL(dnnl::reorder(
        dnnl::reorder::primitive_desc(engine_, user.get_desc(), engine_, wanted, attr)));
    SONIC_DNNL(reorder.execute(stream_, user, mem));
    SONIC_DNNL(stream_.wait());
    weights_[step].push_back(mem);
    return mem;
  }

  // The activation layout a convolution is asked for, at this executable's precision.
  Tag ActivationTag(std::int64_t channels) const {
    return OneDnnActivationTag(precision_, channels);
  }

  // int8 per-output-channel weight scales: each channel's max-abs maps to 127.
  static std::vector<float> ChannelScales(const std::vector<float>& weight, std::int64_t channels) {
    const std::size_t per_channel = weight.size() / channels;
    std::vector<float> scales(channels);
    for (std::int64_t c = 0; c < channels; ++c) {
      scales[c] = QuantScale(MaxAbs(weight.data() + c * per_channel, per_channel), DataT::s8);
    }
    return scales;
  }

  // Appends the step's fused activation to `ops`; int8 values are in units of `scale`.
  static void AppendActivation(dnnl::post_ops& ops, const FusedStep& step, float scale) {
    for (const Eltwise& e : StepActivation(step, scale)) {
      ops.append_eltwise(1.0f, e.algorithm, e.alpha, e.beta);
    }
  }

  // Attributes of a convolution or inner product: int8 output scales (per channel), then the
  // residual sum, then the activation.
  dnnl::primitive_attr ComputeAttr(const FusedStep& step, const std::vector<float>& weight_scales) {
    dnnl::primitive_attr attr = BaseAttr();
    const ValueInfo& in = values_[step.input];
    const ValueInfo& out = values_[step.output];
    if (!weight_scales.empty()) {
      std::vector<float> scales(weight_scales.size());
      for (std::size_t c = 0; c < scales.size(); ++c) {
        scales[c] = out.scale / (in.scale * weight_scales[c]);
      }
      attr.set_output_scales(1 << 1, scales);
    }
    dnnl::post_ops ops;
    if (step.residual >= 0) {
      const ValueInfo& residual = values_[step.residual];
      // int8: the shortcut is stored with its own scale and may be s8 under a u8 destination.
      ops.append_sum(out.scale / residual.scale,
                     IsInt8(residual.type) ? residual.type : DataT::undef);
    }
    AppendActivation(ops, step, IsInt8(out.type) ? out.scale : 1.0f);
    attr.set_post_ops(ops);
    return attr;
  }

  // int8: the bias joins the int32 accumulator, so it is scaled like the products.
  memory Bias(const std::vector<float>& bias, const FusedStep& step,
              const std::vector<float>& weight_scales) {
    memory mem =
        SONIC_DNNL(memory({{static_cast<memory::dim>(bias.size())}, DataT::f32, Tag::a}, engine_));
    auto* data = static_cast<float*>(mem.get_data_handle());
    for (std::size_t c = 0; c < bias.size(); ++c) {
      data[c] =
          weight_scales.empty() ? bias[c] : bias[c] * values_[step.input].scale * weight_scales[c];
    }
    return mem;
  }

  // The destination of a step that fuses a residual Add: the shortcut's layout (the sum post-op
  // reads it in place), copied there first unless the shortcut is dead after this step.
  memory::desc ResidualDestination(BatchPlan& plan, std::vector<memory>& mems, std::size_t index,
                                   const FusedStep& step) {
    const Shape& shape = graph_.values[step.residual].shape;
    const memory::dims dims = BatchDims(shape, plan.batch);
    const memory residual =
        ValueMemory(mems, step.residual, PlainMemoryDesc(dims, values_[step.residual].type));
    const memory::desc desc = WithDataType(residual.get_desc(), values_[step.output].type);
    if (!in_place_[index]) {
      memory copy = Bind(residual.get_desc(), values_[step.output].buffer);
      plan.ops.push_back(MakeReorder(residual, copy, 1.0f,
                                     fmt::format("residual copy for '{}'", step.node->name)));
    }
    return desc;
  }

  // One step of a batch plan as its primitive sees it: the shapes, types and layouts at the
  // plan's batch.
  struct StepPlan {
    std::size_t index;  // in plan_.steps
    const FusedStep& step;
    const Node& node;
    const Shape& in_shape;
    DataT in_type;
    DataT out_type;
    memory::dims src_dims;
    memory::dims dst_dims;
    memory::desc plain_src;
    bool int8;
    DataT weight_type;
  };

  // A convolution (Winograd where allowed and oneDNN has it, else direct) with its int8
  // weight scales, bias and fused residual sum and ReLU.
  void AddConvolution(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const FusedStep& step = s.step;
    const Node& node = s.node;
    const auto& conv = std::get<Conv2DAttrs>(node.attrs);
    const std::int64_t groups = conv.groups, oc = conv.out_channels;
    const std::int64_t ic = s.in_shape[0];
    memory::dims weight_dims = groups == 1 ? memory::dims{oc, ic, conv.kernel[0], conv.kernel[1]}
                                           : memory::dims{groups, oc / groups, ic / groups,
                                                          conv.kernel[0], conv.kernel[1]};
    const std::vector<float> scales =
        s.int8 ? ChannelScales(conv.weight, oc) : std::vector<float>{};
    memory::desc dst(s.dst_dims, s.out_type, ActivationTag(oc));
    if (step.residual >= 0) dst = ResidualDestination(plan, mems, s.index, step);
    const memory::desc bias_desc({oc}, DataT::f32, Tag::a);
    const memory::desc src_any(s.src_dims, s.in_type, ActivationTag(ic));
    const memory::desc weight_any(weight_dims, s.weight_type, Tag::any);
    const memory::dims strides{conv.stride[0], conv.stride[1]};
    const memory::dims dilates{conv.dilation[0] - 1, conv.dilation[1] - 1};
    const memory::dims pad_l{conv.pads[0], conv.pads[1]}, pad_r{conv.pads[2], conv.pads[3]};
    // Creates the descriptors: oneDNN's dnnl::error passes through, for the Winograd retry.
    auto make_pd = [&](dnnl::algorithm algorithm) {
      const auto desc = conv.bias.empty()
                            ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                              algorithm, src_any, weight_any, dst,
                                                              strides, dilates, pad_l, pad_r)
                            : dnnl::convolution_forward::desc(
                                  dnnl::prop_kind::forward_inference, algorithm, src_any,
                                  weight_any, bias_desc, dst, strides, dilates, pad_l, pad_r);
      return dnnl::convolution_forward::primitive_desc(desc, ComputeAttr(step, scales), engine_);
    };
    std::optional<dnnl::convolution_forward::primitive_desc> pd;
    if (winograd_ && OneDnnTriesWinograd(precision_, conv, ic)) {
      try {
        pd = make_pd(dnnl::algorithm::convolution_winograd);
      } catch (const dnnl::error& e) {
        if (e.status != dnnl_unimplemented) {
          CheckDnnl(e.status, "make_pd(dnnl::algorithm::convolution_winograd)", e.what());
        }
      }
    }
    if (!pd) pd = SONIC_DNNL(make_pd(dnnl::algorithm::convolution_direct));
    const memory src = Operand(plan, mems, step.input, pd->src_desc(), node.name);
    const int mask = groups == 1 ? 1 : 3;
    std::vector<std::pair<int, memory>> args{
        {DNNL_ARG_SRC, src},
        {DNNL_ARG_WEIGHTS,
         Weights(s.index, conv.weight, weight_dims, pd->weights_desc(), scales, mask)},
        {DNNL_ARG_DST, mems[step.output] = Bind(pd->dst_desc(), values_[step.output].buffer)}};
    if (!conv.bias.empty()) args.emplace_back(DNNL_ARG_BIAS, Bias(conv.bias, step, scales));
    AddOp<dnnl::convolution_forward>(plan, *pd, std::move(args),
                                     fmt::format("convolution '{}'", node.name));
  }

  // A dense layer as an inner product, with its int8 weight scales, bias and fused residual
  // sum and activation. On a rank-1 value (or a flattened one) the inner product reads the
  // stored layout as it is (the weights follow it, so a blocked activation needs no reorder); on
  // a value of higher rank it runs over the rows of the plain value seen as [batch * positions,
  // features].
  void AddInnerProduct(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const FusedStep& step = s.step;
    const Node& node = s.node;
    const auto& dense = std::get<DenseAttrs>(node.attrs);
    const std::int64_t oc = dense.out_features;
    const Shape& logical = graph_.values[node.inputs[0]].shape;
    const bool rowwise = logical.size() > 1;
    memory::dims weight_dims{oc};
    memory rows_src, rows_dst;
    memory::desc src_any, dst;
    if (rowwise) {
      const memory::dim rows = plan.batch * NumElements(logical) / logical.back();
      weight_dims.push_back(logical.back());
      rows_src =
          PlainView(plan, mems, node.inputs[0], s.in_type, node.name, {rows, logical.back()});
      rows_dst = PlainOutput(mems, step, plan.batch, {rows, oc});
      src_any = rows_src.get_desc();
      dst = rows_dst.get_desc();
    } else {
      weight_dims.insert(weight_dims.end(), s.in_shape.begin(), s.in_shape.end());
      src_any = mems[step.input] ? mems[step.input].get_desc()
                                 : memory::desc(s.src_dims, s.in_type, Tag::any);
      dst = step.residual >= 0 ? ResidualDestination(plan, mems, s.index, step)
                               : memory::desc(s.dst_dims, s.out_type, Tag::any);
    }
    const std::vector<float> scales =
        s.int8 ? ChannelScales(dense.weight, oc) : std::vector<float>{};
    const memory::desc weight_any(weight_dims, s.weight_type, Tag::any);
    const auto desc = SONIC_DNNL(
        dense.bias.empty() ? dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference,
                                                               src_any, weight_any, dst)
                           : dnnl::inner_product_forward::desc(
                                 dnnl::prop_kind::forward_inference, src_any, weight_any,
                                 memory::desc({oc}, DataT::f32, Tag::a), dst));
    const auto pd = SONIC_DNNL(
        dnnl::inner_product_forward::primitive_desc(desc, ComputeAttr(step, scales), engine_));
    const memory src =
        rowwise ? rows_src : Operand(plan, mems, step.input, pd.src_desc(), node.name);
    const memory out =
        rowwise ? rows_dst : (mems[step.output] = Bind(pd.dst_desc(), values_[step.output].buffer));
    std::vector<std::pair<int, memory>> args{
        {DNNL_ARG_SRC, src},
        {DNNL_ARG_WEIGHTS,
         Weights(s.index, dense.weight, weight_dims, pd.weights_desc(), scales, 1)},
        {DNNL_ARG_DST, out}};
    if (!dense.bias.empty()) args.emplace_back(DNNL_ARG_BIAS, Bias(dense.bias, step, scales));
    AddOp<dnnl::inner_product_forward>(plan, pd, std::move(args),
                                       fmt::format("inner product '{}'", node.name));
  }

  // Max, average, global average or global max pooling.
  void AddPooling(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const FusedStep& step = s.step;
    const Node& node = s.node;
    PoolAttrs pool;
    dnnl::algorithm algorithm = dnnl::algorithm::pooling_max;
    if (node.op == OpKind::kGlobalAveragePool || node.op == OpKind::kGlobalMaxPool) {
      pool.kernel = {s.in_shape[1], s.in_shape[2]};
      if (node.op == OpKind::kGlobalAveragePool) {
        algorithm = dnnl::algorithm::pooling_avg_exclude_padding;
      }
    } else {
      pool = std::get<PoolAttrs>(node.attrs);
      if (node.op == OpKind::kAveragePool) {
        algorithm = pool.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                           : dnnl::algorithm::pooling_avg_exclude_padding;
      }
    }
    if (pool.ceil_mode) {
      // The last window may start in the input and end past its padding: oneDNN is given the
      // padding that reaches its end.
      for (int axis = 0; axis < 2; ++axis) {
        pool.pads[axis + 2] +=
            CeilModeExtraPad(s.in_shape[axis + 1], s.dst_dims[axis + 2], pool.kernel[axis],
                             pool.stride[axis], pool.pads[axis], pool.pads[axis + 2]);
      }
    }
    const memory src = InputMemory(plan, mems, s);
    const auto desc = SONIC_DNNL(dnnl::pooling_forward::desc(
        dnnl::prop_kind::forward_inference, algorithm, src.get_desc(),
        memory::desc(s.dst_dims, s.out_type, Tag::any), {pool.stride[0], pool.stride[1]},
        {pool.kernel[0], pool.kernel[1]}, {pool.pads[0], pool.pads[1]},
        {pool.pads[2], pool.pads[3]}));
    const auto pd = SONIC_DNNL(dnnl::pooling_forward::primitive_desc(desc, BaseAttr(), engine_));
    AddOp<dnnl::pooling_forward>(
        plan, pd,
        {{DNNL_ARG_SRC, src},
         {DNNL_ARG_DST, mems[step.output] = Bind(pd.dst_desc(), values_[step.output].buffer)}},
        fmt::format("pooling '{}'", node.name));
  }

  // Softmax over the last axis.
  void AddSoftmax(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const FusedStep& step = s.step;
    const Node& node = s.node;
    const memory src = PlainView(plan, mems, node.inputs[0], s.in_type, node.name);
    const int last_axis = static_cast<int>(src.get_desc().dims().size()) - 1;
    const auto desc = SONIC_DNNL(
        dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, src.get_desc(), last_axis));
    const auto pd = SONIC_DNNL(dnnl::softmax_forward::primitive_desc(desc, BaseAttr(), engine_));
    AddOp<dnnl::softmax_forward>(
        plan, pd,
        {{DNNL_ARG_SRC, src},
         {DNNL_ARG_DST, mems[step.output] = Bind(pd.dst_desc(), values_[step.output].buffer)}},
        fmt::format("softmax '{}'", node.name));
  }

  // A residual Add that is not fused into a convolution, with its fused ReLU.
  void AddSum(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const FusedStep& step = s.step;
    const Node& node = s.node;
    const memory a = ValueMemory(mems, step.input, s.plain_src);
    const memory b = Operand(plan, mems, step.residual, a.get_desc(), node.name);
    dnnl::primitive_attr attr = BaseAttr();
    dnnl::post_ops ops;
    AppendActivation(ops, step,
                     IsInt8(values_[step.output].type) ? values_[step.output].scale : 1.0f);
    attr.set_post_ops(ops);
    const auto desc = SONIC_DNNL(
        dnnl::binary::desc(dnnl::algorithm::binary_add, a.get_desc(), b.get_desc(), a.get_desc()));
    const auto pd = SONIC_DNNL(dnnl::binary::primitive_desc(desc, attr, engine_));
    AddOp<dnnl::binary>(
        plan, pd,
        {{DNNL_ARG_SRC_0, a},
         {DNNL_ARG_SRC_1, b},
         {DNNL_ARG_DST, mems[step.output] = Bind(pd.dst_desc(), values_[step.output].buffer)}},
        fmt::format("add '{}'", node.name));
  }

  // A batch norm that is not folded into a convolution.
  void AddBatchNorm(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const FusedStep& step = s.step;
    const Node& node = s.node;
    const auto& bn = std::get<BatchNormAttrs>(node.attrs);
    const memory src = InputMemory(plan, mems, s);
    const auto desc = SONIC_DNNL(dnnl::batch_normalization_forward::desc(
        dnnl::prop_kind::forward_inference, src.get_desc(), bn.epsilon,
        dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
            dnnl::normalization_flags::use_shift));
    const auto pd =
        SONIC_DNNL(dnnl::batch_normalization_forward::primitive_desc(desc, BaseAttr(), engine_));
    auto channel_memory = [&](const std::vector<float>& data) {
      memory mem = SONIC_DNNL(
          memory({{static_cast<memory::dim>(data.size())}, DataT::f32, Tag::a}, engine_));
      std::copy(data.begin(), data.end(), static_cast<float*>(mem.get_data_handle()));
      return mem;
    };
    AddOp<dnnl::batch_normalization_forward>(
        plan, pd,
        {{DNNL_ARG_SRC, src},
         {DNNL_ARG_MEAN, channel_memory(bn.mean)},
         {DNNL_ARG_VARIANCE, channel_memory(bn.variance)},
         {DNNL_ARG_SCALE, channel_memory(bn.scale)},
         {DNNL_ARG_SHIFT, channel_memory(bn.shift)},
         {DNNL_ARG_DST, mems[step.output] = Bind(pd.dst_desc(), values_[step.output].buffer)}},
        fmt::format("batch norm '{}'", node.name));
  }

  // `value` (a node input, as the graph names it) in plain layout, with its own shape at the
  // plan's batch, or `dims` (as many elements), and data type `type`: a view of the stored bytes
  // (a Flatten output is its input's bytes in plain layout), reordered first into a private
  // buffer when the stored value is blocked or of another type.
  memory PlainView(BatchPlan& plan, std::vector<memory>& mems, ValueId value, DataT type,
                   const std::string& node, memory::dims dims = {}) {
    const ValueId stored = plan_.storage[value];
    const memory::dims stored_dims = BatchDims(graph_.values[stored].shape, plan.batch);
    const memory::desc plain = PlainMemoryDesc(stored_dims, values_[stored].type);
    const memory& have = ValueMemory(mems, stored, plain);
    int buffer = values_[stored].buffer;
    if (have.get_desc() != plain || values_[stored].type != type) {
      buffer = NewBuffer();
      const memory copy = Bind(WithDataType(plain, type), buffer);
      plan.ops.push_back(
          MakeReorder(have, copy, 1.0f, fmt::format("plain copy before '{}'", node)));
    }
    if (dims.empty()) dims = BatchDims(graph_.values[value].shape, plan.batch);
    return Bind(PlainMemoryDesc(dims, type), buffer);
  }

  static memory::desc PlainDesc(const Shape& shape, int batch, DataT type) {
    const memory::dims dims = BatchDims(shape, batch);
    return PlainMemoryDesc(dims, type);
  }

  // The step's output in plain layout; `dims` views the same bytes with other dimensions (the
  // kept axes of a reduction, the rows of a dense layer), or none for the output's own.
  memory PlainOutput(std::vector<memory>& mems, const FusedStep& step, int batch,
                     const memory::dims& dims = {}) {
    const DataT type = values_[step.output].type;
    mems[step.output] =
        Bind(PlainDesc(graph_.values[step.output].shape, batch, type), values_[step.output].buffer);
    if (dims.empty()) return mems[step.output];
    return Bind(PlainMemoryDesc(dims, type), values_[step.output].buffer);
  }

  // The step's activation input as it is stored: its existing layout, or plain when the node
  // reads a Flatten's output with other dimensions.
  memory InputMemory(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const ValueId logical = s.node.inputs[0];
    if (plan_.storage[logical] == logical) return ValueMemory(mems, logical, s.plain_src);
    return PlainView(plan, mems, logical, s.in_type, s.node.name);
  }

  // A constant tensor of `shape` (batch axis 1), converted to `type`, owned by the returned
  // memory.
  memory ConstantMemory(const std::vector<float>& data, const Shape& shape, DataT type) {
    const memory::desc plain = PlainDesc(shape, 1, DataT::f32);
    memory values = SONIC_DNNL(memory(plain, engine_));
    std::copy(data.begin(), data.end(), static_cast<float*>(values.get_data_handle()));
    if (type == DataT::f32) return values;
    memory converted = SONIC_DNNL(memory(WithDataType(plain, type), engine_));
    SONIC_DNNL(dnnl::reorder(values, converted).execute(stream_, values, converted));
    SONIC_DNNL(stream_.wait());
    return converted;
  }

  // A standalone eltwise step: ReLU or another activation (HardSigmoid is two, the second in
  // place).
  void AddEltwise(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const FusedStep& step = s.step;
    const std::vector<Eltwise> eltwise =
        s.node.op == OpKind::kRelu
            ? std::vector<Eltwise>{{dnnl::algorithm::eltwise_relu}}
            : ActivationEltwise(std::get<ActivationAttrs>(s.node.attrs), 1.0f);
    memory src = InputMemory(plan, mems, s);
    for (std::size_t k = 0; k < eltwise.size(); ++k) {
      const auto desc = SONIC_DNNL(dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference,
                                                               eltwise[k].algorithm, src.get_desc(),
                                                               eltwise[k].alpha, eltwise[k].beta));
      const auto pd = SONIC_DNNL(dnnl::eltwise_forward::primitive_desc(desc, BaseAttr(), engine_));
      const memory dst =
          k == 0 ? (mems[step.output] = Bind(pd.dst_desc(), values_[step.output].buffer)) : src;
      AddOp<dnnl::eltwise_forward>(plan, pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                                   fmt::format("{} '{}'", OpLabel(s.node), s.node.name));
      src = dst;
    }
  }

  // A broadcasting Add, Sub, Mul or Div of two values or of a value and a constant. oneDNN
  // broadcasts only its second operand, so an operand order that broadcasts the first is
  // swapped, and a swapped Sub or Div is corrected by a post-op (-x, 1 / x).
  void AddBinary(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const FusedStep& step = s.step;
    const Node& node = s.node;
    const auto& binary = std::get<BinaryAttrs>(node.attrs);
    const DataT type = s.out_type;
    memory a = PlainView(plan, mems, node.inputs[0], type, node.name);
    memory b;
    if (binary.constant.empty()) {
      b = PlainView(plan, mems, node.inputs[1], type, node.name);
    } else {
      b = ConstantMemory(binary.constant, binary.constant_shape, type);
      if (binary.constant_first) std::swap(a, b);
    }
    const bool swapped = a.get_desc().dims() != s.dst_dims;
    if (swapped) std::swap(a, b);
    dnnl::post_ops ops;
    if (swapped && binary.kind == BinaryKind::kSub) {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, -1.0f, 0.0f);
    } else if (swapped && binary.kind == BinaryKind::kDiv) {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_pow, 1.0f, -1.0f);
    }
    AppendActivation(ops, step, 1.0f);
    dnnl::primitive_attr attr = BaseAttr();
    attr.set_post_ops(ops);
    const dnnl::algorithm algorithm =
        binary.kind == BinaryKind::kAdd   ? dnnl::algorithm::binary_add
        : binary.kind == BinaryKind::kSub ? dnnl::algorithm::binary_sub
        : binary.kind == BinaryKind::kMul ? dnnl::algorithm::binary_mul
                                          : dnnl::algorithm::binary_div;
    const memory dst = PlainOutput(mems, step, plan.batch);
    const auto desc =
        SONIC_DNNL(dnnl::binary::desc(algorithm, a.get_desc(), b.get_desc(), dst.get_desc()));
    const auto pd = SONIC_DNNL(dnnl::binary::primitive_desc(desc, attr, engine_));
    AddOp<dnnl::binary>(plan, pd, {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, dst}},
                        fmt::format("{} '{}'", OpLabel(node), node.name));
  }

  // A concatenation: the inputs in their own layouts, the destination's chosen by oneDNN.
  void AddConcat(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const Node& node = s.node;
    std::vector<memory> inputs;
    std::vector<memory::desc> descs;
    for (ValueId value : node.inputs) {
      const bool as_stored = plan_.storage[value] == value && values_[value].type == s.out_type;
      inputs.push_back(
          as_stored ? ValueMemory(mems, value,
                                  PlainDesc(graph_.values[value].shape, plan.batch, s.out_type))
                    : PlainView(plan, mems, value, s.out_type, node.name));
      descs.push_back(inputs.back().get_desc());
    }
    const int axis = static_cast<int>(std::get<AxisAttrs>(node.attrs).axis) + 1;
    const auto pd = SONIC_DNNL(dnnl::concat::primitive_desc(axis, descs, engine_, BaseAttr()));
    std::vector<std::pair<int, memory>> args;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(k), inputs[k]);
    }
    args.emplace_back(DNNL_ARG_DST,
                      mems[s.step.output] = Bind(pd.dst_desc(), values_[s.step.output].buffer));
    AddOp<dnnl::concat>(plan, pd, std::move(args), fmt::format("concat '{}'", node.name));
  }

  // Plain copies: a transpose is a reorder into the output seen through permuted strides, a
  // reshape a reorder between two plain views of the same element order.
  void AddTransposeOrReshape(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const Node& node = s.node;
    const memory src = PlainView(plan, mems, node.inputs[0], s.out_type, node.name);
    PlainOutput(mems, s.step, plan.batch);
    memory::desc target = src.get_desc();
    if (node.op == OpKind::kTranspose) {
      const auto& perm = std::get<TransposeAttrs>(node.attrs).perm;
      const memory::dims out_strides = PlainStrides(s.dst_dims);
      memory::dims strides(s.src_dims.size());
      strides[0] = out_strides[0];
      for (std::size_t i = 0; i < perm.size(); ++i) strides[perm[i] + 1] = out_strides[i + 1];
      target = memory::desc(src.get_desc().dims(), s.out_type, strides);
    }
    const memory dst = Bind(target, values_[s.step.output].buffer);
    plan.ops.push_back(
        MakeReorder(src, dst, 1.0f, fmt::format("{} '{}'", OpLabel(node), node.name)));
  }

  // A batched matrix product of two values; the operand of lower rank is seen with leading
  // axes of 1 (after the batch axis), which oneDNN broadcasts.
  void AddMatMul(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const Node& node = s.node;
    const memory dst = PlainOutput(mems, s.step, plan.batch);
    std::array<memory, 2> operands;
    for (int k = 0; k < 2; ++k) {
      memory::dims dims = BatchDims(graph_.values[node.inputs[k]].shape, plan.batch);
      dims.insert(dims.begin() + 1, s.dst_dims.size() - dims.size(), 1);
      operands[k] = PlainView(plan, mems, node.inputs[k], s.out_type, node.name, dims);
    }
    const auto desc = SONIC_DNNL(
        dnnl::matmul::desc(operands[0].get_desc(), operands[1].get_desc(), dst.get_desc()));
    const auto pd = SONIC_DNNL(dnnl::matmul::primitive_desc(desc, BaseAttr(), engine_));
    AddOp<dnnl::matmul>(
        plan, pd,
        {{DNNL_ARG_SRC, operands[0]}, {DNNL_ARG_WEIGHTS, operands[1]}, {DNNL_ARG_DST, dst}},
        fmt::format("matmul '{}'", node.name));
  }

  // A mean, sum or max over some per-sample axes, computed with those axes kept (size 1): the
  // same bytes as the output without them.
  void AddReduce(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const Node& node = s.node;
    const auto& reduce = std::get<ReduceAttrs>(node.attrs);
    const memory src = PlainView(plan, mems, node.inputs[0], s.out_type, node.name);
    memory::dims kept = src.get_desc().dims();
    for (std::int64_t axis : reduce.axes) kept[axis + 1] = 1;
    const memory dst = PlainOutput(mems, s.step, plan.batch, kept);
    const dnnl::algorithm algorithm =
        reduce.kind == ReduceKind::kMean  ? dnnl::algorithm::reduction_mean
        : reduce.kind == ReduceKind::kSum ? dnnl::algorithm::reduction_sum
                                          : dnnl::algorithm::reduction_max;
    const auto desc =
        SONIC_DNNL(dnnl::reduction::desc(algorithm, src.get_desc(), dst.get_desc(), 0.0f, 0.0f));
    const auto pd = SONIC_DNNL(dnnl::reduction::primitive_desc(desc, BaseAttr(), engine_));
    AddOp<dnnl::reduction>(plan, pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}},
                           fmt::format("{} '{}'", OpLabel(node), node.name));
  }

  // A constant pad: the output is first filled from a constant tensor of the pad value, then
  // the input is copied into its interior.
  void AddPad(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const Node& node = s.node;
    const auto& pad = std::get<PadAttrs>(node.attrs);
    const memory src = PlainView(plan, mems, node.inputs[0], s.out_type, node.name);
    const memory dst = PlainOutput(mems, s.step, plan.batch);
    const memory::desc plain_f32 = WithDataType(dst.get_desc(), DataT::f32);
    memory fill = SONIC_DNNL(memory(plain_f32, engine_));
    std::fill_n(static_cast<float*>(fill.get_data_handle()), plain_f32.get_size() / sizeof(float),
                pad.value);
    plan.ops.push_back(MakeReorder(fill, dst, 1.0f, fmt::format("pad value of '{}'", node.name)));
    memory::dims offsets{0};
    offsets.insert(offsets.end(), pad.begin.begin(), pad.begin.end());
    const memory interior = Bind(dst.get_desc().submemory_desc(src.get_desc().dims(), offsets),
                                 values_[s.step.output].buffer);
    plan.ops.push_back(MakeReorder(src, interior, 1.0f, fmt::format("pad '{}'", node.name)));
  }

  // A gather with constant indices: one copy per index, from its slice of the input to its slice
  // of the output (seen with the indices flattened into one axis).
  void AddGather(BatchPlan& plan, std::vector<memory>& mems, const StepPlan& s) {
    const Node& node = s.node;
    const auto& gather = std::get<GatherAttrs>(node.attrs);
    const int axis = static_cast<int>(gather.axis) + 1;
    const memory src = PlainView(plan, mems, node.inputs[0], s.out_type, node.name);
    memory::dims out_dims = src.get_desc().dims();
    out_dims[axis] = static_cast<memory::dim>(gather.indices.size());
    const memory dst = PlainOutput(mems, s.step, plan.batch, out_dims);
    memory::dims slice = src.get_desc().dims();
    slice[axis] = 1;
    memory::dims from(slice.size(), 0), to(slice.size(), 0);
    for (std::size_t k = 0; k < gather.indices.size(); ++k) {
      from[axis] = gather.indices[k];
      to[axis] = static_cast<memory::dim>(k);
      const memory in_slice = Bind(src.get_desc().submemory_desc(slice, from), BufferOf(src));
      const memory out_slice =
          Bind(dst.get_desc().submemory_desc(slice, to), values_[s.step.output].buffer);
      plan.ops.push_back(
          MakeReorder(in_slice, out_slice, 1.0f, fmt::format("gather '{}'", node.name)));
    }
  }

  // The shared buffer a memory made by Bind views.
  int BufferOf(const memory& mem) const {
    for (const auto& [bound, buffer] : bindings_) {
      if (bound.get() == mem.get()) return buffer;
    }
    Throw(ErrorKind::kInternal, "onednn: a memory object is not bound to a buffer");
  }

  void BuildPlan(int batch) {
    BatchPlan plan;
    plan.batch = batch;
    std::vector<memory> mems(graph_.values.size());
    weights_.resize(plan_.steps.size());
    for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
      const FusedStep& step = plan_.steps[i];
      const Node& node = *step.node;
      const DataT in_type = values_[step.input].type;
      const memory::dims src_dims = BatchDims(graph_.values[step.input].shape, batch);
      const bool int8 = precision_ == Precision::kInt8;
      const StepPlan s{.index = i,
                       .step = step,
                       .node = node,
                       .in_shape = graph_.values[step.input].shape,
                       .in_type = in_type,
                       .out_type = values_[step.output].type,
                       .src_dims = src_dims,
                       .dst_dims = BatchDims(graph_.values[step.output].shape, batch),
                       .plain_src = PlainMemoryDesc(src_dims, in_type),
                       .int8 = int8,
                       .weight_type = int8                     ? DataT::s8
                                      : in_type == DataT::bf16 ? DataT::bf16
                                                               : DataT::f32};
      Building(fmt::format("node '{}' for batch {}", node.name, batch), [&] {
        switch (node.op) {
          case OpKind::kConv2D:
            AddConvolution(plan, mems, s);
            break;
          case OpKind::kDense:
            AddInnerProduct(plan, mems, s);
            break;
          case OpKind::kMaxPool:
          case OpKind::kAveragePool:
          case OpKind::kGlobalAveragePool:
          case OpKind::kGlobalMaxPool:
            AddPooling(plan, mems, s);
            break;
          case OpKind::kSoftmax:
            AddSoftmax(plan, mems, s);
            break;
          case OpKind::kRelu:
          case OpKind::kActivation:
            AddEltwise(plan, mems, s);
            break;
          case OpKind::kBinary:
            AddBinary(plan, mems, s);
            break;
          case OpKind::kConcat:
            AddConcat(plan, mems, s);
            break;
          case OpKind::kTranspose:
          case OpKind::kReshape:
            AddTransposeOrReshape(plan, mems, s);
            break;
          case OpKind::kMatMul:
            AddMatMul(plan, mems, s);
            break;
          case OpKind::kReduce:
            AddReduce(plan, mems, s);
            break;
          case OpKind::kPad:
            AddPad(plan, mems, s);
            break;
          case OpKind::kGather:
            AddGather(plan, mems, s);
            break;
          case OpKind::kAdd:
            AddSum(plan, mems, s);
            break;
          case OpKind::kBatchNorm:
            AddBatchNorm(plan, mems, s);
            break;
          case OpKind::kFlatten:
            Throw(ErrorKind::kInternal, "onednn: flatten '{}' should be an alias", node.name);
        }
      });
      if (record_ != nullptr) {
        Op& op = plan.ops.back();
        op.record_value = step.output;
        op.record_buffer = values_[step.output].buffer;
        op.record_count = mems[step.output].get_desc().get_size() / sizeof(float);
      }
    }
    plan_memories_.push_back(std::move(mems));
    plans_.push_back(std::move(plan));
  }

  // The network input and output reorders of the plan just built (batch `batch`): from the
  // caller's plain fp32 rows into the plan's input, and back.
  void BuildIo(int batch) {
    BatchIo io;
    std::vector<memory>& mems = plan_memories_.back();
    const memory::dims in_dims = BatchDims(graph_.input_shape(), batch);
    io.user_input =
        SONIC_DNNL(memory(PlainMemoryDesc(in_dims, DataT::f32), engine_, DNNL_MEMORY_NONE));
    // A graph of aliases only (Identity, a Flatten) has no step to create the input's memory.
    const memory& internal_in =
        ValueMemory(mems, graph_.input, PlainMemoryDesc(in_dims, values_[graph_.input].type));
    const memory rows_in = Bind(internal_in.get_desc(), values_[graph_.input].buffer);
    io.input = MakeReorder(io.user_input, rows_in, values_[graph_.input].scale,
                           fmt::format("input reorder (batch {})", batch));
    // The stored value may be the 4-D input of a Flatten that is the graph output: its plain
    // layout has the same bytes as the flattened rows.
    const memory::dims out_dims = BatchDims(graph_.values[output_value_].shape, batch);
    io.user_output =
        SONIC_DNNL(memory(PlainMemoryDesc(out_dims, DataT::f32), engine_, DNNL_MEMORY_NONE));
    const memory& internal_out = mems[output_value_];
    const memory rows_out = Bind(internal_out.get_desc(), values_[output_value_].buffer);
    io.output = MakeReorder(rows_out, io.user_output, 1.0f / values_[output_value_].scale,
                            fmt::format("output reorder (batch {})", batch));
    if (rows_out.get_desc() == io.user_output.get_desc() && values_[output_value_].scale == 1.0f) {
      io.output_copy_bytes = rows_out.get_desc().get_size();
    }
    io_.push_back(std::move(io));
  }

  Graph graph_;
  Precision precision_;
  int threads_;
  bool winograd_;  // fp32 3x3 stride-1 convolutions try Winograd first
  std::vector<float>* record_;
  FusedPlan plan_;
  ValueId output_value_ = -1;
  std::vector<ValueInfo> values_;
  std::vector<bool> in_place_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  int scratchpad_buffer_ = -1;
  std::vector<std::size_t> buffer_bytes_;
  std::vector<std::pair<memory, int>> bindings_;
  std::vector<AlignedBuffer> buffers_;
  std::vector<std::vector<memory>> weights_;
  std::vector<AlignedBuffer> weight_buffers_;  // weights_' storage
  std::vector<std::vector<memory>> plan_memories_;
  std::vector<BatchPlan> plans_;
  std::vector<BatchIo> io_;
};

class OneDnnBackend final : public Backend {
 public:
  std::string_view name() const override { return "onednn"; }
  DeviceKind device_kind() const override { return DeviceKind::kCpu; }
  std::string device_name() const override { return HostCpuModel(); }
  std::string library_version() const override {
    const dnnl_version_t* v = dnnl_version();
    return fmt::format("oneDNN {}.{}.{}", v->major, v->minor, v->patch);
  }
  std::string option_forms() const override { return std::string(kOptionForms); }
  std::string settings() const override { return "idle=" + OmpIdlePolicyName(kLoadedIdlePolicy); }
  std::vector<Precision> precisions() const override {
    std::vector<Precision> supported{Precision::kFp32};
    if (HasBf16()) supported.push_back(Precision::kBf16);
    if (HasInt8()) supported.push_back(Precision::kInt8);
    return supported;
  }
  std::string UnsupportedReason(const Graph& graph, const Node& node,
                                Precision precision) const override {
    return OneDnnUnsupportedReason(graph, node, precision);
  }

 protected:
  void DoValidateOptions(std::string_view /*device*/,
                         std::string_view backend_options) const override {
    ParseOneDnnOptions(backend_options);
  }
  std::unique_ptr<Executable> DoCompile(const Graph& graph,
                                        const CompileOptions& options) const override {
    CheckIdlePolicy(ParseOneDnnOptions(options.backend_options).idle);
    const auto per_sample = static_cast<std::size_t>(NumElements(graph.input_shape()));
    if (options.calibration.size() % per_sample != 0) {
      Throw(ErrorKind::kInvalidArgument,
            "calibration data has {} floats: expected a multiple of {} (one {} sample)",
            options.calibration.size(), per_sample, ShapeToString(graph.input_shape()));
    }
    return std::make_unique<OneDnnExecutable>(graph, options);
  }
};

}  // namespace

void CheckDnnl(dnnl_status_t status, std::string_view call, std::string_view what) {
  if (status == dnnl_success) return;
  ThrowVendorError(
      status == dnnl_out_of_memory,
      what.empty()
          ? fmt::format("onednn: {} failed (status {})", call, StatusName(status))
          : fmt::format("onednn: {} failed: {} (status {})", call, what, StatusName(status)));
}

// Why these layouts: for fp32, and bf16 without AMX, nChw16c is the blocked layout of oneDNN's
// direct AVX-512 kernels, which ran ResNet-50 faster on Zen 4 and Sapphire Rapids CPUs than the
// nhwc layout that format_tag::any selects (brgconv). For bf16 with AMX, and int8, any picks the
// AMX or VNNI brgconv kernels on nhwc (bf16 ran several times faster there than on nChw16c's
// avx512_core_bf16 kernel; for int8 on nChw16c oneDNN 2.6 falls back to its reference
// convolution). The measurements are in docs/PERFORMANCE.md, "oneDNN CPU backend". Channel counts
// that are not a multiple of 16 (the 3-channel stem input) leave the choice to the primitive.
Tag OneDnnActivationTag(Precision precision, std::int64_t channels) {
  const bool blocked =
      precision == Precision::kFp32 || (precision == Precision::kBf16 && !HasAmx());
  return blocked && channels % 16 == 0 ? Tag::nChw16c : Tag::any;
}

bool IsWinogradShape(const Conv2DAttrs& conv) {
  return conv.groups == 1 && conv.kernel == std::array<std::int64_t, 2>{3, 3} &&
         conv.stride == std::array<std::int64_t, 2>{1, 1} &&
         conv.dilation == std::array<std::int64_t, 2>{1, 1};
}

bool OneDnnTriesWinograd(Precision precision, const Conv2DAttrs& conv, std::int64_t in_channels) {
  return precision == Precision::kFp32 && IsWinogradShape(conv) &&
         OneDnnActivationTag(precision, in_channels) == Tag::nChw16c &&
         OneDnnActivationTag(precision, conv.out_channels) == Tag::nChw16c;
}

std::unique_ptr<Backend> MakeOneDnnBackend() { return std::make_unique<OneDnnBackend>(); }

}  // namespace sonic
