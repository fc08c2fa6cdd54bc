#include "models/zoo.h"

#include <cmath>
#include <utility>

#include "core/error.h"
#include "core/random.h"

namespace sonic {
namespace {

// Appends layers with seeded parameters. Names follow torchvision's module names so that an
// imported torchvision export reads the same.
class GraphBuilder {
 public:
  GraphBuilder(std::string name, Shape input_shape, std::uint64_t seed) : random_(seed) {
    graph_.name = std::move(name);
    graph_.input = graph_.AddValue("input", std::move(input_shape));
  }

  ValueId input() const { return graph_.input; }

  ValueId Conv(const std::string& name, ValueId in, std::int64_t in_channels,
               std::int64_t out_channels, std::int64_t kernel, std::int64_t stride,
               std::int64_t pad) {
    Conv2DAttrs conv;
    conv.out_channels = out_channels;
    conv.kernel = {kernel, kernel};
    conv.stride = {stride, stride};
    conv.pads = {pad, pad, pad, pad};
    conv.weight =
        HeNormal(out_channels * in_channels * kernel * kernel, in_channels * kernel * kernel);
    return graph_.AddNode(name, OpKind::kConv2D, {in}, std::move(conv));
  }

  // Batch norm with statistics away from the identity. `gain` scales the learned scale: the last
  // batch norm of a residual branch gets a small one, as trained ResNets have, so that activations
  // stay O(1) through 16 residual additions.
  ValueId BatchNorm(const std::string& name, ValueId in, std::int64_t channels, double gain = 1.0) {
    BatchNormAttrs bn;
    bn.epsilon = 1e-5f;
    for (std::int64_t c = 0; c < channels; ++c) {
      bn.scale.push_back(static_cast<float>(gain * random_.Uniform(0.5, 1.5)));
      bn.shift.push_back(static_cast<float>(random_.Normal(0.0, 0.1)));
      bn.mean.push_back(static_cast<float>(random_.Normal(0.0, 0.1)));
      bn.variance.push_back(static_cast<float>(random_.Uniform(0.5, 2.0)));
    }
    return graph_.AddNode(name, OpKind::kBatchNorm, {in}, std::move(bn));
  }

  ValueId ConvBnRelu(const std::string& prefix, const std::string& conv_name,
                     const std::string& bn_name, ValueId in, std::int64_t in_channels,
                     std::int64_t out_channels, std::int64_t kernel, std::int64_t stride,
                     std::int64_t pad) {
    ValueId x = Conv(prefix + conv_name, in, in_channels, out_channels, kernel, stride, pad);
    x = BatchNorm(prefix + bn_name, x, out_channels);
    return Relu(prefix + "relu_" + conv_name, x);
  }

  ValueId Relu(const std::string& name, ValueId in) {
    return graph_.AddNode(name, OpKind::kRelu, {in});
  }

  ValueId Add(const std::string& name, ValueId a, ValueId b) {
    return graph_.AddNode(name, OpKind::kAdd, {a, b});
  }

  ValueId Pool(const std::string& name, OpKind op, ValueId in, std::int64_t kernel,
               std::int64_t stride, std::int64_t pad) {
    PoolAttrs pool;
    pool.kernel = {kernel, kernel};
    pool.stride = {stride, stride};
    pool.pads = {pad, pad, pad, pad};
    return graph_.AddNode(name, op, {in}, pool);
  }

  ValueId GlobalAveragePool(const std::string& name, ValueId in) {
    return graph_.AddNode(name, OpKind::kGlobalAveragePool, {in});
  }

  ValueId Flatten(const std::string& name, ValueId in) {
    return graph_.AddNode(name, OpKind::kFlatten, {in});
  }

  ValueId Dense(const std::string& name, ValueId in, std::int64_t in_features,
                std::int64_t out_features) {
    DenseAttrs dense;
    dense.out_features = out_features;
    dense.weight = HeNormal(out_features * in_features, in_features);
    for (std::int64_t i = 0; i < out_features; ++i) {
      dense.bias.push_back(static_cast<float>(random_.Normal(0.0, 0.1)));
    }
    return graph_.AddNode(name, OpKind::kDense, {in}, std::move(dense));
  }

  ValueId Softmax(const std::string& name, ValueId in) {
    return graph_.AddNode(name, OpKind::kSoftmax, {in});
  }

  Graph Finish(ValueId output) {
    graph_.output = output;
    InferShapes(graph_);
    return std::move(graph_);
  }

 private:
  std::vector<float> HeNormal(std::int64_t count, std::int64_t fan_in) {
    const double stddev = std::sqrt(2.0 / static_cast<double>(fan_in));
    std::vector<float> weights(count);
    for (float& w : weights) w = static_cast<float>(random_.Normal(0.0, stddev));
    return weights;
  }

