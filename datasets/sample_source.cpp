#include "datasets/sample_source.h"

#include <fmt/format.h>

#include <algorithm>

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

}  // namespace sonic
