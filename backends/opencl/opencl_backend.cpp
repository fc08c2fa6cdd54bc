#include "backends/opencl/opencl_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "backends/opencl/cl_runtime.h"
#include "backends/opencl/opencl_probe.h"
#include "core/error.h"
#include "models/fusion.h"

namespace sonic {
namespace {

using cl::Check;

constexpr std::size_t kElementGroup = cl::kElementGroup;
constexpr std::size_t kIm2colGroup = cl::kIm2colGroup;

std::int64_t RoundUp(std::int64_t value, std::int64_t step) {
  return (value + step - 1) / step * step;
}

int ToInt(std::int64_t value, std::string_view what) {
  if (value > std::numeric_limits<int>::max()) {
    Throw(ErrorKind::kUnsupported, "OpenCL backend: {} = {} exceeds the kernels' 32-bit indices",
          what, value);
  }
  return static_cast<int>(value);
}

// A convolution (or a dense layer as a 1x1 convolution on a 1x1 image) as conv.cl sees it.
struct GemmLayer {
  std::int64_t in_c = 0, in_h = 1, in_w = 1;
  std::int64_t out_c = 0, out_h = 1, out_w = 1;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_t = 0, pad_l = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  const std::vector<float>* weight = nullptr;  // [out_c][in_c][kernel_h][kernel_w]
  const std::vector<float>* bias = nullptr;    // [out_c] or empty
  std::int64_t k() const { return in_c * kernel_h * kernel_w; }
  std::int64_t k_padded() const { return RoundUp(k(), cl::kTileK); }
  std::int64_t out_c_padded() const { return RoundUp(out_c, cl::kTileM); }
};

// Weights in conv.cl's layout [out_c / TM][Kp][TM], k = (ky * kernel_w + kx) * in_c + ic, zero
// padded in both dimensions.
std::vector<float> PackWeights(const GemmLayer& g) {
  const std::int64_t kp = g.k_padded();
  std::vector<float> pack(g.out_c_padded() * kp, 0.0f);
  for (std::int64_t oc = 0; oc < g.out_c; ++oc) {
    for (std::int64_t ic = 0; ic < g.in_c; ++ic) {
      for (std::int64_t ky = 0; ky < g.kernel_h; ++ky) {
        for (std::int64_t kx = 0; kx < g.kernel_w; ++kx) {
          const std::int64_t k = (ky * g.kernel_w + kx) * g.in_c + ic;
          pack[((oc / cl::kTileM) * kp + k) * cl::kTileM + oc % cl::kTileM] =
              (*g.weight)[((oc * g.in_c + ic) * g.kernel_h + ky) * g.kernel_w + kx];
        }
      }
    }
  }
  return pack;
}

// bfp8 weights: for every output channel and block of 16 consecutive k, a power-of-two scale
// (the block's largest magnitude keeps 7 bits) and signed 8-bit mantissas in [-127, 127]. The
// rounding is conv.cl's QuantiseBlock, so weights and activations share one number format.
struct BfpWeights {
  std::vector<std::int8_t> mantissas;  // the pack's layout
  std::vector<float> scales;           // [out_c / TM][Kp / 16][TM]
};

BfpWeights QuantiseWeights(const std::vector<float>& pack, std::int64_t kp) {
  const std::int64_t blocks = pack.size() / (kp * cl::kTileM);
  BfpWeights bfp;
  bfp.mantissas.resize(pack.size());
  bfp.scales.assign(blocks * (kp / cl::kBfpBlock) * cl::kTileM, 1.0f);
  for (std::int64_t ob = 0; ob < blocks; ++ob) {
    for (std::int64_t b = 0; b < kp / cl::kBfpBlock; ++b) {
      for (std::int64_t m = 0; m < cl::kTileM; ++m) {
        auto at = [&](std::int64_t i) {
          return ((ob * kp + b * cl::kBfpBlock + i) * cl::kTileM) + m;
        };
        float largest = 0.0f;
        for (int i = 0; i < cl::kBfpBlock; ++i) largest = std::max(largest, std::fabs(pack[at(i)]));
        const int shift = largest == 0.0f ? 0 : 6 - std::ilogb(largest);
        for (int i = 0; i < cl::kBfpBlock; ++i) {
          const float q = std::clamp(std::rint(std::ldexp(pack[at(i)], shift)), -127.0f, 127.0f);
          bfp.mantissas[at(i)] = static_cast<std::int8_t>(q);
        }
        bfp.scales[(ob * (kp / cl::kBfpBlock) + b) * cl::kTileM + m] = std::ldexp(1.0f, -shift);
      }
    }
  }
  return bfp;
}

// Per k: the offset of channel ic inside one input image, dy and dx. Padding rows past K point
// far outside every image so that im2col writes zeros.
std::vector<cl_int4> KTable(const GemmLayer& g) {
  std::vector<cl_int4> table(g.k_padded());
  for (std::int64_t k = 0; k < g.k_padded(); ++k) {
    cl_int4& entry = table[k];
    if (k >= g.k()) {
      entry.s[0] = 0;
      entry.s[1] = -(1 << 28);
      entry.s[2] = 0;
      entry.s[3] = 0;
      continue;
    }
    const std::int64_t ic = k % g.in_c, position = k / g.in_c;
    const std::int64_t dy = (position / g.kernel_w) * g.dilation_h;
    const std::int64_t dx = (position % g.kernel_w) * g.dilation_w;
    entry.s[0] = ToInt(ic * g.in_h * g.in_w, "input offset");
    entry.s[1] = static_cast<int>(dy);
    entry.s[2] = static_cast<int>(dx);
    entry.s[3] = 0;
  }
  return table;
}

// kernels/activation.cl's ACT_* codes.
enum ActivationCode : cl_int {
  kActNone = 0,
  kActRelu = 1,
  kActClip = 2,
  kActSigmoid = 3,
  kActHardSigmoid = 4,
  kActHardSwish = 5,
  kActTanh = 6,
  kActLeakyRelu = 7,
  kActElu = 8,
};

// The activation a kernel applies last, as its three arguments (code, alpha, beta).
struct Activation {
  cl_int code = kActNone;
  cl_float alpha = 0.0f;
  cl_float beta = 0.0f;
};

Activation ActivationOf(const ActivationAttrs& attrs) {
  const auto with = [&](ActivationCode code) { return Activation{code, attrs.alpha, attrs.beta}; };
  switch (attrs.kind) {
    case ActivationKind::kClip:
      return with(kActClip);
    case ActivationKind::kSigmoid:
      return with(kActSigmoid);
    case ActivationKind::kHardSigmoid:
      return with(kActHardSigmoid);
    case ActivationKind::kHardSwish:
      return with(kActHardSwish);
    case ActivationKind::kTanh:
      return with(kActTanh);
    case ActivationKind::kLeakyRelu:
      return with(kActLeakyRelu);
    case ActivationKind::kElu:
      return with(kActElu);
  }
  Throw(ErrorKind::kInternal, "OpenCL backend: activation {} has no kernel code",
        ActivationKindName(attrs.kind));
}

// What a fused step applies after its Conv2D, Dense or Add: ReLU, another activation or nothing.
Activation StepActivation(const FusedStep& step) {
  if (step.relu) return {kActRelu};
  return step.activation != nullptr ? ActivationOf(*step.activation) : Activation{};
}

// Sets the three activation arguments from `arg` on; returns the index after them.
cl_uint SetActivationArgs(cl_kernel kernel, cl_uint arg, const Activation& activation,
                          std::string_view what) {
  cl::SetArg(kernel, arg++, activation.code, what);
  cl::SetArg(kernel, arg++, activation.alpha, what);
  cl::SetArg(kernel, arg++, activation.beta, what);
  return arg;
}

// The stored values a step reads: its node's inputs (a Flatten's through its alias) and a fused
// residual.
std::vector<ValueId> StepReads(const FusedPlan& plan, const FusedStep& step) {
  std::vector<ValueId> reads;
  for (ValueId value : step.node->inputs) reads.push_back(plan.storage[value]);
  if (step.residual >= 0) reads.push_back(step.residual);
  return reads;
}

// The most per-sample axes pad_constant takes ([C][H][W]).
constexpr std::size_t kMaxPadRank = 3;

// One kernel launch of the forward pass. Only sizes depend on the batch: the count (argument
// `count_arg`) and, where `sets_cols`, the im2col workspace's row length `cols` (the batch's
// pixel count rounded up to TN) just before it; they set the global size.
struct Launch {
  enum class Grid {
    kElements,  // (count): one work-item per element, groups of kElementGroup
    kIm2col,    // (count = output rows of the batch, Kp), groups of kIm2colGroup
    kGemm,      // (cols / TN, output-channel tiles): one work-item per tile; count = pixels
  };
  cl::Kernel kernel;
  std::string what;  // "gemm_fp32 'layer1.0.conv1'": for error messages
  Grid grid = Grid::kElements;
  cl_uint count_arg = 0;
  bool sets_cols = false;
  std::int64_t per_sample = 0;         // the count per sample
  std::int64_t pixels_per_sample = 0;  // im2col and GEMM: output pixels per sample
  std::size_t rows = 1;                // the second NDRange dimension
};

class OpenClExecutable final : public Executable {
 public:
  OpenClExecutable(const Graph& graph, const CompileOptions& options, cl::Runtime runtime)
      : Executable(graph.input_shape(), graph.output_shape(), options.max_batch),
        rt_(std::move(runtime)),
        bfp_(options.precision == Precision::kBfp8) {
    const FusedPlan plan = PlanFusedSteps(graph);
    PlanBuffers(graph, plan);
    for (const FusedStep& step : plan.steps) AddStep(graph, plan, step);
    BindWorkspace();
    output_buffer_ = Slot(plan.storage[graph.output]);
    output_bytes_per_sample_ = NumElements(graph.output_shape()) * sizeof(float);
    input_bytes_per_sample_ = NumElements(graph.input_shape()) * sizeof(float);
    // The first launch of a kernel makes PoCL (and other JITs) compile its work-group function:
    // done here, untimed.
    const std::vector<float> zeros(max_batch() * NumElements(graph.input_shape()), 0.0f);
    std::vector<float> sink(max_batch() * NumElements(graph.output_shape()));
    DoRun(zeros.data(), max_batch(), sink.data(), nullptr);
  }

