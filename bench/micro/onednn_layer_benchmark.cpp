// Micro-benchmarks of oneDNN's convolution implementations, layer by layer, on a model's own
// layers: every distinct convolution of the model, every implementation oneDNN offers for it
// (primitive_desc::next_impl), precision, batch and cache state. It shows what the onednn
// backend's choice of kernel costs against the alternatives, and how much of a network's time is
// the memory hierarchy rather than arithmetic: a `hot` case runs on the same operands run after
// run, as a layer timed alone; a `cold` case first sweeps 64 MiB through the caches, as
// ResNet-50's 100 MB of weights are swept on every inference.
//
//   onednn_layer_benchmark [--model=M] [--batches=1,16] [--precisions=fp32,bf16,int8]
//                          [--threads=N] [--benchmark_filter=REGEX] ...
//
// Names read model/precision/batch:N/<layer>/<implementation>/<hot|cold>, the layer as
// ic256_oc256_14x14_k3s1 (input channels, output channels, input size, kernel, stride). The label
// says whether the implementation's source layout is blocked or plain. Counters:
// - GFLOP/s: 2 x the layer's MACs per run over the timed seconds (the execute and its wait, not
//   the sweep);
// - layers: how many layers of the model have this shape;
// - default: 1 for the implementation the onednn backend picks (Winograd first for fp32 3x3
//   stride-1 layers in the blocked layout, then oneDNN's first choice), by the backend's own rules
//   (backends/onednn/onednn_choices.h).
// Every case uses the backend's activation layouts, so the alternatives timed are ones the
// backend could swap in without a reorder between layers.
// Winograd is timed wherever oneDNN has it, int8 included, default or not. Operands are seeded
// uniform values in the precision's types (fp32; bf16; u8 activations and s8 weights); every
// layer has a bias and a fused ReLU, int8 per-channel output scales. oneDNN's reference
// implementations (`ref:`) are left out: they run scalar loops for seconds per layer.
// The benchmark runs cases one at a time; each case owns its oneDNN objects.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "backends/onednn/onednn_choices.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/random.h"
#include "models/zoo.h"

namespace sonic {
namespace {

using dnnl::memory;
using DataT = memory::data_type;
using Tag = memory::format_tag;

// One distinct convolution of the model, per sample; `layers` counts its occurrences.
struct Layer {
  std::int64_t in_channels, out_channels, height, width, groups;
  std::array<std::int64_t, 2> kernel, stride, dilation;
  std::array<std::int64_t, 4> pads;
  int layers = 0;

