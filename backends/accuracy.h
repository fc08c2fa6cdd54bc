#pragma once

// The backend contract's accuracy measures and the bound each precision must meet
// (docs/ARCHITECTURE.md, "The backend contract"): what the contract tests assert and what
// `sonicbench infer --check` reports, defined once. Pure functions.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace sonic {

// ||out - ref|| / ||ref|| over equally long spans (||out - ref|| when ref is all zero).
double RelativeError(std::span<const float> out, std::span<const float> ref);

// The arg-max class of each sample of `classes` values.
std::vector<int> Top1(std::span<const float> out, std::int64_t classes);

// The fraction of samples (0 for none) whose arg-max class in `out` is the top class of `ref` or
// tied with it: within `tie_fraction` of the ref row's range (max - min) below its maximum. With
// 0 this is the plain top-1 agreement. A tie fraction is what makes the measure mean something
// for a model whose two best classes are nearly tied (random weights: any rounding flips them).
double TopOneAgreement(std::span<const float> out, std::span<const float> ref, std::int64_t classes,
                       double tie_fraction = 0.0);

// The tie fraction of `sonicbench infer --check` for the quantised precisions: classes within 1%
// of the reference's score range of its top class count as the same answer.
inline constexpr double kTopOneTieFraction = 0.01;

// What a backend's output at a precision must meet against the reference: float precisions a
// relative error at most `bound` (fp32 1e-4; tf32, fp16, bf16 2e-2), quantised ones (int8, bfp8)
// a top-1 agreement of at least `bound` (0.98).
struct AccuracyBound {
  enum class Criterion { kRelativeError, kTop1Agreement };
  Criterion criterion = Criterion::kRelativeError;
  double bound = 0;
  std::string_view criterion_name() const;  // "relative_error" | "top1_agreement"
  bool Met(double measured) const;          // <= bound or >= bound, by the criterion
};
AccuracyBound ContractBound(Precision precision);

}  // namespace sonic