  Graph graph_;
  Random random_;
};

std::int64_t ClassesOr(const ModelOptions& options, std::int64_t fallback) {
  if (options.num_classes < 0) {
    Throw(ErrorKind::kInvalidArgument, "number of classes {} must be positive",
          options.num_classes);
  }
  return options.num_classes == 0 ? fallback : options.num_classes;
}

ValueId Classifier(GraphBuilder& b, ValueId x, std::int64_t features, std::int64_t classes,
                   bool softmax) {
  x = b.GlobalAveragePool("avgpool", x);
  x = b.Flatten("flatten", x);
  x = b.Dense("fc", x, features, classes);
  return softmax ? b.Softmax("softmax", x) : x;
}

// torchvision's stem: 7x7/2 convolution, batch norm, ReLU, 3x3/2 max pool.
ValueId Stem(GraphBuilder& b) {
  ValueId x = b.ConvBnRelu("", "conv1", "bn1", b.input(), 3, 64, 7, 2, 3);
  return b.Pool("maxpool", OpKind::kMaxPool, x, 3, 2, 1);
}

ValueId Shortcut(GraphBuilder& b, const std::string& prefix, ValueId in, std::int64_t in_channels,
                 std::int64_t out_channels, std::int64_t stride) {
  if (stride == 1 && in_channels == out_channels) return in;
  ValueId s = b.Conv(prefix + "downsample.0", in, in_channels, out_channels, 1, stride, 0);
  return b.BatchNorm(prefix + "downsample.1", s, out_channels, 0.5);
}

ValueId Bottleneck(GraphBuilder& b, const std::string& prefix, ValueId in, std::int64_t in_channels,
                   std::int64_t width, std::int64_t stride) {
  const std::int64_t out_channels = width * 4;
  ValueId x = b.ConvBnRelu(prefix, "conv1", "bn1", in, in_channels, width, 1, 1, 0);
  x = b.ConvBnRelu(prefix, "conv2", "bn2", x, width, width, 3, stride, 1);  // v1.5
  x = b.Conv(prefix + "conv3", x, width, out_channels, 1, 1, 0);
  x = b.BatchNorm(prefix + "bn3", x, out_channels, 0.2);
  const ValueId shortcut = Shortcut(b, prefix, in, in_channels, out_channels, stride);
  return b.Relu(prefix + "relu", b.Add(prefix + "add", x, shortcut));
}

ValueId BasicBlock(GraphBuilder& b, const std::string& prefix, ValueId in, std::int64_t in_channels,
                   std::int64_t width, std::int64_t stride) {
  ValueId x = b.ConvBnRelu(prefix, "conv1", "bn1", in, in_channels, width, 3, stride, 1);
  x = b.Conv(prefix + "conv2", x, width, width, 3, 1, 1);
  x = b.BatchNorm(prefix + "bn2", x, width, 0.3);
  const ValueId shortcut = Shortcut(b, prefix, in, in_channels, width, stride);
  return b.Relu(prefix + "relu", b.Add(prefix + "add", x, shortcut));
}

}  // namespace

const std::vector<ModelInfo>& BuiltinModels() {
  static const std::vector<ModelInfo> models{
      {"resnet50", "ResNet-50 v1.5 (the paper's model), 4.09 GMAC per image", {3, 224, 224}, 1000},
      {"resnet18", "ResNet-18, 1.82 GMAC per image", {3, 224, 224}, 1000},
      {"jet_cnn", "small jet-tagging CNN on 40x40 jet images (top vs QCD)", {1, 40, 40}, 2},
  };
  return models;
}

Graph BuildModel(std::string_view name, const ModelOptions& options) {
  if (name == "resnet50") return BuildResNet50(options);
  if (name == "resnet18") return BuildResNet18(options);
  if (name == "jet_cnn") return BuildJetCnn(options);
  std::string known;
  for (const ModelInfo& info : BuiltinModels()) known += (known.empty() ? "" : ", ") + info.name;
  Throw(ErrorKind::kNotFound, "unknown model '{}': expected one of {} (or --onnx FILE)", name,
        known);
}

Graph BuildResNet50(const ModelOptions& options) {
  GraphBuilder b("resnet50", {3, 224, 224}, options.seed);
  ValueId x = Stem(b);
  std::int64_t channels = 64;
  const std::int64_t blocks[] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    const std::int64_t width = 64 << stage;
    for (std::int64_t i = 0; i < blocks[stage]; ++i) {
      const std::int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
      x = Bottleneck(b, fmt::format("layer{}.{}.", stage + 1, i), x, channels, width, stride);
      channels = width * 4;
    }
  }
  return b.Finish(Classifier(b, x, channels, ClassesOr(options, 1000), options.softmax));
}

Graph BuildResNet18(const ModelOptions& options) {
  GraphBuilder b("resnet18", {3, 224, 224}, options.seed);
  ValueId x = Stem(b);
  std::int64_t channels = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const std::int64_t width = 64 << stage;
    for (int i = 0; i < 2; ++i) {
      const std::int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
      x = BasicBlock(b, fmt::format("layer{}.{}.", stage + 1, i), x, channels, width, stride);
      channels = width;
    }
  }
  return b.Finish(Classifier(b, x, channels, ClassesOr(options, 1000), options.softmax));
}

Graph BuildJetCnn(const ModelOptions& options) {
  GraphBuilder b("jet_cnn", {1, 40, 40}, options.seed);
  ValueId x = b.ConvBnRelu("block1.", "conv", "bn", b.input(), 1, 16, 3, 1, 1);
  x = b.Pool("block1.pool", OpKind::kMaxPool, x, 2, 2, 0);  // 20x20
  x = b.ConvBnRelu("block2.", "conv", "bn", x, 16, 32, 3, 1, 1);
  x = b.Pool("block2.pool", OpKind::kMaxPool, x, 2, 2, 0);  // 10x10
  x = b.ConvBnRelu("block3.", "conv", "bn", x, 32, 64, 3, 1, 1);
  x = b.Pool("block3.pool", OpKind::kAveragePool, x, 2, 2, 0);  // 5x5
  x = b.Flatten("flatten", x);
  x = b.Dense("fc1", x, std::int64_t{64} * 5 * 5, 64);
  x = b.Relu("fc1.relu", x);
  x = b.Dense("fc2", x, 64, ClassesOr(options, 2));
  return b.Finish(options.softmax ? b.Softmax("softmax", x) : x);
}

}  // namespace sonic