  auto Key() const {
    return std::make_tuple(in_channels, out_channels, height, width, groups, kernel, stride,
                           dilation, pads);
  }
  std::int64_t OutputSize(int axis) const {
    const std::int64_t in = axis == 0 ? height : width;
    return (in + pads[axis] + pads[axis + 2] - dilation[axis] * (kernel[axis] - 1) - 1) /
               stride[axis] +
           1;
  }
  // The layer's Conv2DAttrs without weights, for the backend's rules (onednn_choices.h).
  Conv2DAttrs Geometry() const {
    Conv2DAttrs conv;
    conv.out_channels = out_channels;
    conv.kernel = kernel;
    conv.stride = stride;
    conv.dilation = dilation;
    conv.pads = pads;
    conv.groups = groups;
    return conv;
  }
  std::int64_t MacsPerSample() const {
    return out_channels * OutputSize(0) * OutputSize(1) * (in_channels / groups) * kernel[0] *
           kernel[1];
  }
  // ic256_oc256_14x14_k3s1; a non-square kernel or stride reads k3x1 or s1x2, and groups,
  // dilation and pads other than kernel / 2 on every side are appended (g2, d2, p1_1_0_0), so
  // that distinct layers never share a name.
  std::string Name() const {
    const auto pair = [](const std::array<std::int64_t, 2>& v) {
      return v[0] == v[1] ? fmt::format("{}", v[0]) : fmt::format("{}x{}", v[0], v[1]);
    };
    std::string name = fmt::format("ic{}_oc{}_{}x{}_k{}s{}", in_channels, out_channels, height,
                                   width, pair(kernel), pair(stride));
    if (groups != 1) name += fmt::format("g{}", groups);
    if (dilation != std::array<std::int64_t, 2>{1, 1}) name += fmt::format("d{}", pair(dilation));
    const std::array<std::int64_t, 4> same{kernel[0] / 2, kernel[1] / 2, kernel[0] / 2,
                                           kernel[1] / 2};
    if (pads != same) name += fmt::format("p{}_{}_{}_{}", pads[0], pads[1], pads[2], pads[3]);
    return name;
  }
};

std::vector<Layer> ConvolutionLayers(const Graph& graph) {
  std::map<decltype(std::declval<Layer>().Key()), Layer> distinct;
  std::vector<Layer> in_order;
  for (const Node& node : graph.nodes) {
    if (node.op != OpKind::kConv2D) continue;
    const auto& conv = std::get<Conv2DAttrs>(node.attrs);
    const Shape& in = graph.values[node.inputs[0]].shape;
    Layer layer{in[0],       conv.out_channels, in[1],         in[2],    conv.groups,
                conv.kernel, conv.stride,       conv.dilation, conv.pads};
    auto [it, inserted] = distinct.try_emplace(layer.Key(), layer);
    ++it->second.layers;
    if (inserted) in_order.push_back(layer);
  }
  for (Layer& layer : in_order) layer.layers = distinct.at(layer.Key()).layers;
  return in_order;
}

struct Types {
  DataT src, weights, dst;
};

Types TypesOf(Precision precision) {
  switch (precision) {
    case Precision::kFp32:
      return {DataT::f32, DataT::f32, DataT::f32};
    case Precision::kBf16:
      return {DataT::bf16, DataT::bf16, DataT::bf16};
    case Precision::kInt8:
      return {DataT::u8, DataT::s8, DataT::u8};
    default:
      Throw(ErrorKind::kInvalidArgument, "precision {}: expected fp32, bf16 or int8",
            PrecisionName(precision));
  }
}

// The convolution's primitive descriptor for `algorithm`, positioned on oneDNN's first choice;
// nullopt where oneDNN implements none.
std::optional<dnnl::convolution_forward::primitive_desc> FirstImplementation(
    const Layer& layer, Precision precision, int batch, dnnl::algorithm algorithm,
    const dnnl::engine& engine) {
  const Types types = TypesOf(precision);
  const memory::desc src({batch, layer.in_channels, layer.height, layer.width}, types.src,
                         OneDnnActivationTag(precision, layer.in_channels));
  const memory::desc dst({batch, layer.out_channels, layer.OutputSize(0), layer.OutputSize(1)},
                         types.dst, OneDnnActivationTag(precision, layer.out_channels));
  const memory::dims weight_dims =
      layer.groups == 1
          ? memory::dims{layer.out_channels, layer.in_channels, layer.kernel[0], layer.kernel[1]}
          : memory::dims{layer.groups, layer.out_channels / layer.groups,
                         layer.in_channels / layer.groups, layer.kernel[0], layer.kernel[1]};
  const memory::desc weights(weight_dims, types.weights, Tag::any);
  const memory::desc bias({layer.out_channels}, DataT::f32, Tag::a);
  dnnl::post_ops post_ops;
  post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(post_ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (precision == Precision::kInt8) {
    attr.set_output_scales(1 << 1, std::vector<float>(layer.out_channels, 1.0f / 64));
  }
  try {
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, algorithm, src, weights, bias, dst,
        {layer.stride[0], layer.stride[1]}, {layer.dilation[0] - 1, layer.dilation[1] - 1},
        {layer.pads[0], layer.pads[1]}, {layer.pads[2], layer.pads[3]});
    return dnnl::convolution_forward::primitive_desc(desc, attr, engine);
  } catch (const dnnl::error& e) {
    if (e.status != dnnl_unimplemented) throw;
    return std::nullopt;
  }
}

// Seeded uniform values in [0, 2) (activations) or [-1, 1) (weights), reordered from a plain
// fp32 tensor into the implementation's layout and data type.
memory Filled(const memory::desc& desc, bool is_weights, std::uint64_t seed,
              const dnnl::engine& engine, dnnl::stream& stream) {
  const memory::dims dims = desc.dims();
  const Tag plain = dims.size() == 4 ? Tag::abcd : dims.size() == 5 ? Tag::abcde : Tag::a;
  memory source({dims, DataT::f32, plain}, engine);
  auto* values = static_cast<float*>(source.get_data_handle());
  Random random(seed);
  for (std::size_t i = 0; i < source.get_desc().get_size() / sizeof(float); ++i) {
    const auto u = static_cast<float>(random.Uniform());
    values[i] = is_weights ? 2.0f * u - 1.0f : 2.0f * u;
  }
  memory target(desc, engine);
  dnnl::reorder(source, target).execute(stream, source, target);
  stream.wait();
  return target;
}

// Writes to every cache line of a buffer larger than the last-level cache, so that the next run
// finds its weights and activations in memory.
void SweepCaches() {
  static std::vector<char> sweep(std::size_t{64} << 20);
  for (std::size_t i = 0; i < sweep.size(); i += 64) ++sweep[i];
  benchmark::DoNotOptimize(sweep.data());
}

struct Case {
  Layer layer;
  Precision precision;
  int batch;
  dnnl::algorithm algorithm;
  int implementation;  // position in oneDNN's list for the algorithm
  bool is_default;
  bool cold;
};

void TimeCase(benchmark::State& state, const Case& c) {
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  auto pd = FirstImplementation(c.layer, c.precision, c.batch, c.algorithm, engine);
  for (int i = 0; i < c.implementation; ++i) pd->next_impl();
  const memory src = Filled(pd->src_desc(), false, 1, engine, stream);
  const memory weights = Filled(pd->weights_desc(), true, 2, engine, stream);
  const memory bias = Filled(pd->bias_desc(), true, 3, engine, stream);
  const memory dst(pd->dst_desc(), engine);
  const memory scratchpad(pd->scratchpad_desc(), engine);
  const dnnl::convolution_forward convolution(*pd);
  const std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                             {DNNL_ARG_WEIGHTS, weights},
                                             {DNNL_ARG_BIAS, bias},
                                             {DNNL_ARG_DST, dst},
                                             {DNNL_ARG_SCRATCHPAD, scratchpad}};
  convolution.execute(stream, args);  // warm-up: first-touch pages, the kernel's code
  stream.wait();
  for (auto _ : state) {
    if (c.cold) SweepCaches();
    const auto start = std::chrono::steady_clock::now();
    convolution.execute(stream, args);
    stream.wait();
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const double flop_per_run = 2.0 * static_cast<double>(c.layer.MacsPerSample()) * c.batch;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flop_per_run * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
  state.counters["layers"] = c.layer.layers;
  state.counters["default"] = c.is_default ? 1 : 0;
  const auto& blocking = pd->src_desc().data.format_desc.blocking;
  state.SetLabel(blocking.inner_nblks > 0 ? "src blocked" : "src plain");
}

void RunCase(benchmark::State& state, const Case& c) {
  try {
    TimeCase(state, c);
  } catch (const dnnl::error& e) {
    state.SkipWithError(
        fmt::format("oneDNN: {} ({})", e.what(), static_cast<int>(e.status)).c_str());
  }
}

struct Flags {
  std::string model = "resnet50";
  std::vector<int> batches{1, 16};
  std::vector<Precision> precisions{Precision::kFp32, Precision::kBf16, Precision::kInt8};
  int threads = 0;
};

// Removes this program's flags from argv (Google Benchmark rejects unknown flags).
Flags TakeFlags(int& argc, char** argv) {
  Flags flags;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&](std::string_view flag) { return arg.substr(flag.size()); };
    if (arg.starts_with("--model=")) {
      flags.model = value("--model=");
    } else if (arg.starts_with("--batches=")) {
      flags.batches.clear();
      for (const std::string& part : SplitList(value("--batches="), "--batches")) {
        flags.batches.push_back(static_cast<int>(ParseIntInRange(part, "--batches", 1, 1 << 20)));
      }
    } else if (arg.starts_with("--precisions=")) {
      flags.precisions.clear();
      for (const std::string& part : SplitList(value("--precisions="), "--precisions")) {
        flags.precisions.push_back(ParsePrecision(part));
        TypesOf(flags.precisions.back());  // rejects precisions oneDNN has no kernels for here
      }
    } else if (arg.starts_with("--threads=")) {
      flags.threads = static_cast<int>(ParseIntInRange(value("--threads="), "--threads", 0, 4096));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return flags;
}

// Registers every case and returns how many.
int RegisterCases(const Flags& flags) {
  int registered = 0;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const std::vector<Layer> layers = ConvolutionLayers(BuildModel(flags.model));
  for (Precision precision : flags.precisions) {
    for (int batch : flags.batches) {
      for (const Layer& layer : layers) {
        const dnnl::algorithm default_algorithm =
            OneDnnTriesWinograd(precision, layer.Geometry(), layer.in_channels) &&
                    FirstImplementation(layer, precision, batch,
                                        dnnl::algorithm::convolution_winograd, engine)
                ? dnnl::algorithm::convolution_winograd
                : dnnl::algorithm::convolution_direct;
        for (dnnl::algorithm algorithm :
             {dnnl::algorithm::convolution_winograd, dnnl::algorithm::convolution_direct}) {
          if (algorithm == dnnl::algorithm::convolution_winograd &&
              !IsWinogradShape(layer.Geometry())) {
            continue;
          }
          auto pd = FirstImplementation(layer, precision, batch, algorithm, engine);
          if (!pd) continue;
          bool is_default = algorithm == default_algorithm;
          int implementation = 0;
          do {
            const std::string impl = pd->impl_info_str();
            // Reference kernels are only worth timing where they are what the backend runs: a
            // CPU (or architecture) for which oneDNN has no optimised kernel for the layer.
            if (!impl.starts_with("ref") || implementation == 0) {
              for (bool cold : {false, true}) {
                const Case c{layer, precision, batch, algorithm, implementation, is_default, cold};
                const std::string name =
                    fmt::format("{}/{}/batch:{}/{}/{}/{}", flags.model, PrecisionName(precision),
                                batch, layer.Name(), impl, cold ? "cold" : "hot");
                benchmark::RegisterBenchmark(name.c_str(),
                                             [c](benchmark::State& state) { RunCase(state, c); })
                    ->UseManualTime()
                    ->Unit(benchmark::kMillisecond);
                ++registered;
              }
              is_default = false;
            }
            ++implementation;
          } while (pd->next_impl());
        }
      }
    }
  }
  return registered;
}

}  // namespace
}  // namespace sonic

int main(int argc, char** argv) {
  try {
    const sonic::Flags flags = sonic::TakeFlags(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    omp_set_num_threads(flags.threads > 0 ? flags.threads : omp_get_num_procs());
    if (sonic::RegisterCases(flags) == 0) {
      fmt::print(stderr,
                 "onednn_layer_benchmark: oneDNN implements none of {}'s convolutions here\n",
                 flags.model);
      return 2;
    }
  } catch (const sonic::Error& e) {
    fmt::print(stderr, "onednn_layer_benchmark: {}\n", e.what());
    return 2;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