 protected:
  void DoRun(const float* input, int batch, float* output, DeviceTiming* timing) override {
    cl_command_queue queue = rt_.queue.get();
    cl_int status =
        clEnqueueWriteBuffer(queue, input_buffer_, CL_FALSE, 0, batch * input_bytes_per_sample_,
                             input, 0, nullptr, upload_.receive());
    if (status != CL_SUCCESS) Check(status, "clEnqueueWriteBuffer(input)");
    for (std::size_t i = 0; i < launches_.size(); ++i) {
      Launch& launch = launches_[i];
      const cl_int count = static_cast<cl_int>(batch * launch.per_sample);
      status = clSetKernelArg(launch.kernel.get(), launch.count_arg, sizeof(count), &count);
      const auto cols = static_cast<cl_int>(RoundUp(batch * launch.pixels_per_sample, cl::kTileN));
      if (status == CL_SUCCESS && launch.sets_cols) {
        status = clSetKernelArg(launch.kernel.get(), launch.count_arg - 1, sizeof(cols), &cols);
      }
      if (status != CL_SUCCESS) Check(status, "clSetKernelArg(" + launch.what + ")");
      std::size_t global[2] = {static_cast<std::size_t>(RoundUp(count, kElementGroup)),
                               launch.rows};
      std::size_t local[2] = {kElementGroup, 1};
      if (launch.grid == Launch::Grid::kIm2col) {
        global[0] = static_cast<std::size_t>(RoundUp(count, kIm2colGroup));
        local[0] = kIm2colGroup;
      } else if (launch.grid == Launch::Grid::kGemm) {
        global[0] = static_cast<std::size_t>(cols / cl::kTileN);
        local[0] = 1;
      }
      // Events only on the first and the last launch: they bound the compute time.
      cl_event* event = i + 1 == launches_.size() ? last_.receive()
                        : i == 0                  ? first_.receive()
                                                  : nullptr;
      status = clEnqueueNDRangeKernel(queue, launch.kernel.get(), 2, nullptr, global, local, 0,
                                      nullptr, event);
      if (status != CL_SUCCESS) Check(status, "clEnqueueNDRangeKernel(" + launch.what + ")");
    }
    status =
        clEnqueueReadBuffer(queue, output_buffer_, CL_TRUE, 0, batch * output_bytes_per_sample_,
                            output, 0, nullptr, download_.receive());
    if (status != CL_SUCCESS) Check(status, "clEnqueueReadBuffer(output)");
    if (timing != nullptr) {
      timing->upload_ns = Elapsed(upload_.get(), upload_.get());
      timing->compute_ns =
          launches_.empty()
              ? 0
              : Elapsed(launches_.size() == 1 ? last_.get() : first_.get(), last_.get());
      timing->download_ns = Elapsed(download_.get(), download_.get());
    }
  }

