#include "backends/cudnn/cudnn_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "backends/cudnn/cudnn_check.h"
#include "core/error.h"
#include "core/owned.h"
#include "core/parse.h"
#include "models/fusion.h"

namespace sonic {

void CheckCuda(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  ThrowVendorError(status == cudaErrorMemoryAllocation,
                   fmt::format("{} failed: {} ({})", call, cudaGetErrorName(status),
                               cudaGetErrorString(status)));
}

void CheckCudnn(cudnnStatus_t status, const char* call) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  ThrowVendorError(status == CUDNN_STATUS_ALLOC_FAILED,
                   fmt::format("{} failed: {}", call, cudnnGetErrorString(status)));
}

void CheckCublas(cublasStatus_t status, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  ThrowVendorError(status == CUBLAS_STATUS_ALLOC_FAILED,
                   fmt::format("{} failed: {}", call, cublasGetStatusString(status)));
}

namespace {

// Vendor objects, each destroyed once with its vendor function (core/owned.h).
using TensorDesc = Owned<cudnnTensorDescriptor_t, CallRelease<cudnnDestroyTensorDescriptor>>;
using FilterDesc = Owned<cudnnFilterDescriptor_t, CallRelease<cudnnDestroyFilterDescriptor>>;
using ConvDesc =
    Owned<cudnnConvolutionDescriptor_t, CallRelease<cudnnDestroyConvolutionDescriptor>>;
using PoolDesc = Owned<cudnnPoolingDescriptor_t, CallRelease<cudnnDestroyPoolingDescriptor>>;
using ActivationDesc =
    Owned<cudnnActivationDescriptor_t, CallRelease<cudnnDestroyActivationDescriptor>>;
using OpTensorDesc = Owned<cudnnOpTensorDescriptor_t, CallRelease<cudnnDestroyOpTensorDescriptor>>;
using CudnnHandle = Owned<cudnnHandle_t, CallRelease<cudnnDestroy>>;
using CublasHandle = Owned<cublasHandle_t, CallRelease<cublasDestroy>>;
using Stream = Owned<cudaStream_t, CallRelease<cudaStreamDestroy>>;
using Event = Owned<cudaEvent_t, CallRelease<cudaEventDestroy>>;
using GraphExec = Owned<cudaGraphExec_t, CallRelease<cudaGraphExecDestroy>>;
using DeviceMemory = Owned<void*, CallRelease<cudaFree>>;
using PinnedMemory = Owned<void*, CallRelease<cudaFreeHost>>;

DeviceMemory AllocateDevice(std::size_t bytes) {
  void* pointer = nullptr;
  SONIC_CUDA(cudaMalloc(&pointer, std::max<std::size_t>(bytes, 256)));
  return DeviceMemory(pointer);
}

PinnedMemory AllocatePinned(std::size_t bytes) {
  void* pointer = nullptr;
  SONIC_CUDA(cudaHostAlloc(&pointer, std::max<std::size_t>(bytes, 256), cudaHostAllocDefault));
  return PinnedMemory(pointer);
}

// Round-to-nearest-even conversions done on the host at compile time.
std::uint16_t FloatToBf16(float value) {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40);
  return static_cast<std::uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

std::uint16_t FloatToHalf(float value) {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u);   // NaN
  if (magnitude >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflow
  if (magnitude < 0x38800000u) {                                         // subnormal half (or zero)
    const float scaled = std::bit_cast<float>(magnitude) * 16777216.0f;  // 2^24
    return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(std::nearbyint(scaled)));
  }
  const std::uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

struct Format {
  cudnnDataType_t data_type;
  cudaDataType_t blas_type;
  cudnnTensorFormat_t layout;
  std::size_t element_bytes;
};

Format FormatFor(Precision precision) {
  switch (precision) {
    case Precision::kFp32:
    case Precision::kTf32:
      return {CUDNN_DATA_FLOAT, CUDA_R_32F, CUDNN_TENSOR_NCHW, 4};
    case Precision::kFp16:
      return {CUDNN_DATA_HALF, CUDA_R_16F, CUDNN_TENSOR_NHWC, 2};
    case Precision::kBf16:
      return {CUDNN_DATA_BFLOAT16, CUDA_R_16BF, CUDNN_TENSOR_NHWC, 2};
    default:
      Throw(ErrorKind::kUnsupported,
            "backend 'cudnn' does not compute in {}: it supports fp32, tf32, fp16 and bf16",
            PrecisionName(precision));
  }
}

// Converts float32 parameters to the compute type and uploads them once.
DeviceMemory UploadParameters(std::span<const float> values, const Format& format) {
  DeviceMemory memory = AllocateDevice(values.size() * format.element_bytes);
  if (format.element_bytes == 4) {
    SONIC_CUDA(cudaMemcpy(memory.get(), values.data(), values.size() * 4, cudaMemcpyHostToDevice));
    return memory;
  }
  std::vector<std::uint16_t> converted(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    converted[i] =
        format.data_type == CUDNN_DATA_HALF ? FloatToHalf(values[i]) : FloatToBf16(values[i]);
  }
  SONIC_CUDA(
      cudaMemcpy(memory.get(), converted.data(), converted.size() * 2, cudaMemcpyHostToDevice));
  return memory;
}

// [N, C, H, W] for a per-sample shape [C, H, W] or [F] (as [N, F, 1, 1]).
std::array<int, 4> Dims4(const Shape& shape, int batch) {
  if (shape.size() == 3) {
    return {batch, static_cast<int>(shape[0]), static_cast<int>(shape[1]),
            static_cast<int>(shape[2])};
  }
  return {batch, static_cast<int>(NumElements(shape)), 1, 1};
}

TensorDesc MakeTensorDesc(const std::array<int, 4>& dims, const Format& format) {
  cudnnTensorDescriptor_t desc;
  SONIC_CUDNN(cudnnCreateTensorDescriptor(&desc));
  TensorDesc owned(desc);
  SONIC_CUDNN(cudnnSetTensor4dDescriptor(desc, format.layout, format.data_type, dims[0], dims[1],
                                         dims[2], dims[3]));
  return owned;
}

// Weights of one layer, on the device, and the descriptors that do not depend on the batch.
struct LayerParams {
  DeviceMemory weight, bias, mean, variance;
  FilterDesc filter;
  ConvDesc conv;
  PoolDesc pool;
  TensorDesc bias_desc;  // [1, C, 1, 1]
  int out_features = 0;  // dense
  int in_features = 0;   // dense
};

// Everything that depends on the batch size: descriptors, chosen algorithms, the captured graph.
struct Plan {
  int batch = 0;
  std::vector<TensorDesc> value_desc;  // indexed by ValueId (storage values only)
  TensorDesc input_fp32_desc, output_fp32_desc;
  std::vector<cudnnConvolutionFwdAlgo_t> algorithm;  // indexed by step
  GraphExec graph;
};

class CudnnExecutable final : public Executable {
 public:
  CudnnExecutable(const Graph& source, const CompileOptions& options, int device)
      : Executable(source.input_shape(), source.output_shape(), options.max_batch),
        graph_(source),
        precision_(options.precision),
        format_(FormatFor(options.precision)) {
    SONIC_CUDA(cudaSetDevice(device));
    FoldBatchNorm(graph_);
    InferShapes(graph_);
    plan_ = PlanFusedSteps(graph_);

    cudaStream_t stream;
    SONIC_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    stream_ = Stream(stream);
    cudnnHandle_t cudnn;
    SONIC_CUDNN(cudnnCreate(&cudnn));
    cudnn_ = CudnnHandle(cudnn);
    SONIC_CUDNN(cudnnSetStream(cudnn, stream));
    cublasHandle_t cublas;
    SONIC_CUBLAS(cublasCreate(&cublas));
    cublas_ = CublasHandle(cublas);
    SONIC_CUBLAS(cublasSetStream(cublas, stream));
    // cuBLAS must not allocate while a CUDA graph is being captured.
    constexpr std::size_t kCublasWorkspaceBytes = 32u << 20;
    cublas_workspace_ = AllocateDevice(kCublasWorkspaceBytes);
    SONIC_CUBLAS(cublasSetWorkspace(cublas, cublas_workspace_.get(), kCublasWorkspaceBytes));
    for (Event* event : {&start_, &uploaded_, &computed_, &downloaded_}) {
      cudaEvent_t raw;
      SONIC_CUDA(cudaEventCreate(&raw));
      *event = Event(raw);
    }
    cudnnActivationDescriptor_t relu;
    SONIC_CUDNN(cudnnCreateActivationDescriptor(&relu));
    relu_ = ActivationDesc(relu);
    SONIC_CUDNN(
        cudnnSetActivationDescriptor(relu, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0));
    cudnnOpTensorDescriptor_t add;
    SONIC_CUDNN(cudnnCreateOpTensorDescriptor(&add));
    add_ = OpTensorDesc(add);
    SONIC_CUDNN(cudnnSetOpTensorDescriptor(add, CUDNN_OP_TENSOR_ADD, CUDNN_DATA_FLOAT,
                                           CUDNN_NOT_PROPAGATE_NAN));

    PrepareLayers();
    AllocateActivations();
    const std::size_t in_bytes = max_batch() * NumElements(input_shape()) * sizeof(float);
    const std::size_t out_bytes = max_batch() * NumElements(output_shape()) * sizeof(float);
    pinned_input_ = AllocatePinned(in_bytes);
    pinned_output_ = AllocatePinned(out_bytes);
    std::memset(pinned_input_.get(), 0, in_bytes);
    if (format_.element_bytes != 4) {
      input_staging_ = AllocateDevice(in_bytes);
      output_staging_ = AllocateDevice(out_bytes);
    }
    // Plans for batch 1, every power of two and the maximum; a Run uses the smallest that fits.
    for (int batch = 1; batch < max_batch(); batch *= 2) plans_.push_back(MakePlan(batch));
    plans_.push_back(MakePlan(max_batch()));
    workspace_ = AllocateDevice(workspace_bytes_);
    for (Plan& plan : plans_) Capture(plan);
  }

