#include "backends/reference/reference_backend.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <span>
#include <thread>

#include "core/error.h"

namespace sonic {
namespace {

// Interprets the graph node by node, exactly as written (no fusion), so that fusion or folding
// bugs in an optimising backend show up against it. Activation buffers are planned at compile:
// each value gets a slot that is reused once the value's last reader has run.
class ReferenceExecutable final : public Executable {
 public:
  ReferenceExecutable(const Graph& graph, const CompileOptions& options)
      : Executable(graph.input_shape(), graph.output_shape(), options.max_batch),
        graph_(graph),
        threads_(options.threads > 0 ? options.threads
                                     : static_cast<int>(std::thread::hardware_concurrency())) {
    PlanBuffers();
  }

 protected:
  void DoRun(const float* input, int batch, float* output, DeviceTiming* timing) override {
    omp_set_num_threads(threads_);
    for (const Node& node : graph_.nodes) RunNode(node, input, batch);
    const float* result = Data(graph_.output, input);
    std::copy_n(result, batch * NumElements(graph_.output_shape()), output);
    if (timing != nullptr) *timing = {};
  }

 private:
  void RunNode(const Node& node, const float* input, int batch) {
    const float* a = Data(node.inputs[0], input);
    float* out = Slot(node.output);
    const Shape& in_shape = graph_.values[node.inputs[0]].shape;
    const Shape& out_shape = graph_.values[node.output].shape;
    const std::int64_t out_count = batch * NumElements(out_shape);
    switch (node.op) {
      case OpKind::kConv2D:
        Conv(std::get<Conv2DAttrs>(node.attrs), a, in_shape, out, out_shape, batch);
        break;
      case OpKind::kBatchNorm:
        BatchNorm(std::get<BatchNormAttrs>(node.attrs), a, in_shape, out, batch);
        break;
      case OpKind::kRelu:
        Map(a, out, out_count, [](double x) { return std::max(x, 0.0); });
        break;
      case OpKind::kActivation: {
        const auto& activation = std::get<ActivationAttrs>(node.attrs);
        Map(a, out, out_count, [&](double x) { return ApplyActivation(activation, x); });
        break;
      }
      case OpKind::kAdd:
        Binary(BinaryKind::kAdd, a, in_shape, true, Data(node.inputs[1], input), in_shape, true,
               out, out_shape, batch);
        break;
      case OpKind::kBinary: {
        const auto& binary = std::get<BinaryAttrs>(node.attrs);
        if (binary.constant.empty()) {
          Binary(binary.kind, a, in_shape, true, Data(node.inputs[1], input),
                 graph_.values[node.inputs[1]].shape, true, out, out_shape, batch);
        } else if (binary.constant_first) {
          Binary(binary.kind, binary.constant.data(), binary.constant_shape, false, a, in_shape,
                 true, out, out_shape, batch);
        } else {
          Binary(binary.kind, a, in_shape, true, binary.constant.data(), binary.constant_shape,
                 false, out, out_shape, batch);
        }
        break;
      }
      case OpKind::kMaxPool:
      case OpKind::kAveragePool:
        Pool(node.op, std::get<PoolAttrs>(node.attrs), a, in_shape, out, out_shape, batch);
        break;
      case OpKind::kGlobalAveragePool:
      case OpKind::kGlobalMaxPool:
        GlobalPool(node.op == OpKind::kGlobalMaxPool, a, in_shape, out, batch);
        break;
      case OpKind::kFlatten:
      case OpKind::kReshape:
        std::copy_n(a, out_count, out);
        break;
      case OpKind::kDense:
        Dense(std::get<DenseAttrs>(node.attrs), a, in_shape.back(), out,
              batch * (NumElements(in_shape) / in_shape.back()));
        break;
      case OpKind::kSoftmax:
        Softmax(a, out, in_shape.back(), batch * (NumElements(in_shape) / in_shape.back()));
        break;
      case OpKind::kConcat:
        Concat(node, input, out, batch);
        break;
      case OpKind::kTranspose:
        Transpose(std::get<TransposeAttrs>(node.attrs), a, in_shape, out, out_shape, batch);
        break;
      case OpKind::kMatMul:
        MatMul(a, in_shape, Data(node.inputs[1], input), graph_.values[node.inputs[1]].shape, out,
               out_shape, batch);
        break;
      case OpKind::kReduce:
        Reduce(std::get<ReduceAttrs>(node.attrs), a, in_shape, out, batch);
        break;
      case OpKind::kPad:
        Pad(std::get<PadAttrs>(node.attrs), a, in_shape, out, out_shape, batch);
        break;
      case OpKind::kGather:
        Gather(std::get<GatherAttrs>(node.attrs), a, in_shape, out, batch);
        break;
    }
  }

