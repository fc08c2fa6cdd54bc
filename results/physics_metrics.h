#pragma once

// What a tagger's outputs mean in physics terms, as the top-tagging comparison measures them
// (Kasieczka et al. 2019, arXiv:1902.09914): the ROC curve of a score against truth labels, its
// area, the background rejection 1/eB at a signal efficiency, and the accuracy of the arg-max
// class. Pure functions, no threads; scores are "higher is more signal-like".

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace sonic {

struct RocPoint {
  double signal_efficiency = 0;      // true-positive rate
  double background_efficiency = 0;  // false-positive rate
  friend bool operator==(const RocPoint&, const RocPoint&) = default;
};

// The signal efficiencies of the top-tagging comparison's background rejection figures.
inline constexpr std::array<double, 2> kRejectionEfficiencies = {0.3, 0.5};

// The ROC curve of `scores` against `labels` (1 signal, anything else background): (0, 0), then
// one point per distinct score from the highest down (equal scores enter together), ending at
// (1, 1); scikit-learn's roc_curve(drop_intermediate=False). Throws Error(kInvalidArgument) when
// the sizes differ or a class is missing (no curve exists).
std::vector<RocPoint> RocCurve(std::span<const float> scores, std::span<const std::int32_t> labels);

// The area under `roc` by the trapezoid rule: the probability that a random signal sample
// scores above a random background one, ties counted half (scikit-learn's roc_auc_score).
double RocAuc(const std::vector<RocPoint>& roc);

// 1 / eB at `signal_efficiency` in (0, 1]: eB is interpolated linearly along `roc` where the
// signal efficiency first reaches the value. +infinity when no background passes there (the
// rejection then only exceeds the number of background samples).
double BackgroundRejection(const std::vector<RocPoint>& roc, double signal_efficiency);

// The fraction of samples whose predicted class is the label: the arg-max of each row of
// `outputs` ([N, classes], the first on ties), or with one class, score >= 0.5 meaning 1.
double ArgMaxAccuracy(std::span<const float> outputs, std::int64_t classes,
                      std::span<const std::int32_t> labels);

// A tagger's outputs on a labelled sample judged in physics terms: what one accuracy measurement
// records.
struct TaggerScore {
  std::int64_t samples = 0;
  std::int64_t signal_samples = 0;  // of which label 1
  double roc_auc = 0;
  // 1/eB at kRejectionEfficiencies; +infinity where no background sample passed.
  std::array<double, kRejectionEfficiencies.size()> rejection{};
  double accuracy = 0;           // ArgMaxAccuracy
  double max_abs_deviation = 0;  // of each output value from the reference output's
  double mean_abs_deviation = 0;
  std::vector<RocPoint> roc;  // RocCurve of the signal score
  friend bool operator==(const TaggerScore&, const TaggerScore&) = default;
};

// Scores `outputs` ([N, classes], one row per label): the signal score is column `signal_class`
// (column 0 when there is one class), and `reference` (the same shape: the reference backend's
// fp32 outputs) gives the deviations. Throws Error(kInvalidArgument) when the shapes disagree,
// `signal_class` is not a column, or a class is missing from `labels`.
TaggerScore ScoreTagger(std::span<const float> outputs, std::int64_t classes,
                        std::int64_t signal_class, std::span<const std::int32_t> labels,
                        std::span<const float> reference);

}  // namespace sonic