  ~CudnnExecutable() override { cudaStreamSynchronize(stream_.get()); }

 protected:
  void DoRun(const float* input, int batch, float* output, DeviceTiming* timing) override {
    Plan& plan = *std::find_if(plans_.begin(), plans_.end(),
                               [batch](const Plan& p) { return p.batch >= batch; });
    std::memcpy(pinned_input_.get(), input, batch * NumElements(input_shape()) * sizeof(float));
    SONIC_CUDA(cudaGraphLaunch(plan.graph.get(), stream_.get()));
    SONIC_CUDA(cudaStreamSynchronize(stream_.get()));
    std::memcpy(output, pinned_output_.get(), batch * NumElements(output_shape()) * sizeof(float));
    if (timing != nullptr) {
      timing->upload_ns = ElapsedNs(start_, uploaded_);
      timing->compute_ns = ElapsedNs(uploaded_, computed_);
      timing->download_ns = ElapsedNs(computed_, downloaded_);
    }
  }

 private:
  static std::int64_t ElapsedNs(const Event& from, const Event& to) {
    float ms = 0.0f;
    SONIC_CUDA(cudaEventElapsedTime(&ms, from.get(), to.get()));
    return static_cast<std::int64_t>(static_cast<double>(ms) * 1e6);
  }

  bool Nhwc() const { return format_.layout == CUDNN_TENSOR_NHWC; }

