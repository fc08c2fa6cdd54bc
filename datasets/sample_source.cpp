#include "datasets/sample_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/hdf5.h"
#include "datasets/image_ops.h"
#include "datasets/nova.h"
#include "datasets/top_tagging.h"

namespace sonic {

std::string DetectDatasetKind(const std::string& path) {
  const h5::Handle file = h5::OpenFileForReading(path);
  const std::string tag = h5::ReadStringAttribute(file.get(), "sonic_dataset").value_or("");
  if (tag == "nova" || tag == "images") return tag;
  if (h5::Exists(file.get(), "/table/table")) return "top-tagging";
  Throw(ErrorKind::kInvalidArgument,
        "{}: not a dataset sonicbench knows (expected a top-tagging pandas table under key "
        "'table', a NOvA event file or a cached image set)",
        path);
}

ImageSet LoadImages(const std::string& path, const Shape& sample_shape,
                    const JetImageOptions& jet_options, std::int64_t max_samples) {
  if (sample_shape.size() != 3) {
    Throw(ErrorKind::kUnsupported, "dataset inputs are [C, H, W] images; the model wants {}",
          ShapeToString(sample_shape));
  }
  const std::string kind = DetectDatasetKind(path);
  const std::size_t floats = static_cast<std::size_t>(NumElements(sample_shape));
  ImageSet set;
  set.kind = kind;
  set.source = path;
  set.sample_shape = sample_shape;
  if (kind == "top-tagging") {
    const std::vector<Jet> jets = ReadTopTaggingFile(path, 0, max_samples);
    JetImageOptions options = jet_options;
    options.channels = sample_shape[0];
    options.height = sample_shape[1];
    options.width = sample_shape[2];
    JetImager imager(options);
    set.images.resize(jets.size() * floats);
    for (std::size_t i = 0; i < jets.size(); ++i) {
      imager.Make(jets[i].constituents, std::span(set.images).subspan(i * floats, floats));
      set.labels.push_back(jets[i].is_signal ? 1 : 0);
    }
    set.preprocessing = DescribeJetImageOptions(options);
    set.class_names = "qcd,top";
  } else if (kind == "nova") {
    const std::vector<NovaEvent> events = ReadNovaFile(path, 0, max_samples);
    set.images.resize(events.size() * floats);
    for (std::size_t i = 0; i < events.size(); ++i) {
      NovaToImage(events[i], sample_shape, std::span(set.images).subspan(i * floats, floats));
      set.labels.push_back(static_cast<std::int32_t>(events[i].label));
    }
    set.preprocessing =
        fmt::format("{} from 100x80 XZ/YZ views: {}, scaled by the event's peak cell, bilinear",
                    ShapeToString(sample_shape),
                    sample_shape[0] == 3 ? "channels XZ, YZ, mean" : "mean of the views");
    set.class_names = std::string(kNovaClassNames);
  } else {
    ImageSet cached = ReadImageSet(path, max_samples);
    if (cached.sample_shape == sample_shape) return cached;
    set.kind = cached.kind;
    set.class_names = cached.class_names;
    set.labels = cached.labels;
    set.images.resize(cached.labels.size() * floats);
    for (std::int64_t i = 0; i < cached.size(); ++i) {
      ConvertImage(cached.Image(i), cached.sample_shape,
                   std::span(set.images).subspan(i * floats, floats), sample_shape);
    }
    set.preprocessing = fmt::format("{}; converted from {} (bilinear)", cached.preprocessing,
                                    ShapeToString(cached.sample_shape));
  }
  return set;
}

DatasetInputSource::DatasetInputSource(const std::string& path, const Shape& sample_shape,
                                       std::int64_t max_samples, const JetImageOptions& jet_options)
    : path_(path), set_(LoadImages(path, sample_shape, jet_options, max_samples)) {
  if (set_.size() == 0)
    Throw(ErrorKind::kInvalidArgument, "{}: the dataset holds no samples", path);
}

std::string DatasetInputSource::name() const {
  return fmt::format("dataset:{} ({}, {} samples {}, {})", path_, set_.kind, set_.size(),
                     ShapeToString(set_.sample_shape), set_.preprocessing);
}

void DatasetInputSource::Sample(std::int64_t index, std::span<float> out) const {
  const std::span<const float> image = set_.Image(index % set_.size());
  if (out.size() != image.size()) {
    Throw(ErrorKind::kInvalidArgument, "input buffer holds {} floats; the dataset's samples {}",
          out.size(), image.size());
  }
  std::copy(image.begin(), image.end(), out.begin());
}

RawFloatInputSource::RawFloatInputSource(const std::string& path, const Shape& sample_shape)
    : path_(path), sample_shape_(sample_shape), sample_floats_(NumElements(sample_shape)) {
  std::error_code error;
  const auto bytes = std::filesystem::file_size(path, error);
  if (error) Throw(ErrorKind::kNotFound, "{}: cannot read ({})", path, error.message());
  const auto sample_bytes = static_cast<std::uintmax_t>(sample_floats_) * sizeof(float);
  if (bytes == 0 || bytes % sample_bytes != 0) {
    Throw(ErrorKind::kInvalidArgument,
          "{}: {} bytes is not a whole number of float32 samples of shape {} ({} bytes each); "
          "expected raw float32 in C order, samples back to back, or an HDF5 dataset file",
          path, bytes, ShapeToString(sample_shape), sample_bytes);
  }
  values_.resize(bytes / sizeof(float));
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(values_.data()), static_cast<std::streamsize>(bytes))) {
    Throw(ErrorKind::kInternal, "{}: read failed", path);
  }
}

