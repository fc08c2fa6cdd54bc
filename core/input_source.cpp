#include "core/input_source.h"

#include "core/error.h"
#include "core/random.h"

namespace sonic {

void RandomInputSource::Sample(std::int64_t index, std::span<float> out) const {
  // A golden-ratio stride keeps neighbouring indices' streams unrelated after SplitMix seeding.
  Random random(seed_ + static_cast<std::uint64_t>(index) * 0x9e3779b97f4a7c15ULL);
  for (float& value : out) value = static_cast<float>(random.Uniform());
}

void CheckStagingOptions(int batch, int count) {
  if (batch < 1) Throw(ErrorKind::kInvalidArgument, "batch must be at least 1, got {}", batch);
  if (count < 1) {
    Throw(ErrorKind::kInvalidArgument, "staged_batches must be at least 1, got {}", count);
  }
}

std::vector<std::vector<float>> StageInputBatches(const InputSource& inputs,
                                                  std::size_t sample_floats, int batch, int count) {
  CheckStagingOptions(batch, count);
  std::vector<std::vector<float>> staged(
      static_cast<std::size_t>(count),
      std::vector<float>(sample_floats * static_cast<std::size_t>(batch)));
  std::int64_t index = 0;
  for (std::vector<float>& buffer : staged) {
    for (int s = 0; s < batch; ++s, ++index) {
      inputs.Sample(index, std::span<float>(buffer).subspan(s * sample_floats, sample_floats));
    }
  }
  return staged;
}

}  // namespace sonic