  // OIHW float32 weights reordered to the filter layout the format uses (KRSC for NHWC).
  std::vector<float> FilterLayout(const Conv2DAttrs& conv, std::int64_t in_per_group) const {
    if (!Nhwc()) return conv.weight;
    const std::int64_t kh = conv.kernel[0], kw = conv.kernel[1];
    std::vector<float> krsc(conv.weight.size());
    for (std::int64_t k = 0; k < conv.out_channels; ++k) {
      for (std::int64_t c = 0; c < in_per_group; ++c) {
        for (std::int64_t y = 0; y < kh; ++y) {
          for (std::int64_t x = 0; x < kw; ++x) {
            krsc[((k * kh + y) * kw + x) * in_per_group + c] =
                conv.weight[((k * in_per_group + c) * kh + y) * kw + x];
          }
        }
      }
    }
    return krsc;
  }

  TensorDesc ChannelDesc(int channels) const {
    return MakeTensorDesc({1, channels, 1, 1}, format_);
  }

  void PrepareLayers() {
    layers_.resize(plan_.steps.size());
    for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
      const FusedStep& step = plan_.steps[i];
      const Node& node = *step.node;
      LayerParams& layer = layers_[i];
      const Shape& in_shape = graph_.values[step.input].shape;
      switch (node.op) {
        case OpKind::kConv2D: {
          const auto& conv = std::get<Conv2DAttrs>(node.attrs);
          if (conv.pads[0] != conv.pads[2] || conv.pads[1] != conv.pads[3]) {
            Throw(ErrorKind::kUnsupported, "node '{}' (Conv2D): cuDNN needs symmetric pads, got {}",
                  node.name, ShapeToString(conv.pads));
          }
          const std::int64_t in_per_group = in_shape[0] / conv.groups;
          layer.weight = UploadParameters(FilterLayout(conv, in_per_group), format_);
          std::vector<float> bias = conv.bias;
          bias.resize(conv.out_channels, 0.0f);
          layer.bias = UploadParameters(bias, format_);
          layer.bias_desc = ChannelDesc(static_cast<int>(conv.out_channels));
          cudnnFilterDescriptor_t filter;
          SONIC_CUDNN(cudnnCreateFilterDescriptor(&filter));
          layer.filter = FilterDesc(filter);
          SONIC_CUDNN(cudnnSetFilter4dDescriptor(
              filter, format_.data_type, format_.layout, static_cast<int>(conv.out_channels),
              static_cast<int>(in_per_group), static_cast<int>(conv.kernel[0]),
              static_cast<int>(conv.kernel[1])));
          cudnnConvolutionDescriptor_t desc;
          SONIC_CUDNN(cudnnCreateConvolutionDescriptor(&desc));
          layer.conv = ConvDesc(desc);
          SONIC_CUDNN(cudnnSetConvolution2dDescriptor(
              desc, static_cast<int>(conv.pads[0]), static_cast<int>(conv.pads[1]),
              static_cast<int>(conv.stride[0]), static_cast<int>(conv.stride[1]),
              static_cast<int>(conv.dilation[0]), static_cast<int>(conv.dilation[1]),
              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
          SONIC_CUDNN(cudnnSetConvolutionGroupCount(desc, static_cast<int>(conv.groups)));
          // fp32 means FMA only: TF32 tensor cores would change results beyond 1e-4.
          SONIC_CUDNN(cudnnSetConvolutionMathType(
              desc, precision_ == Precision::kFp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
          break;
        }
        case OpKind::kDense: {
          const auto& dense = std::get<DenseAttrs>(node.attrs);
          layer.out_features = static_cast<int>(dense.out_features);
          layer.in_features = static_cast<int>(in_shape[0]);
          layer.weight = UploadParameters(DenseLayout(step, dense), format_);
          std::vector<float> bias = dense.bias;
          bias.resize(dense.out_features, 0.0f);
          layer.bias = UploadParameters(bias, format_);
          layer.bias_desc = ChannelDesc(layer.out_features);
          break;
        }
        case OpKind::kMaxPool:
        case OpKind::kAveragePool:
        case OpKind::kGlobalAveragePool:
          layer.pool = MakePool(node, in_shape);
          break;
        case OpKind::kBatchNorm: {
          const auto& bn = std::get<BatchNormAttrs>(node.attrs);
          // cuDNN takes batch-norm parameters in float32 for half inputs.
          const Format fp32 = FormatFor(Precision::kFp32);
          layer.weight = UploadParameters(bn.scale, fp32);
          layer.bias = UploadParameters(bn.shift, fp32);
          layer.mean = UploadParameters(bn.mean, fp32);
          layer.variance = UploadParameters(bn.variance, fp32);
          layer.bias_desc = MakeTensorDesc({1, static_cast<int>(in_shape[0]), 1, 1}, fp32);
          break;
        }
        default:
          break;
      }
    }
  }

  // Dense weights are [out, in] over the flattened input. A flattened NHWC activation is ordered
  // (h, w, c) instead of (c, h, w), so the columns are permuted to match.
  std::vector<float> DenseLayout(const FusedStep& step, const DenseAttrs& dense) const {
    const Node* flatten = nullptr;
    for (const Node& node : graph_.nodes) {
      if (node.op == OpKind::kFlatten && node.output == step.node->inputs[0]) {
        flatten = &node;
      }
    }
    if (!Nhwc() || flatten == nullptr) return dense.weight;
    const Shape& source = graph_.values[flatten->inputs[0]].shape;
    if (source.size() != 3 || source[1] * source[2] == 1) return dense.weight;
    const std::int64_t channels = source[0], pixels = source[1] * source[2];
    const std::int64_t in = channels * pixels;
    std::vector<float> permuted(dense.weight.size());
    for (std::int64_t o = 0; o < dense.out_features; ++o) {
      for (std::int64_t c = 0; c < channels; ++c) {
        for (std::int64_t p = 0; p < pixels; ++p) {
          permuted[o * in + p * channels + c] = dense.weight[o * in + c * pixels + p];
        }
      }
    }
    return permuted;
  }

  PoolDesc MakePool(const Node& node, const Shape& in_shape) const {
    cudnnPoolingDescriptor_t desc;
    SONIC_CUDNN(cudnnCreatePoolingDescriptor(&desc));
    PoolDesc owned(desc);
    if (node.op == OpKind::kGlobalAveragePool) {
      SONIC_CUDNN(cudnnSetPooling2dDescriptor(
          desc, CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, CUDNN_NOT_PROPAGATE_NAN,
          static_cast<int>(in_shape[1]), static_cast<int>(in_shape[2]), 0, 0, 1, 1));
      return owned;
    }
    const auto& pool = std::get<PoolAttrs>(node.attrs);
    if (pool.pads[0] != pool.pads[2] || pool.pads[1] != pool.pads[3]) {
      Throw(ErrorKind::kUnsupported, "node '{}' ({}): cuDNN needs symmetric pads, got {}",
            node.name, OpKindName(node.op), ShapeToString(pool.pads));
    }
    const cudnnPoolingMode_t mode = node.op == OpKind::kMaxPool ? CUDNN_POOLING_MAX
                                    : pool.count_include_pad
                                        ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                        : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    SONIC_CUDNN(cudnnSetPooling2dDescriptor(
        desc, mode, CUDNN_NOT_PROPAGATE_NAN, static_cast<int>(pool.kernel[0]),
        static_cast<int>(pool.kernel[1]), static_cast<int>(pool.pads[0]),
        static_cast<int>(pool.pads[1]), static_cast<int>(pool.stride[0]),
        static_cast<int>(pool.stride[1])));
    return owned;
  }

  // One device buffer per storage value, sized for the maximum batch; a buffer is reused once
  // the last step reading its value has run (never by a step that reads it).
  void AllocateActivations() {
    std::vector<int> last_read(graph_.values.size(), -1);
    for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
      last_read[plan_.steps[i].input] = static_cast<int>(i);
      if (plan_.steps[i].residual >= 0) last_read[plan_.steps[i].residual] = static_cast<int>(i);
    }
    const ValueId output = plan_.storage[graph_.output];
    last_read[output] = std::numeric_limits<int>::max();
    std::vector<std::size_t> slot_bytes;
    std::vector<int> slot_busy_until;
    slot_of_.assign(graph_.values.size(), -1);
    auto assign = [&](ValueId value, int step_index) {
      const std::size_t bytes =
          max_batch() * NumElements(graph_.values[value].shape) * format_.element_bytes;
      int chosen = -1;
      for (std::size_t s = 0; s < slot_bytes.size(); ++s) {
        if (slot_busy_until[s] < step_index) {
          chosen = static_cast<int>(s);
          break;
        }
      }
      if (chosen < 0) {
        chosen = static_cast<int>(slot_bytes.size());
        slot_bytes.push_back(0);
        slot_busy_until.push_back(0);
      }
      slot_bytes[chosen] = std::max(slot_bytes[chosen], bytes);
      slot_busy_until[chosen] = last_read[value];
      slot_of_[value] = chosen;
    };
    assign(graph_.input, -1);
    for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
      assign(plan_.steps[i].output, static_cast<int>(i));
    }
    for (std::size_t bytes : slot_bytes) slots_.push_back(AllocateDevice(bytes));
  }

  void* Buffer(ValueId value) const { return slots_[slot_of_[value]].get(); }

  Plan MakePlan(int batch) {
    Plan plan;
    plan.batch = batch;
    plan.value_desc.resize(graph_.values.size());
    for (std::size_t v = 0; v < graph_.values.size(); ++v) {
      if (slot_of_[v] >= 0) {
        plan.value_desc[v] = MakeTensorDesc(Dims4(graph_.values[v].shape, batch), format_);
      }
    }
    const Format fp32_nchw = FormatFor(Precision::kFp32);
    plan.input_fp32_desc = MakeTensorDesc(Dims4(input_shape(), batch), fp32_nchw);
    plan.output_fp32_desc = MakeTensorDesc(Dims4(output_shape(), batch), fp32_nchw);
    plan.algorithm.assign(plan_.steps.size(), CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
    for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
      const FusedStep& step = plan_.steps[i];
      if (step.node->op != OpKind::kConv2D) continue;
      plan.algorithm[i] = FindAlgorithm(plan, step, layers_[i]);
    }
    return plan;
  }

  // Benchmarks the algorithms once for this shape (cudnnFindConvolutionForwardAlgorithm) and
  // keeps the fastest one allowed by the precision; tracks the largest workspace.
  cudnnConvolutionFwdAlgo_t FindAlgorithm(const Plan& plan, const FusedStep& step,
                                          const LayerParams& layer) {
    cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    SONIC_CUDNN(cudnnFindConvolutionForwardAlgorithm(
        cudnn_.get(), plan.value_desc[step.input].get(), layer.filter.get(), layer.conv.get(),
        plan.value_desc[step.output].get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, results));
    for (int r = 0; r < returned; ++r) {
      const auto& result = results[r];
      if (result.status != CUDNN_STATUS_SUCCESS) continue;
      if (precision_ == Precision::kFp32 && result.mathType != CUDNN_FMA_MATH &&
          result.mathType != CUDNN_DEFAULT_MATH) {
        continue;
      }
      workspace_bytes_ = std::max(workspace_bytes_, result.memory);
      return result.algo;
    }
    Throw(ErrorKind::kBackend, "node '{}' (Conv2D): cuDNN found no usable algorithm at batch {}",
          step.node->name, plan.batch);
  }

  // Enqueues one forward pass on the stream (during capture, this records the graph).
  void Enqueue(const Plan& plan) {
    cudaStream_t stream = stream_.get();
    const int batch = plan.batch;
    const std::size_t in_bytes = batch * NumElements(input_shape()) * sizeof(float);
    const std::size_t out_bytes = batch * NumElements(output_shape()) * sizeof(float);
    const float one = 1.0f, zero = 0.0f;
    SONIC_CUDA(cudaEventRecord(start_.get(), stream));
    if (input_staging_.get() != nullptr) {
      SONIC_CUDA(cudaMemcpyAsync(input_staging_.get(), pinned_input_.get(), in_bytes,
                                 cudaMemcpyHostToDevice, stream));
      SONIC_CUDNN(cudnnTransformTensor(cudnn_.get(), &one, plan.input_fp32_desc.get(),
                                       input_staging_.get(), &zero,
                                       plan.value_desc[graph_.input].get(), Buffer(graph_.input)));
    } else {
      SONIC_CUDA(cudaMemcpyAsync(Buffer(graph_.input), pinned_input_.get(), in_bytes,
                                 cudaMemcpyHostToDevice, stream));
    }
    SONIC_CUDA(cudaEventRecord(uploaded_.get(), stream));
    for (std::size_t i = 0; i < plan_.steps.size(); ++i) EnqueueStep(plan, i);
    SONIC_CUDA(cudaEventRecord(computed_.get(), stream));
    const ValueId output = plan_.storage[graph_.output];
    if (output_staging_.get() != nullptr) {
      SONIC_CUDNN(cudnnTransformTensor(cudnn_.get(), &one, plan.value_desc[output].get(),
                                       Buffer(output), &zero, plan.output_fp32_desc.get(),
                                       output_staging_.get()));
      SONIC_CUDA(cudaMemcpyAsync(pinned_output_.get(), output_staging_.get(), out_bytes,
                                 cudaMemcpyDeviceToHost, stream));
    } else {
      SONIC_CUDA(cudaMemcpyAsync(pinned_output_.get(), Buffer(output), out_bytes,
                                 cudaMemcpyDeviceToHost, stream));
    }
    SONIC_CUDA(cudaEventRecord(downloaded_.get(), stream));
  }

  void EnqueueStep(const Plan& plan, std::size_t index) {
    const FusedStep& step = plan_.steps[index];
    const LayerParams& layer = layers_[index];
    const float one = 1.0f, zero = 0.0f;
    cudnnHandle_t cudnn = cudnn_.get();
    cudnnTensorDescriptor_t x_desc = plan.value_desc[step.input].get();
    cudnnTensorDescriptor_t y_desc = plan.value_desc[step.output].get();
    void* x = Buffer(step.input);
    void* y = Buffer(step.output);
    void* residual = step.residual >= 0 ? Buffer(step.residual) : nullptr;
    bool relu_pending = step.relu;
    switch (step.node->op) {
      case OpKind::kConv2D:
        if (step.relu) {
          // y = relu(conv(x) + residual + bias) in one call; z = y with alpha2 = 0 when there is
          // no residual.
          const float alpha2 = residual != nullptr ? 1.0f : 0.0f;
          SONIC_CUDNN(cudnnConvolutionBiasActivationForward(
              cudnn, &one, x_desc, x, layer.filter.get(), layer.weight.get(), layer.conv.get(),
              plan.algorithm[index], workspace_.get(), workspace_bytes_, &alpha2,
              residual != nullptr ? plan.value_desc[step.residual].get() : y_desc,
              residual != nullptr ? residual : y, layer.bias_desc.get(), layer.bias.get(),
              relu_.get(), y_desc, y));
          relu_pending = false;
        } else {
          // The fused call supports an identity activation with one algorithm only, so a
          // convolution without ReLU runs as convolution, then bias and residual additions.
          SONIC_CUDNN(cudnnConvolutionForward(
              cudnn, &one, x_desc, x, layer.filter.get(), layer.weight.get(), layer.conv.get(),
              plan.algorithm[index], workspace_.get(), workspace_bytes_, &zero, y_desc, y));
          SONIC_CUDNN(cudnnAddTensor(cudnn, &one, layer.bias_desc.get(), layer.bias.get(), &one,
                                     y_desc, y));
          if (residual != nullptr) {
            SONIC_CUDNN(cudnnAddTensor(cudnn, &one, plan.value_desc[step.residual].get(), residual,
                                       &one, y_desc, y));
          }
        }
        break;
      case OpKind::kDense: {
        const cublasComputeType_t compute =
            precision_ == Precision::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        // Row-major y[N, out] = x[N, in] · W[out, in]ᵀ is column-major yᵀ = W · xᵀ.
        SONIC_CUBLAS(cublasGemmEx(cublas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, layer.out_features,
                                  plan.batch, layer.in_features, &one, layer.weight.get(),
                                  format_.blas_type, layer.in_features, x, format_.blas_type,
                                  layer.in_features, &zero, y, format_.blas_type,
                                  layer.out_features, compute, CUBLAS_GEMM_DEFAULT));
        SONIC_CUDNN(
            cudnnAddTensor(cudnn, &one, layer.bias_desc.get(), layer.bias.get(), &one, y_desc, y));
        if (residual != nullptr) {
          SONIC_CUDNN(cudnnAddTensor(cudnn, &one, plan.value_desc[step.residual].get(), residual,
                                     &one, y_desc, y));
        }
        break;
      }
      case OpKind::kMaxPool:
      case OpKind::kAveragePool:
      case OpKind::kGlobalAveragePool:
        SONIC_CUDNN(
            cudnnPoolingForward(cudnn, layer.pool.get(), &one, x_desc, x, &zero, y_desc, y));
        break;
      case OpKind::kSoftmax:
        SONIC_CUDNN(cudnnSoftmaxForward(cudnn, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE,
                                        &one, x_desc, x, &zero, y_desc, y));
        break;
      case OpKind::kAdd:
        SONIC_CUDNN(cudnnOpTensor(cudnn, add_.get(), &one, x_desc, x, &one,
                                  plan.value_desc[step.residual].get(), residual, &zero, y_desc,
                                  y));
        break;
      case OpKind::kRelu:
        SONIC_CUDNN(cudnnActivationForward(cudnn, relu_.get(), &one, x_desc, x, &zero, y_desc, y));
        break;
      case OpKind::kBatchNorm: {
        const auto& bn = std::get<BatchNormAttrs>(step.node->attrs);
        SONIC_CUDNN(cudnnBatchNormalizationForwardInference(
            cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, x_desc, x, y_desc, y,
            layer.bias_desc.get(), layer.weight.get(), layer.bias.get(), layer.mean.get(),
            layer.variance.get(), std::max<double>(bn.epsilon, CUDNN_BN_MIN_EPSILON)));
        break;
      }
      case OpKind::kFlatten:
        Throw(ErrorKind::kInternal, "fusion left a Flatten step '{}'", step.node->name);
      default:
        // Backend::Compile refused every other op (UnsupportedReason) before any work.
        Throw(ErrorKind::kInternal, "cudnn has no step for '{}' ({})", step.node->name,
              OpKindName(step.node->op));
    }
    if (relu_pending) {
      SONIC_CUDNN(cudnnActivationForward(cudnn, relu_.get(), &one, y_desc, y, &zero, y_desc, y));
    }
  }

  // Runs the pass once eagerly (cuDNN and cuBLAS finish their lazy set-up outside the capture),
  // then captures it into a CUDA graph replayed by every Run of this batch size.
  void Capture(Plan& plan) {
    cudaStream_t stream = stream_.get();
    Enqueue(plan);
    SONIC_CUDA(cudaStreamSynchronize(stream));
    SONIC_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      Enqueue(plan);
    } catch (...) {
      cudaGraph_t discarded = nullptr;
      cudaStreamEndCapture(stream, &discarded);
      if (discarded != nullptr) cudaGraphDestroy(discarded);
      throw;
    }
    cudaGraph_t graph = nullptr;
    SONIC_CUDA(cudaStreamEndCapture(stream, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    SONIC_CUDA(status);
    plan.graph = GraphExec(exec);
  }

  Graph graph_;
  Precision precision_;
  Format format_;
  FusedPlan plan_;
  Stream stream_;
  CudnnHandle cudnn_;
  CublasHandle cublas_;
  DeviceMemory cublas_workspace_;
  Event start_, uploaded_, computed_, downloaded_;
  ActivationDesc relu_;
  OpTensorDesc add_;
  std::vector<LayerParams> layers_;
  std::vector<int> slot_of_;
  std::vector<DeviceMemory> slots_;
  PinnedMemory pinned_input_, pinned_output_;
  DeviceMemory input_staging_, output_staging_;
  std::vector<Plan> plans_;
  std::size_t workspace_bytes_ = 0;
  DeviceMemory workspace_;
};

// Parses "", "N" or "cuda:N".
int ParseDevice(std::string_view text) {
  const std::string_view digits = text.starts_with("cuda:") ? text.substr(5) : text;
  if (digits.empty()) return 0;
  const std::optional<std::int64_t> index = TryParseInt(digits);
  if (!index || *index < 0 || *index > std::numeric_limits<int>::max()) {
    Throw(ErrorKind::kInvalidArgument,
          "cudnn device '{}': expected a GPU index such as 0 or cuda:1", text);
  }
  return static_cast<int>(*index);
}

class CudnnBackend final : public Backend {
 public:
  CudnnBackend() {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      reason_ = fmt::format("no CUDA device (cudaGetDeviceCount: {})", cudaGetErrorString(status));
    } else if (count == 0) {
      reason_ = "no CUDA device (cudaGetDeviceCount returned 0)";
    } else {
      device_count_ = count;
      cudaDeviceProp properties;
      if (cudaGetDeviceProperties(&properties, 0) == cudaSuccess) device_name_ = properties.name;
    }
  }

  std::string_view name() const override { return "cudnn"; }
  std::string device_forms() const override { return "N | cuda:N (GPU index, default 0)"; }
  DeviceKind device_kind() const override { return DeviceKind::kGpu; }
  std::string device_name() const override { return device_name_; }
  std::string library_version() const override {
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);
    const std::size_t cudnn = cudnnGetVersion();
    return fmt::format("cuDNN {}.{}.{}, CUDA runtime {}.{}", cudnn / 10000, (cudnn / 100) % 100,
                       cudnn % 100, runtime / 1000, (runtime % 1000) / 10);
  }
  std::vector<Precision> precisions() const override {
    return {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16};
  }
  std::string unavailable_reason() const override { return reason_; }

 protected:
  void DoValidateOptions(std::string_view device,
                         std::string_view /*backend_options*/) const override {
    ParseDevice(device);
  }
  std::unique_ptr<Executable> DoCompile(const Graph& graph,
                                        const CompileOptions& options) const override {
    if (!reason_.empty()) Throw(ErrorKind::kUnavailable, "backend 'cudnn': {}", reason_);
    FormatFor(options.precision);
    const int device = ParseDevice(options.device);
    if (device >= device_count_) {
      Throw(ErrorKind::kNotFound, "cudnn device {} does not exist: this machine has {} GPU(s)",
            device, device_count_);
    }
    return std::make_unique<CudnnExecutable>(graph, options, device);
  }

 private:
  std::string reason_;
  std::string device_name_ = "none";
  int device_count_ = 0;
};

}  // namespace

std::unique_ptr<Backend> MakeCudnnBackend() { return std::make_unique<CudnnBackend>(); }

}  // namespace sonic