  void PlanBuffers() {
    std::vector<int> last_use(graph_.values.size(), -1);
    for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
      for (ValueId id : graph_.nodes[i].inputs) last_use[id] = static_cast<int>(i);
    }
    last_use[graph_.output] = std::numeric_limits<int>::max();
    slot_of_.assign(graph_.values.size(), -1);
    std::vector<std::size_t> slot_size;
    std::vector<int> slot_busy_until;
    for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
      const ValueId out = graph_.nodes[i].output;
      const auto need =
          static_cast<std::size_t>(max_batch() * NumElements(graph_.values[out].shape));
      int chosen = -1;
      for (std::size_t s = 0; s < slot_size.size(); ++s) {
        // A slot is free once its value's last reader ran before this node.
        if (slot_busy_until[s] < static_cast<int>(i) &&
            (chosen < 0 || slot_size[s] > slot_size[chosen])) {
          chosen = static_cast<int>(s);
        }
      }
      if (chosen < 0) {
        chosen = static_cast<int>(slot_size.size());
        slot_size.push_back(0);
        slot_busy_until.push_back(0);
      }
      slot_size[chosen] = std::max(slot_size[chosen], need);
      slot_busy_until[chosen] = last_use[out];
      slot_of_[out] = chosen;
    }
    slots_.resize(slot_size.size());
    for (std::size_t s = 0; s < slots_.size(); ++s) slots_[s].assign(slot_size[s], 0.0f);
  }

  float* Slot(ValueId id) { return slots_[slot_of_[id]].data(); }
  const float* Data(ValueId id, const float* input) {
    return id == graph_.input ? input : slots_[slot_of_[id]].data();
  }