 private:
  // Nanoseconds from the start of `from` to the end of `to` (profiling events).
  static std::int64_t Elapsed(cl_event from, cl_event to) {
    cl_ulong start = 0, end = 0;
    cl_int status =
        clGetEventProfilingInfo(from, CL_PROFILING_COMMAND_START, sizeof(start), &start, nullptr);
    if (status == CL_SUCCESS) {
      status = clGetEventProfilingInfo(to, CL_PROFILING_COMMAND_END, sizeof(end), &end, nullptr);
    }
    if (status != CL_SUCCESS) Check(status, "clGetEventProfilingInfo");
    return static_cast<std::int64_t>(end - start);
  }

  // Activation buffers: each stored value gets a slot, reused once the value's last reader has
  // run (the input is produced "before" step 0). A step's output never shares its inputs' slot.
  void PlanBuffers(const Graph& graph, const FusedPlan& plan) {
    const int never = std::numeric_limits<int>::max();
    std::vector<int> last_use(graph.values.size(), -1);
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      for (ValueId value : StepReads(plan, plan.steps[i])) last_use[value] = static_cast<int>(i);
    }
    last_use[plan.storage[graph.output]] = never;
    slot_of_.assign(graph.values.size(), -1);
    std::vector<std::int64_t> slot_floats;
    std::vector<int> busy_until;
    auto assign = [&](ValueId value, int step) {
      int chosen = -1;
      for (std::size_t s = 0; s < slot_floats.size(); ++s) {
        if (busy_until[s] < step && (chosen < 0 || slot_floats[s] > slot_floats[chosen])) {
          chosen = static_cast<int>(s);
        }
      }
      if (chosen < 0) {
        chosen = static_cast<int>(slot_floats.size());
        slot_floats.push_back(0);
        busy_until.push_back(0);
      }
      slot_floats[chosen] =
          std::max(slot_floats[chosen], max_batch() * NumElements(graph.values[value].shape));
      busy_until[chosen] = std::max(last_use[value], step);
      slot_of_[value] = chosen;
    };
    assign(graph.input, -1);
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      assign(plan.steps[i].output, static_cast<int>(i));
    }
    for (std::int64_t floats : slot_floats) {
      slots_.push_back(NewBuffer(std::max<std::int64_t>(floats, 1) * sizeof(float), nullptr,
                                 CL_MEM_READ_WRITE, "activations"));
    }
    input_buffer_ = Slot(graph.input);
  }

