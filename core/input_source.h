#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sonic {

// Where request inputs come from: a seeded random tensor or a dataset (datasets/). The load
// generator's targets read it only in untimed setup. Thread-safe for concurrent Sample calls.
class InputSource {
 public:
  virtual ~InputSource() = default;
  virtual std::string name() const = 0;  // recorded as CellSettings::inputs
  // Writes sample `index` (NumElements(sample shape) floats) to `out`.
  virtual void Sample(std::int64_t index, std::span<float> out) const = 0;
};

// Uniform values in [0, 1), a different seeded stream per sample index; the same on every platform.
class RandomInputSource final : public InputSource {
 public:
  explicit RandomInputSource(std::uint64_t seed) : seed_(seed) {}
  std::string name() const override { return "random"; }
  void Sample(std::int64_t index, std::span<float> out) const override;

 private:
  std::uint64_t seed_;
};

// The inputs a target stages before timing: `count` batches of `batch` samples of `sample_floats`
// floats each, batch i holding samples i*batch .. i*batch+batch-1, so that request i can use batch
// i mod count without copying or generating anything in the timed region.
// CheckStagingOptions throws Error(kInvalidArgument) unless batch and count are at least 1.
void CheckStagingOptions(int batch, int count);
std::vector<std::vector<float>> StageInputBatches(const InputSource& inputs,
                                                  std::size_t sample_floats, int batch, int count);

}  // namespace sonic