  static void Conv(const Conv2DAttrs& conv, const float* in, const Shape& in_shape, float* out,
                   const Shape& out_shape, int batch) {
    const std::int64_t in_c = in_shape[0], in_h = in_shape[1], in_w = in_shape[2];
    const std::int64_t out_c = out_shape[0], out_h = out_shape[1], out_w = out_shape[2];
    const std::int64_t group_in = in_c / conv.groups, group_out = out_c / conv.groups;
    const std::int64_t kh = conv.kernel[0], kw = conv.kernel[1];
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; ++n) {
      for (std::int64_t oc = 0; oc < out_c; ++oc) {
        float* plane = out + (n * out_c + oc) * out_h * out_w;
        std::fill_n(plane, out_h * out_w, conv.bias.empty() ? 0.0f : conv.bias[oc]);
        const std::int64_t group = oc / group_out;
        for (std::int64_t ic = 0; ic < group_in; ++ic) {
          const float* in_plane = in + (n * in_c + group * group_in + ic) * in_h * in_w;
          for (std::int64_t y = 0; y < kh; ++y) {
            for (std::int64_t x = 0; x < kw; ++x) {
              const float w = conv.weight[((oc * group_in + ic) * kh + y) * kw + x];
              for (std::int64_t oh = 0; oh < out_h; ++oh) {
                const std::int64_t ih = oh * conv.stride[0] - conv.pads[0] + y * conv.dilation[0];
                if (ih < 0 || ih >= in_h) continue;
                const float* row = in_plane + ih * in_w;
                float* out_row = plane + oh * out_w;
                const std::int64_t offset = x * conv.dilation[1] - conv.pads[1];
                for (std::int64_t ow = 0; ow < out_w; ++ow) {
                  const std::int64_t iw = ow * conv.stride[1] + offset;
                  if (iw >= 0 && iw < in_w) out_row[ow] += w * row[iw];
                }
              }
            }
          }
        }
      }
    }
  }

  static void BatchNorm(const BatchNormAttrs& bn, const float* in, const Shape& shape, float* out,
                        int batch) {
    const std::int64_t channels = shape[0], plane = NumElements(shape) / channels;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; ++n) {
      for (std::int64_t c = 0; c < channels; ++c) {
        const double inv = 1.0 / std::sqrt(double{bn.variance[c]} + bn.epsilon);
        const std::int64_t base = (n * channels + c) * plane;
        for (std::int64_t i = 0; i < plane; ++i) {
          out[base + i] =
              static_cast<float>(bn.scale[c] * (in[base + i] - bn.mean[c]) * inv + bn.shift[c]);
        }
      }
    }
  }

  template <typename Function>
  static void Map(const float* in, float* out, std::int64_t count, Function function) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < count; ++i) out[i] = static_cast<float>(function(in[i]));
  }

  // The element of an operand of per-sample shape `shape` (the output's rank, 1 where it
  // broadcasts) read at output index `index` ([batch] + the output's per-sample axes).
  static std::int64_t BroadcastOffset(std::span<const std::int64_t> index, const Shape& shape,
                                      const std::vector<std::int64_t>& strides, bool has_batch) {
    std::int64_t offset = has_batch ? index[0] * NumElements(shape) : 0;
    const std::size_t lead = index.size() - 1 - shape.size();  // the output's extra axes
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] != 1) offset += index[1 + lead + d] * strides[d];
    }
    return offset;
  }

  // out = a OP b with NumPy broadcasting per sample; an operand without a batch axis (a
  // constant) is the same for every sample.
  static void Binary(BinaryKind kind, const float* a, const Shape& a_shape, bool a_has_batch,
                     const float* b, const Shape& b_shape, bool b_has_batch, float* out,
                     const Shape& out_shape, int batch) {
    const std::vector<std::int64_t> a_strides = Strides(a_shape), b_strides = Strides(b_shape);
    ForEachIndex(out_shape, batch, [&](std::span<const std::int64_t> index, std::int64_t flat) {
      out[flat] = static_cast<float>(
          ApplyBinary(kind, a[BroadcastOffset(index, a_shape, a_strides, a_has_batch)],
                      b[BroadcastOffset(index, b_shape, b_strides, b_has_batch)]));
    });
  }

  // Calls visit(index, flat) for every element of [batch] + shape, in row-major order.
  template <typename Visit>
  static void ForEachIndex(const Shape& shape, int batch, Visit visit) {
    Shape full{batch};
    full.insert(full.end(), shape.begin(), shape.end());
    std::vector<std::int64_t> index(full.size(), 0);
    const std::int64_t count = NumElements(full);
    for (std::int64_t flat = 0; flat < count; ++flat) {
      visit(std::span<const std::int64_t>(index), flat);
      for (std::size_t d = full.size(); d-- > 0;) {
        if (++index[d] < full[d]) break;
        index[d] = 0;
      }
    }
  }

  void Concat(const Node& node, const float* input, float* out, int batch) {
    const std::int64_t axis = std::get<AxisAttrs>(node.attrs).axis;
    const Shape& out_shape = graph_.values[node.output].shape;
    const std::int64_t outer =
        batch * NumElements(Shape(out_shape.begin(), out_shape.begin() + axis));
    for (std::int64_t o = 0; o < outer; ++o) {
      for (ValueId id : node.inputs) {
        const Shape& shape = graph_.values[id].shape;
        const std::int64_t block = NumElements(Shape(shape.begin() + axis, shape.end()));
        out = std::copy_n(Data(id, input) + o * block, block, out);
      }
    }
  }

  static void Transpose(const TransposeAttrs& transpose, const float* in, const Shape& in_shape,
                        float* out, const Shape& out_shape, int batch) {
    const std::vector<std::int64_t> in_strides = Strides(in_shape);
    const std::int64_t per_sample = NumElements(in_shape);
    ForEachIndex(out_shape, batch, [&](std::span<const std::int64_t> index, std::int64_t flat) {
      std::int64_t offset = index[0] * per_sample;
      for (std::size_t d = 0; d < transpose.perm.size(); ++d) {
        offset += index[1 + d] * in_strides[transpose.perm[d]];
      }
      out[flat] = in[offset];
    });
  }

  // Products over the last two axes, the leading axes broadcast.
  static void MatMul(const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
                     float* out, const Shape& out_shape, int batch) {
    const std::size_t rank = out_shape.size();
    const std::int64_t m = out_shape[rank - 2], n = out_shape[rank - 1], k = a_shape.back();
    const Shape lead(out_shape.begin(), out_shape.end() - 2);
    const Shape a_lead(a_shape.begin(), a_shape.end() - 2),
        b_lead(b_shape.begin(), b_shape.end() - 2);
    const std::vector<std::int64_t> a_strides = Strides(a_lead), b_strides = Strides(b_lead);
    const std::int64_t a_sample = NumElements(a_shape), b_sample = NumElements(b_shape);
    ForEachIndex(lead, batch, [&](std::span<const std::int64_t> index, std::int64_t flat) {
      const float* a_matrix =
          a + index[0] * a_sample + (BroadcastOffset(index, a_lead, a_strides, false)) * m * k;
      const float* b_matrix =
          b + index[0] * b_sample + (BroadcastOffset(index, b_lead, b_strides, false)) * k * n;
      float* out_matrix = out + flat * m * n;
      for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < n; ++j) {
          double sum = 0.0;
          for (std::int64_t p = 0; p < k; ++p) {
            sum += double{a_matrix[i * k + p]} * b_matrix[p * n + j];
          }
          out_matrix[i * n + j] = static_cast<float>(sum);
        }
      }
    });
  }

  static void Reduce(const ReduceAttrs& reduce, const float* in, const Shape& in_shape, float* out,
                     int batch) {
    Shape kept = in_shape;  // the output with its reduced axes kept as 1: the same bytes
    std::int64_t reduced = 1;
    for (std::int64_t axis : reduce.axes) {
      reduced *= kept[axis];
      kept[axis] = 1;
    }
    const std::vector<std::int64_t> kept_strides = Strides(kept);
    const std::int64_t kept_sample = NumElements(kept);
    std::vector<double> accumulated(
        batch * kept_sample,
        reduce.kind == ReduceKind::kMax ? -std::numeric_limits<double>::infinity() : 0.0);
    ForEachIndex(in_shape, batch, [&](std::span<const std::int64_t> index, std::int64_t flat) {
      double& slot =
          accumulated[index[0] * kept_sample + BroadcastOffset(index, kept, kept_strides, false)];
      slot = reduce.kind == ReduceKind::kMax ? std::max(slot, double{in[flat]}) : slot + in[flat];
    });
    for (std::size_t i = 0; i < accumulated.size(); ++i) {
      out[i] = static_cast<float>(reduce.kind == ReduceKind::kMean ? accumulated[i] / reduced
                                                                   : accumulated[i]);
    }
  }

  static void Pad(const PadAttrs& pad, const float* in, const Shape& in_shape, float* out,
                  const Shape& out_shape, int batch) {
    const std::vector<std::int64_t> in_strides = Strides(in_shape);
    const std::int64_t per_sample = NumElements(in_shape);
    ForEachIndex(out_shape, batch, [&](std::span<const std::int64_t> index, std::int64_t flat) {
      std::int64_t offset = index[0] * per_sample;
      for (std::size_t d = 0; d < in_shape.size(); ++d) {
        const std::int64_t i = index[1 + d] - pad.begin[d];
        if (i < 0 || i >= in_shape[d]) {
          out[flat] = pad.value;
          return;
        }
        offset += i * in_strides[d];
      }
      out[flat] = in[offset];
    });
  }

  static void Gather(const GatherAttrs& gather, const float* in, const Shape& in_shape, float* out,
                     int batch) {
    const std::int64_t outer =
        batch * NumElements(Shape(in_shape.begin(), in_shape.begin() + gather.axis));
    const std::int64_t size = in_shape[gather.axis];
    const std::int64_t inner =
        NumElements(Shape(in_shape.begin() + gather.axis + 1, in_shape.end()));
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t index : gather.indices) {
        out = std::copy_n(in + (o * size + index) * inner, inner, out);
      }
    }
  }

  static void Pool(OpKind op, const PoolAttrs& pool, const float* in, const Shape& in_shape,
                   float* out, const Shape& out_shape, int batch) {
    const std::int64_t channels = in_shape[0], in_h = in_shape[1], in_w = in_shape[2];
    const std::int64_t out_h = out_shape[1], out_w = out_shape[2];
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; ++n) {
      for (std::int64_t c = 0; c < channels; ++c) {
        const float* plane = in + (n * channels + c) * in_h * in_w;
        float* out_plane = out + (n * channels + c) * out_h * out_w;
        for (std::int64_t oh = 0; oh < out_h; ++oh) {
          for (std::int64_t ow = 0; ow < out_w; ++ow) {
            double sum = 0.0;
            float best = -std::numeric_limits<float>::infinity();
            std::int64_t inside = 0, window = 0;
            for (std::int64_t y = 0; y < pool.kernel[0]; ++y) {
              const std::int64_t ih = oh * pool.stride[0] - pool.pads[0] + y;
              for (std::int64_t x = 0; x < pool.kernel[1]; ++x) {
                const std::int64_t iw = ow * pool.stride[1] - pool.pads[1] + x;
                // The window counted for count_include_pad stops at the padded border.
                if (ih < in_h + pool.pads[2] && iw < in_w + pool.pads[3]) ++window;
                if (ih < 0 || ih >= in_h || iw < 0 || iw >= in_w) continue;
                const float v = plane[ih * in_w + iw];
                best = std::max(best, v);
                sum += v;
                ++inside;
              }
            }
            const std::int64_t divisor = pool.count_include_pad ? window : inside;
            out_plane[oh * out_w + ow] =
                op == OpKind::kMaxPool ? best : static_cast<float>(sum / divisor);
          }
        }
      }
    }
  }

  static void GlobalPool(bool max, const float* in, const Shape& shape, float* out, int batch) {
    const std::int64_t channels = shape[0], plane = shape[1] * shape[2];
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; ++n) {
      for (std::int64_t c = 0; c < channels; ++c) {
        const float* p = in + (n * channels + c) * plane;
        out[n * channels + c] =
            max ? *std::max_element(p, p + plane)
                : static_cast<float>(std::accumulate(p, p + plane, 0.0) / plane);
      }
    }
  }

  // The layer applied to each of `rows` rows of `in_features`.
  static void Dense(const DenseAttrs& dense, const float* in, std::int64_t in_features, float* out,
                    std::int64_t rows) {
    const std::int64_t out_features = dense.out_features;
#pragma omp parallel for collapse(2) schedule(static)
    for (std::int64_t n = 0; n < rows; ++n) {
      for (std::int64_t o = 0; o < out_features; ++o) {
        const float* w = dense.weight.data() + o * in_features;
        const float* x = in + n * in_features;
        double sum = dense.bias.empty() ? 0.0 : dense.bias[o];
        for (std::int64_t i = 0; i < in_features; ++i) sum += double{w[i]} * x[i];
        out[n * out_features + o] = static_cast<float>(sum);
      }
    }
  }

  // Softmax over each of `rows` rows of `features`.
  static void Softmax(const float* in, float* out, std::int64_t features, std::int64_t rows) {
    for (std::int64_t n = 0; n < rows; ++n) {
      const float* x = in + n * features;
      float* y = out + n * features;
      const float peak = *std::max_element(x, x + features);
      double total = 0.0;
      for (std::int64_t i = 0; i < features; ++i) total += std::exp(double{x[i]} - peak);
      for (std::int64_t i = 0; i < features; ++i) {
        y[i] = static_cast<float>(std::exp(double{x[i]} - peak) / total);
      }
    }
  }

  Graph graph_;
  int threads_;
  std::vector<int> slot_of_;
  std::vector<std::vector<float>> slots_;
};

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  DeviceKind device_kind() const override { return DeviceKind::kCpu; }
  std::string device_name() const override { return "host CPU (plain loops)"; }
  std::string library_version() const override { return "sonicbench reference"; }
  std::vector<Precision> precisions() const override { return {Precision::kFp32}; }
  // The oracle runs every op of the IR.
  std::string UnsupportedReason(const Graph& /*graph*/, const Node& /*node*/,
                                Precision /*precision*/) const override {
    return {};
  }

 protected:
  std::unique_ptr<Executable> DoCompile(const Graph& graph,
                                        const CompileOptions& options) const override {
    return std::make_unique<ReferenceExecutable>(graph, options);
  }
};

}  // namespace

std::unique_ptr<Backend> MakeReferenceBackend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace sonic