  cl_mem Slot(ValueId value) const { return slots_[slot_of_[value]].get(); }

  cl::Buffer NewBuffer(std::size_t bytes, const void* data, cl_mem_flags flags,
                       std::string_view what) {
    cl_int status = CL_SUCCESS;
    cl::Buffer buffer(clCreateBuffer(rt_.context.get(),
                                     flags | (data != nullptr ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                                     const_cast<void*>(data), &status));
    Check(status, fmt::format("clCreateBuffer({}, {} bytes)", what, bytes));
    return buffer;
  }

  // Uploads a parameter array once; it stays on the device for the executable's lifetime.
  template <typename T>
  cl_mem Upload(const std::vector<T>& data, std::string_view what) {
    params_.push_back(NewBuffer(std::max<std::size_t>(data.size(), 1) * sizeof(T),
                                data.empty() ? nullptr : data.data(), CL_MEM_READ_ONLY, what));
    return params_.back().get();
  }

  Launch& NewLaunch(const char* kernel, const Node& node, Launch::Grid grid) {
    Launch launch;
    launch.kernel = cl::CreateKernel(rt_.program.get(), kernel);
    launch.what = fmt::format("{} '{}'", kernel, node.name);
    launch.grid = grid;
    launches_.push_back(std::move(launch));
    return launches_.back();
  }

  void AddStep(const Graph& graph, const FusedPlan& plan, const FusedStep& step) {
    const Node& node = *step.node;
    // The node's own view of its input: where that is a Flatten's output, the stored value
    // (step.input) has the unflattened shape.
    const Shape& in_shape = graph.values[node.inputs[0]].shape;
    const Shape& out_shape = graph.values[node.output].shape;
    cl_mem in = Slot(step.input);
    cl_mem out = Slot(step.output);
    switch (node.op) {
      case OpKind::kConv2D:
        AddConv(node, in_shape, out_shape, step);
        break;
      case OpKind::kDense: {
        const auto& dense = std::get<DenseAttrs>(node.attrs);
        GemmLayer g;
        g.in_c = NumElements(in_shape);  // the input may be a Flatten's alias of [C, H, W]
        g.out_c = dense.out_features;
        g.weight = &dense.weight;
        g.bias = &dense.bias;
        AddGemm(node, g, in, step.residual >= 0 ? Slot(step.residual) : nullptr,
                StepActivation(step), out);
        break;
      }
      case OpKind::kMaxPool:
      case OpKind::kAveragePool:
        AddPool(node, in_shape, out_shape, in, out);
        break;
      case OpKind::kGlobalAveragePool: {
        Launch& l = NewLaunch("global_avg_pool", node, Launch::Grid::kElements);
        cl::SetArg(l.kernel.get(), 0, in, l.what);
        cl::SetArg(l.kernel.get(), 1, out, l.what);
        cl::SetArg(l.kernel.get(), 2, ToInt(in_shape[1] * in_shape[2], "plane"), l.what);
        l.count_arg = 3;
        l.per_sample = in_shape[0];
        break;
      }
      case OpKind::kAdd:
        AddElementwise(node, out_shape, in, Slot(step.residual), StepActivation(step), out);
        break;
      case OpKind::kRelu:
        AddElementwise(node, out_shape, in, nullptr, {kActRelu}, out);
        break;
      case OpKind::kActivation:
        AddElementwise(node, out_shape, in, nullptr,
                       ActivationOf(std::get<ActivationAttrs>(node.attrs)), out);
        break;
      case OpKind::kBatchNorm: {
        const auto& bn = std::get<BatchNormAttrs>(node.attrs);
        std::vector<float> scale(bn.scale.size()), shift(bn.scale.size());
        for (std::size_t c = 0; c < scale.size(); ++c) {
          const double inv = 1.0 / std::sqrt(double{bn.variance[c]} + bn.epsilon);
          scale[c] = static_cast<float>(bn.scale[c] * inv);
          shift[c] = static_cast<float>(bn.shift[c] - bn.scale[c] * bn.mean[c] * inv);
        }
        Launch& l = NewLaunch("channel_affine", node, Launch::Grid::kElements);
        cl::SetArg(l.kernel.get(), 0, in, l.what);
        cl::SetArg(l.kernel.get(), 1, Upload(scale, "batch-norm scale"), l.what);
        cl::SetArg(l.kernel.get(), 2, Upload(shift, "batch-norm shift"), l.what);
        cl::SetArg(l.kernel.get(), 3, out, l.what);
        cl::SetArg(l.kernel.get(), 4, static_cast<int>(in_shape[0]), l.what);
        cl::SetArg(l.kernel.get(), 5,
                   ToInt(NumElements(in_shape) / in_shape[0], "batch-norm plane"), l.what);
        l.count_arg = 6;
        l.per_sample = NumElements(out_shape);
        break;
      }
      case OpKind::kSoftmax: {
        Launch& l = NewLaunch("softmax_rows", node, Launch::Grid::kElements);
        cl::SetArg(l.kernel.get(), 0, in, l.what);
        cl::SetArg(l.kernel.get(), 1, out, l.what);
        cl::SetArg(l.kernel.get(), 2, static_cast<int>(in_shape.back()), l.what);
        l.count_arg = 3;
        l.per_sample = NumElements(in_shape) / in_shape.back();
        break;
      }
      case OpKind::kConcat:
        AddConcat(graph, plan, node, out);
        break;
      case OpKind::kPad:
        AddPad(node, in_shape, out_shape, in, out);
        break;
      case OpKind::kFlatten:
        Throw(ErrorKind::kInternal, "fusion left a Flatten step ('{}')", node.name);
      default:
        Throw(ErrorKind::kInternal,
              "OpenCL backend: node '{}' ({}) has no kernel, yet UnsupportedReason accepted it",
              node.name, OpLabel(node));
    }
  }

  // A convolution as a GEMM, or with groups as grouped_conv_*: GemmLayer then describes one
  // group's input channels and all output channels (the weights' layout).
  void AddConv(const Node& node, const Shape& in_shape, const Shape& out_shape,
               const FusedStep& step) {
    const auto& conv = std::get<Conv2DAttrs>(node.attrs);
    GemmLayer g;
    g.in_c = in_shape[0] / conv.groups, g.in_h = in_shape[1], g.in_w = in_shape[2];
    g.out_c = out_shape[0], g.out_h = out_shape[1], g.out_w = out_shape[2];
    g.kernel_h = conv.kernel[0], g.kernel_w = conv.kernel[1];
    g.stride_h = conv.stride[0], g.stride_w = conv.stride[1];
    g.pad_t = conv.pads[0], g.pad_l = conv.pads[1];
    g.dilation_h = conv.dilation[0], g.dilation_w = conv.dilation[1];
    g.weight = &conv.weight;
    g.bias = &conv.bias;
    cl_mem residual = step.residual >= 0 ? Slot(step.residual) : nullptr;
    if (conv.groups == 1) {
      AddGemm(node, g, Slot(step.input), residual, StepActivation(step), Slot(step.output));
    } else {
      AddGroupedConv(node, g, conv.groups, Slot(step.input), residual, StepActivation(step),
                     Slot(step.output));
    }
  }

  // pool2d clips each window to the input; ceil_mode needs nothing more (the output size has it,
  // and its last window starts inside the input or its begin padding).
  void AddPool(const Node& node, const Shape& in_shape, const Shape& out_shape, cl_mem in,
               cl_mem out) {
    const auto& pool = std::get<PoolAttrs>(node.attrs);
    Launch& l = NewLaunch("pool2d", node, Launch::Grid::kElements);
    const cl_kernel k = l.kernel.get();
    const int args[] = {static_cast<int>(in_shape[1]),           static_cast<int>(in_shape[2]),
                        static_cast<int>(out_shape[1]),          static_cast<int>(out_shape[2]),
                        static_cast<int>(pool.kernel[0]),        static_cast<int>(pool.kernel[1]),
                        static_cast<int>(pool.stride[0]),        static_cast<int>(pool.stride[1]),
                        static_cast<int>(pool.pads[0]),          static_cast<int>(pool.pads[1]),
                        static_cast<int>(pool.pads[2]),          static_cast<int>(pool.pads[3]),
                        node.op == OpKind::kAveragePool ? 1 : 0, pool.count_include_pad ? 1 : 0};
    cl::SetArg(k, 0, in, l.what);
    cl::SetArg(k, 1, out, l.what);
    for (cl_uint i = 0; i < std::size(args); ++i) cl::SetArg(k, 2 + i, args[i], l.what);
    l.count_arg = 2 + std::size(args);
    l.per_sample = NumElements(out_shape);
  }

  // add_activation: a + b (when `b` is not null), then `activation`, over `shape` per sample.
  void AddElementwise(const Node& node, const Shape& shape, cl_mem a, cl_mem b,
                      const Activation& activation, cl_mem out) {
    Launch& l = NewLaunch("add_activation", node, Launch::Grid::kElements);
    const cl_kernel k = l.kernel.get();
    cl::SetArg(k, 0, a, l.what);
    cl::SetArg(k, 1, b != nullptr ? b : a, l.what);  // not read without `has_b`
    cl::SetArg(k, 2, out, l.what);
    cl::SetArg(k, 3, b != nullptr ? 1 : 0, l.what);
    l.count_arg = SetActivationArgs(k, 4, activation, l.what);
    l.per_sample = NumElements(shape);
  }

  // Concat: one concat_copy per input into its place in each output row (the axes from the
  // concat axis on).
  void AddConcat(const Graph& graph, const FusedPlan& plan, const Node& node, cl_mem out) {
    const std::int64_t axis = std::get<AxisAttrs>(node.attrs).axis;
    const auto block_of = [axis](const Shape& shape) {
      return NumElements(Shape(shape.begin() + axis, shape.end()));
    };
    const Shape& out_shape = graph.values[node.output].shape;
    ToInt(max_batch() * NumElements(out_shape), "concat output size");
    const int out_block = ToInt(block_of(out_shape), "concat row");
    std::int64_t offset = 0;
    for (ValueId value : node.inputs) {
      const Shape& shape = graph.values[value].shape;
      Launch& l = NewLaunch("concat_copy", node, Launch::Grid::kElements);
      const cl_kernel k = l.kernel.get();
      cl::SetArg(k, 0, Slot(plan.storage[value]), l.what);
      cl::SetArg(k, 1, out, l.what);
      cl::SetArg(k, 2, static_cast<int>(block_of(shape)), l.what);
      cl::SetArg(k, 3, out_block, l.what);
      cl::SetArg(k, 4, static_cast<int>(offset), l.what);
      l.count_arg = 5;
      l.per_sample = NumElements(shape);
      offset += block_of(shape);
    }
  }

  // Pad on a value of rank 3 or less (UnsupportedReason), as pad_constant's [C][H][W].
  void AddPad(const Node& node, const Shape& in_shape, const Shape& out_shape, cl_mem in,
              cl_mem out) {
    const auto& pad = std::get<PadAttrs>(node.attrs);
    const std::size_t missing = kMaxPadRank - in_shape.size();
    Shape in3(missing, 1), out3(missing, 1);
    std::vector<std::int64_t> begin3(missing, 0);
    in3.insert(in3.end(), in_shape.begin(), in_shape.end());
    out3.insert(out3.end(), out_shape.begin(), out_shape.end());
    begin3.insert(begin3.end(), pad.begin.begin(), pad.begin.end());
    ToInt(max_batch() * NumElements(out_shape), "pad output size");
    Launch& l = NewLaunch("pad_constant", node, Launch::Grid::kElements);
    const cl_kernel k = l.kernel.get();
    cl::SetArg(k, 0, in, l.what);
    cl::SetArg(k, 1, out, l.what);
    cl_uint arg = 2;
    for (const auto* sizes : {&in3, &out3, &begin3}) {
      for (std::int64_t size : *sizes) cl::SetArg(k, arg++, static_cast<int>(size), l.what);
    }
    cl::SetArg(k, arg++, cl_float{pad.value}, l.what);
    l.count_arg = arg;
    l.per_sample = NumElements(out_shape);
  }

  // The layer arguments from `arg` on: the weights (the fp32 pack, or bfp8's mantissas and
  // scales), the bias, the residual and the output; returns the index after them.
  cl_uint SetLayerArgs(cl_kernel kernel, cl_uint arg, const GemmLayer& g, cl_mem residual,
                       cl_mem out, std::string_view what) {
    const std::vector<float> pack = PackWeights(g);
    if (bfp_) {
      const BfpWeights bfp = QuantiseWeights(pack, g.k_padded());
      cl::SetArg(kernel, arg++, Upload(bfp.mantissas, "bfp8 mantissas"), what);
      cl::SetArg(kernel, arg++, Upload(bfp.scales, "bfp8 scales"), what);
    } else {
      cl::SetArg(kernel, arg++, Upload(pack, "weights"), what);
    }
    std::vector<float> bias(g.out_c_padded(), 0.0f);
    if (!g.bias->empty()) std::copy(g.bias->begin(), g.bias->end(), bias.begin());
    cl_mem bias_buffer = Upload(bias, "bias");
    cl::SetArg(kernel, arg++, bias_buffer, what);
    // Without a residual the kernel never reads that argument; any valid buffer will do.
    cl::SetArg(kernel, arg++, residual != nullptr ? residual : bias_buffer, what);
    cl::SetArg(kernel, arg++, out, what);
    return arg;
  }

  // A convolution with `groups` > 1 (g.in_c is one group's channels): grouped_conv_*, one
  // work-item per output element, with the GEMM's weight pack and k table.
  void AddGroupedConv(const Node& node, const GemmLayer& g, std::int64_t groups, cl_mem in,
                      cl_mem residual, const Activation& activation, cl_mem out) {
    const std::int64_t out_elements = g.out_c * g.out_h * g.out_w;
    const std::int64_t group_image = g.in_c * g.in_h * g.in_w;
    ToInt(max_batch() * out_elements, "output size");
    ToInt(max_batch() * groups * group_image, "input size");
    Launch& l =
        NewLaunch(bfp_ ? "grouped_conv_bfp8" : "grouped_conv_fp32", node, Launch::Grid::kElements);
    const cl_kernel k = l.kernel.get();
    cl::SetArg(k, 0, in, l.what);
    cl::SetArg(k, 1, Upload(KTable(g), "k table"), l.what);
    cl_uint arg = SetLayerArgs(k, 2, g, residual, out, l.what);
    const int ints[] = {static_cast<int>(groups * group_image),
                        static_cast<int>(group_image),
                        static_cast<int>(g.in_h),
                        static_cast<int>(g.in_w),
                        static_cast<int>(g.out_h),
                        static_cast<int>(g.out_w),
                        static_cast<int>(g.stride_h),
                        static_cast<int>(g.stride_w),
                        static_cast<int>(g.pad_t),
                        static_cast<int>(g.pad_l),
                        static_cast<int>(g.out_c),
                        static_cast<int>(g.out_c / groups),
                        ToInt(g.k_padded(), "k"),
                        static_cast<int>(RoundUp(g.k(), cl::kBfpBlock)),
                        residual != nullptr ? 1 : 0};
    for (int value : ints) cl::SetArg(k, arg++, value, l.what);
    l.count_arg = SetActivationArgs(k, arg, activation, l.what);
    l.per_sample = out_elements;
  }

  // A convolution or dense layer: weights packed (and rounded to bfp8) and uploaded once; the
  // GEMM reads the input directly for a 1x1, stride-1 convolution (and a dense layer) whose K
  // fills whole stages, else an im2col copy in the shared workspace.
  void AddGemm(const Node& node, const GemmLayer& g, cl_mem in, cl_mem residual,
               const Activation& activation, cl_mem out) {
    // The kernels index whole batches with int.
    const std::int64_t pixels = g.out_h * g.out_w;
    const std::int64_t cols = RoundUp(max_batch() * pixels, cl::kTileN);
    ToInt(max_batch() * g.out_c * pixels, "output size");
    ToInt(max_batch() * g.in_c * g.in_h * g.in_w, "input size");
    ToInt(g.k_padded() * cols, "im2col size");
    const bool direct = g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 &&
                        g.pad_t == 0 && g.pad_l == 0 && g.out_h == g.in_h && g.out_w == g.in_w &&
                        g.k() == g.k_padded();
    if (!direct) {
      Launch& im2col = NewLaunch("im2col", node, Launch::Grid::kIm2col);
      const cl_kernel k = im2col.kernel.get();
      cl::SetArg(k, 0, in, im2col.what);
      cl::SetArg(k, 1, Upload(KTable(g), "k table"), im2col.what);
      workspace_users_.push_back({launches_.size() - 1, 2});
      const int ints[] = {ToInt(g.in_c * g.in_h * g.in_w, "input image size"),
                          static_cast<int>(g.in_h),
                          static_cast<int>(g.in_w),
                          static_cast<int>(g.out_h),
                          static_cast<int>(g.out_w),
                          static_cast<int>(g.stride_h),
                          static_cast<int>(g.stride_w),
                          static_cast<int>(g.pad_t),
                          static_cast<int>(g.pad_l)};
      cl_uint arg = 3;
      for (int value : ints) cl::SetArg(k, arg++, value, im2col.what);
      im2col.sets_cols = true;
      im2col.count_arg = arg + 1;  // after `cols`
      im2col.per_sample = g.out_h;
      im2col.pixels_per_sample = pixels;
      im2col.rows = g.k_padded();
      workspace_floats_ = std::max(workspace_floats_, g.k_padded() * cols);
    }

    Launch& gemm = NewLaunch(bfp_ ? "gemm_bfp8" : "gemm_fp32", node, Launch::Grid::kGemm);
    const cl_kernel m = gemm.kernel.get();
    if (direct) {
      cl::SetArg(m, 0, in, gemm.what);
    } else {
      workspace_users_.push_back({launches_.size() - 1, 0});
    }
    cl_uint arg = SetLayerArgs(m, 1, g, residual, out, gemm.what);
    cl::SetArg(m, arg++, static_cast<int>(g.out_c), gemm.what);
    cl::SetArg(m, arg++, ToInt(pixels, "output plane"), gemm.what);
    cl::SetArg(m, arg++, ToInt(g.k_padded(), "k"), gemm.what);
    cl::SetArg(m, arg++, residual != nullptr ? 1 : 0, gemm.what);
    arg = SetActivationArgs(m, arg, activation, gemm.what);
    // B's strides (conv.cl): the workspace's row length `cols` is set per run.
    cl::SetArg(m, arg++, ToInt(direct ? g.k() * pixels : pixels, "image stride"), gemm.what);
    if (direct) cl::SetArg(m, arg, static_cast<int>(pixels), gemm.what);
    gemm.sets_cols = !direct;
    gemm.count_arg = arg + 1;
    gemm.per_sample = pixels;
    gemm.pixels_per_sample = pixels;
    gemm.rows = g.out_c_padded() / cl::kTileM;
  }

  // The im2col workspace, shared by every layer (the queue is in order), is sized once all
  // layers are known and then bound to the kernels that use it.
  void BindWorkspace() {
    if (workspace_users_.empty()) return;
    workspace_ = NewBuffer(workspace_floats_ * sizeof(float), nullptr, CL_MEM_READ_WRITE,
                           "im2col workspace");
    const cl_mem buffer = workspace_.get();
    for (const auto& [launch, arg] : workspace_users_) {
      cl::SetArg(launches_[launch].kernel.get(), arg, buffer, launches_[launch].what);
    }
  }

  cl::Runtime rt_;
  bool bfp_;
  std::vector<cl::Buffer> params_;
  std::vector<cl::Buffer> slots_;
  std::vector<int> slot_of_;
  std::vector<Launch> launches_;
  // Kernels that take the im2col workspace: (launch index, argument index).
  std::vector<std::pair<std::size_t, cl_uint>> workspace_users_;
  std::int64_t workspace_floats_ = 0;
  cl::Buffer workspace_;
  cl_mem input_buffer_ = nullptr;
  cl_mem output_buffer_ = nullptr;
  std::size_t input_bytes_per_sample_ = 0;
  std::size_t output_bytes_per_sample_ = 0;
  cl::Event upload_, first_, last_, download_;
};

// Describes the first device; lists nothing in this process (cl::ProcessProbe), so that a broken
// platform makes this backend unavailable instead of aborting `sonicbench backends`.
class OpenClBackend final : public Backend {
 public:
  std::string_view name() const override { return "opencl"; }
  std::string device_forms() const override {
    return "P:D (platform and device index) | NAME (part of the platform and device name)";
  }
  std::string option_forms() const override { return std::string(kOpenClOptionForms); }

