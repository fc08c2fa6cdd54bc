#include "backends/accuracy.h"

#include <algorithm>
#include <cmath>

namespace sonic {

double RelativeError(std::span<const float> out, std::span<const float> ref) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double d = double{out[i]} - double{ref[i]};
    diff += d * d;
    norm += double{ref[i]} * ref[i];
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

std::vector<int> Top1(std::span<const float> out, std::int64_t classes) {
  std::vector<int> top;
  const auto width = static_cast<std::size_t>(classes);
  for (std::size_t first = 0; first + width <= out.size(); first += width) {
    const auto row = out.subspan(first, width);
    top.push_back(static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin()));
  }
  return top;
}

double TopOneAgreement(std::span<const float> out, std::span<const float> ref, std::int64_t classes,
                       double tie_fraction) {
  const std::vector<int> top_out = Top1(out, classes), top_ref = Top1(ref, classes);
  const std::size_t samples = std::min(top_out.size(), top_ref.size());
  const auto width = static_cast<std::size_t>(classes);
  std::size_t same = 0;
  for (std::size_t i = 0; i < samples; ++i) {
    const auto row = ref.subspan(i * width, width);
    const auto [low, high] = std::minmax_element(row.begin(), row.end());
    const double tied_above = *high - tie_fraction * (*high - *low);
    same += top_out[i] == top_ref[i] || row[top_out[i]] >= tied_above;
  }
  return samples == 0 ? 0.0 : static_cast<double>(same) / static_cast<double>(samples);
}

std::string_view AccuracyBound::criterion_name() const {
  return criterion == Criterion::kRelativeError ? "relative_error" : "top1_agreement";
}

bool AccuracyBound::Met(double measured) const {
  return criterion == Criterion::kRelativeError ? measured <= bound : measured >= bound;
}

AccuracyBound ContractBound(Precision precision) {
  switch (precision) {
    case Precision::kFp32:
      return {AccuracyBound::Criterion::kRelativeError, 1e-4};
    case Precision::kTf32:
    case Precision::kFp16:
    case Precision::kBf16:
      return {AccuracyBound::Criterion::kRelativeError, 2e-2};
    case Precision::kInt8:
    case Precision::kBfp8:
      break;
  }
  return {AccuracyBound::Criterion::kTop1Agreement, 0.98};
}

}  // namespace sonic
