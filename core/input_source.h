#pragma once

#include <cstdint>
#include <span>
#include <string>

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

}  // namespace sonic
