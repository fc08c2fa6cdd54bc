#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// Request inputs from a raw float32 file: C order, samples back to back, each of the model's
// per-sample shape (what numpy's `tofile` writes). Loaded in the constructor, which throws
// Error(kInvalidArgument) naming the file, its size and the sample size unless it holds a whole,
// non-zero number of samples. Sample is safe to call from many threads.
class RawFloatInputSource final : public InputSource {
 public:
  RawFloatInputSource(const std::string& path, const Shape& sample_shape);

  // Provenance: "raw:<path> (<N> float32 samples <shape>)".
  std::string name() const override;
  void Sample(std::int64_t index, std::span<float> out) const override;  // index modulo size()

  std::int64_t size() const { return static_cast<std::int64_t>(values_.size()) / sample_floats_; }
  std::span<const float> values() const { return values_; }

 private:
  std::string path_;
  Shape sample_shape_;
  std::int64_t sample_floats_;
  std::vector<float> values_;
};

// Writes `values` to `path` as raw float32 (the format RawFloatInputSource reads); throws
// Error(kInvalidArgument) naming the file when it cannot be written.
void WriteRawFloats(const std::string& path, std::span<const float> values);

// Whether `path` is an HDF5 file (by its signature), i.e. a dataset rather than raw float32.
bool IsHdf5File(const std::string& path);

// The request inputs `inputs` names: "random" (seeded tensors, RandomInputSource(seed)), an HDF5
// dataset file (DatasetInputSource) or any other file, read as raw float32 (RawFloatInputSource).
std::shared_ptr<const InputSource> OpenInputSource(const std::string& inputs,
                                                   const Shape& sample_shape, std::uint64_t seed);

// At most this many samples of a calibration file are used: an int8 compile runs the fp32
// network over each of them, once per Executable.
inline constexpr std::int64_t kMaxCalibrationSamples = 64;

// The warning a command prints when int8 is calibrated on seeded random inputs (no calibration
// file): what that costs, and how to give the model's own data.
std::string RandomCalibrationWarning(std::string_view model);

// The first `max_samples` samples (fewer if the file has fewer) of a dataset or raw float32 file,
// back to back in the model's per-sample shape: int8 calibration data (CompileOptions::
// calibration).
std::vector<float> LoadSamples(const std::string& path, const Shape& sample_shape,
                               std::int64_t max_samples);

}  // namespace sonic
