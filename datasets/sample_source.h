#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/input_source.h"
#include "core/tensor.h"
#include "datasets/image_set.h"
#include "datasets/jet_image.h"

namespace sonic {

// What a dataset file holds, told by its layout: "top-tagging" (a pandas table under key
// `table`), "nova" (sonic_dataset = "nova") or "images" (a cached image set). Throws
// Error(kInvalidArgument) naming the accepted layouts for any other file.
std::string DetectDatasetKind(const std::string& path);

// Turns the first max_samples samples (< 0: all) of any dataset file into images of
// `sample_shape` [C, H, W]: jets through JetImager (its size and channels replaced by the shape),
// NOvA events through NovaToImage, cached image sets through ConvertImage when their shape
// differs. The result's `preprocessing` says how, for provenance.
ImageSet LoadImages(const std::string& path, const Shape& sample_shape,
                    const JetImageOptions& jet_options = {}, std::int64_t max_samples = -1);

// Request inputs from a dataset file (`--inputs FILE.h5`), in the model's per-sample input
// shape and float32. The first max_samples samples (256: 154 MB at 3x224x224) are loaded and
// preprocessed in the constructor, so construct it in untimed setup; Sample then copies an image
// (index taken modulo size()) and is safe to call from many threads. Seeded random tensors
// (RandomInputSource) remain the default elsewhere.
class DatasetInputSource final : public InputSource {
 public:
  DatasetInputSource(const std::string& path, const Shape& sample_shape,
                     std::int64_t max_samples = 256, const JetImageOptions& jet_options = {});

  // Provenance: "dataset:<path> (<kind>, <N> samples <shape>, <preprocessing>)".
  std::string name() const override;
  // out.size() must be the per-sample element count.
  void Sample(std::int64_t index, std::span<float> out) const override;

  std::int64_t size() const { return set_.size(); }
  std::int32_t label(std::int64_t index) const { return set_.labels[index % set_.size()]; }

 private:
  std::string path_;
  ImageSet set_;
};

}  // namespace sonic
