#include "core/input_source.h"

#include "core/random.h"

namespace sonic {

void RandomInputSource::Sample(std::int64_t index, std::span<float> out) const {
  // A golden-ratio stride keeps neighbouring indices' streams unrelated after SplitMix seeding.
  Random random(seed_ + static_cast<std::uint64_t>(index) * 0x9e3779b97f4a7c15ULL);
  for (float& value : out) value = static_cast<float>(random.Uniform());
}

}  // namespace sonic
