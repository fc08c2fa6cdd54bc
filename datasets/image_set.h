#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sonic {

// A set of preprocessed images, cached as HDF5 so preprocessing runs once: dataset `images`
// [N, C, H, W] float32 (chunked per image), dataset `labels` [N] int32, and root attributes
// saying how they were made: `sonic_dataset` = "images", `kind` ("top-tagging" or "nova"),
// `source` (the input file), `preprocessing` (options, one line), `class_names`
// (comma-separated, index = label) and `sonicbench_version`.
struct ImageSet {
  Shape sample_shape;  // [C, H, W]
  std::vector<float> images;
  std::vector<std::int32_t> labels;
  std::string kind;
  std::string source;
  std::string preprocessing;
  std::string class_names;

  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
  std::span<const float> Image(std::int64_t index) const;
};

void WriteImageSet(const std::string& path, const ImageSet& set);
// Reads the first max_images images (< 0: all). Throws Error(kInvalidArgument) naming what is
// missing for a file that is not an image set.
ImageSet ReadImageSet(const std::string& path, std::int64_t max_images = -1);

}  // namespace sonic