  DeviceKind device_kind() const override {
    const auto& devices = cl::ProcessProbe().devices;
    if (devices.empty()) return DeviceKind::kNone;
    const std::string& type = devices.front().device_type;
    if (type == "cpu") return DeviceKind::kCpu;
    if (type == "gpu") return DeviceKind::kGpu;
    return DeviceKind::kFpga;
  }

  std::string device_name() const override {
    const auto& devices = cl::ProcessProbe().devices;
    return devices.empty() ? "none" : devices.front().device_name;
  }

  std::string library_version() const override {
    const OpenClProbe& probe = cl::ProcessProbe();
    if (!probe.failure.empty()) return "OpenCL (platform failed)";
    const auto& devices = probe.devices;
    if (devices.empty()) return "OpenCL (no platform)";
    // "OpenCL 3.0 PoCL 3.1+debian  Linux, ...": the first four words name the implementation.
    const std::string& version = devices.front().platform_version;
    std::size_t end = 0;
    for (int word = 0; word < 4 && end != std::string::npos; ++word) {
      end = version.find(' ', version.find_first_not_of(' ', end));
    }
    return version.substr(0, end);
  }

  std::vector<Precision> precisions() const override {
    return {Precision::kFp32, Precision::kBfp8};
  }

  // AddStep's ops: the CNN core (Backend's default, grouped convolutions included), every
  // activation, ceil-mode pooling and Concat on any shape the IR allows, and Pad up to rank 3.
  // bfp8 changes only the convolutions' and dense layers' arithmetic, so both precisions run the
  // same nodes.
  std::string UnsupportedReason(const Graph& graph, const Node& node,
                                Precision precision) const override {
    switch (node.op) {
      case OpKind::kActivation:
      case OpKind::kConcat:
      case OpKind::kMaxPool:
      case OpKind::kAveragePool:
        return {};
      case OpKind::kPad:
        return graph.values.at(node.inputs.at(0)).shape.size() <= kMaxPadRank
                   ? ""
                   : fmt::format("only on values of rank {} or less per sample", kMaxPadRank);
      default:
        return Backend::UnsupportedReason(graph, node, precision);
    }
  }

  std::string unavailable_reason() const override {
    const OpenClProbe& probe = cl::ProcessProbe();
    if (!probe.failure.empty()) return probe.failure;
    if (probe.devices.empty()) {
      return "no OpenCL platform or device (install an ICD such as pocl-opencl-icd)";
    }
    return {};
  }

 protected:
  void DoValidateOptions(std::string_view device, std::string_view backend_options) const override {
    ParseOpenClOptions(device, backend_options);
  }
  std::unique_ptr<Executable> DoCompile(const Graph& graph,
                                        const CompileOptions& options) const override {
    Graph folded = graph;
    FoldBatchNorm(folded);
    return std::make_unique<OpenClExecutable>(
        folded, options, cl::Open(ParseOpenClOptions(options.device, options.backend_options)));
  }
};

}  // namespace

std::unique_ptr<Backend> MakeOpenClBackend() { return std::make_unique<OpenClBackend>(); }

}  // namespace sonic