std::string RawFloatInputSource::name() const {
  return fmt::format("raw:{} ({} float32 samples {})", path_, size(), ShapeToString(sample_shape_));
}

void RawFloatInputSource::Sample(std::int64_t index, std::span<float> out) const {
  if (static_cast<std::int64_t>(out.size()) != sample_floats_) {
    Throw(ErrorKind::kInvalidArgument, "input buffer holds {} floats; the file's samples {}",
          out.size(), sample_floats_);
  }
  const auto first = values_.begin() + (index % size()) * sample_floats_;
  std::copy(first, first + sample_floats_, out.begin());
}

void WriteRawFloats(const std::string& path, std::span<const float> values) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size_bytes()));
  if (!out.flush()) Throw(ErrorKind::kInvalidArgument, "{}: cannot write", path);
}

bool IsHdf5File(const std::string& path) {
  constexpr std::array<char, 8> kSignature{'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::array<char, 8> head{};
  std::ifstream in(path, std::ios::binary);
  return in.read(head.data(), head.size()) && head == kSignature;
}

std::shared_ptr<const InputSource> OpenInputSource(const std::string& inputs,
                                                   const Shape& sample_shape, std::uint64_t seed) {
  if (inputs == "random") return std::make_shared<RandomInputSource>(seed);
  if (IsHdf5File(inputs)) return std::make_shared<DatasetInputSource>(inputs, sample_shape);
  return std::make_shared<RawFloatInputSource>(inputs, sample_shape);
}

std::string RandomCalibrationWarning(std::string_view model) {
  return fmt::format(
      "warning: int8 '{}' is calibrated on 16 seeded random inputs in [0, 1), not on data like "
      "the model's: its activation ranges can be far off (torchvision's ResNet-50 on "
      "ImageNet-normalised inputs: relative error 1.1 against PyTorch, 0.026 "
      "calibrated on 32 of them; docs/PERFORMANCE.md); give --calibration FILE, a dataset or raw "
      "float32 file of the model's inputs",
      model);
}

std::vector<float> LoadSamples(const std::string& path, const Shape& sample_shape,
                               std::int64_t max_samples) {
  const std::int64_t floats = NumElements(sample_shape);
  if (IsHdf5File(path)) {
    const DatasetInputSource dataset(path, sample_shape, max_samples);
    std::vector<float> samples(dataset.size() * floats);
    for (std::int64_t i = 0; i < dataset.size(); ++i) {
      dataset.Sample(i, std::span(samples).subspan(i * floats, floats));
    }
    return samples;
  }
  const RawFloatInputSource raw(path, sample_shape);
  const std::span<const float> values =
      raw.values().first(std::min(raw.size(), max_samples) * floats);
  return {values.begin(), values.end()};
}

}  // namespace sonic
