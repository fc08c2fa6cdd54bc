#include "backends/reference/reference_backend.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
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
    const float* in_data = input;
    for (const Node& node : graph_.nodes) {
      const float* a = Data(node.inputs[0], input);
      float* out = Slot(node.output);
      const Shape& in_shape = graph_.values[node.inputs[0]].shape;
      const Shape& out_shape = graph_.values[node.output].shape;
      switch (node.op) {
        case OpKind::kConv2D:
          Conv(std::get<Conv2DAttrs>(node.attrs), a, in_shape, out, out_shape, batch);
          break;
        case OpKind::kBatchNorm:
          BatchNorm(std::get<BatchNormAttrs>(node.attrs), a, in_shape, out, batch);
          break;
        case OpKind::kRelu:
          Elementwise(a, nullptr, out, batch * NumElements(out_shape), true);
          break;
        case OpKind::kAdd:
          Elementwise(a, Data(node.inputs[1], input), out, batch * NumElements(out_shape), false);
          break;
        case OpKind::kMaxPool:
        case OpKind::kAveragePool:
          Pool(node.op, std::get<PoolAttrs>(node.attrs), a, in_shape, out, out_shape, batch);
          break;
        case OpKind::kGlobalAveragePool:
          GlobalAveragePool(a, in_shape, out, batch);
          break;
        case OpKind::kFlatten:
          std::copy_n(a, batch * NumElements(out_shape), out);
          break;
        case OpKind::kDense:
          Dense(std::get<DenseAttrs>(node.attrs), a, in_shape[0], out, batch);
          break;
        case OpKind::kSoftmax:
          Softmax(a, out, in_shape[0], batch);
          break;
      }
    }
    const float* result = Data(graph_.output, in_data);
    std::copy_n(result, batch * NumElements(graph_.output_shape()), output);
    if (timing != nullptr) *timing = {};
  }

 private:
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
    const std::int64_t channels = shape[0], plane = shape[1] * shape[2];
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

  static void Elementwise(const float* a, const float* b, float* out, std::int64_t count,
                          bool relu) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < count; ++i) {
      out[i] = relu ? std::max(a[i], 0.0f) : a[i] + b[i];
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

  static void GlobalAveragePool(const float* in, const Shape& shape, float* out, int batch) {
    const std::int64_t channels = shape[0], plane = shape[1] * shape[2];
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; ++n) {
      for (std::int64_t c = 0; c < channels; ++c) {
        const float* p = in + (n * channels + c) * plane;
        double sum = 0.0;
        for (std::int64_t i = 0; i < plane; ++i) sum += p[i];
        out[n * channels + c] = static_cast<float>(sum / plane);
      }
    }
  }

  static void Dense(const DenseAttrs& dense, const float* in, std::int64_t in_features, float* out,
                    int batch) {
    const std::int64_t out_features = dense.out_features;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; ++n) {
      for (std::int64_t o = 0; o < out_features; ++o) {
        const float* w = dense.weight.data() + o * in_features;
        const float* x = in + n * in_features;
        double sum = dense.bias.empty() ? 0.0 : dense.bias[o];
        for (std::int64_t i = 0; i < in_features; ++i) sum += double{w[i]} * x[i];
        out[n * out_features + o] = static_cast<float>(sum);
      }
    }
  }

  static void Softmax(const float* in, float* out, std::int64_t features, int batch) {
    for (int n = 0; n < batch; ++n) {
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

 protected:
  std::unique_ptr<Executable> DoCompile(const Graph& graph,
                                        const CompileOptions& options) const override {
    return std::make_unique<ReferenceExecutable>(graph, options);
  }
};

}  // namespace

std::unique_ptr<Backend> MakeReferenceBackend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace sonic
