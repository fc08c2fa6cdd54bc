#include "results/physics_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace sonic {

std::vector<RocPoint> RocCurve(std::span<const float> scores,
                               std::span<const std::int32_t> labels) {
  if (scores.size() != labels.size()) {
    Throw(ErrorKind::kInvalidArgument, "ROC curve: {} scores for {} labels: expected one each",
          scores.size(), labels.size());
  }
  const auto signal = static_cast<double>(std::count(labels.begin(), labels.end(), 1));
  const double background = static_cast<double>(labels.size()) - signal;
  if (signal == 0 || background == 0) {
    Throw(ErrorKind::kInvalidArgument,
          "ROC curve: {} signal and {} background samples: expected some of each",
          static_cast<std::int64_t>(signal), static_cast<std::int64_t>(background));
  }
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::vector<RocPoint> roc = {{0.0, 0.0}};
  double passed_signal = 0;
  double passed_background = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    (labels[order[i]] == 1 ? passed_signal : passed_background) += 1;
    const bool last_of_its_score =
        i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]];
    if (last_of_its_score) {
      roc.push_back({passed_signal / signal, passed_background / background});
    }
  }
  return roc;
}

double RocAuc(const std::vector<RocPoint>& roc) {
  double area = 0;
  for (std::size_t i = 1; i < roc.size(); ++i) {
    area += (roc[i].background_efficiency - roc[i - 1].background_efficiency) *
            (roc[i].signal_efficiency + roc[i - 1].signal_efficiency) / 2;
  }
  return area;
}

double BackgroundRejection(const std::vector<RocPoint>& roc, double signal_efficiency) {
  if (!(signal_efficiency > 0 && signal_efficiency <= 1)) {
    Throw(ErrorKind::kInvalidArgument, "signal efficiency {}: expected a value in (0, 1]",
          signal_efficiency);
  }
  for (std::size_t i = 1; i < roc.size(); ++i) {
    const RocPoint& a = roc[i - 1];
    const RocPoint& b = roc[i];
    if (b.signal_efficiency < signal_efficiency) continue;
    const double step = b.signal_efficiency - a.signal_efficiency;
    const double along = step > 0 ? (signal_efficiency - a.signal_efficiency) / step : 1.0;
    const double background =
        a.background_efficiency + along * (b.background_efficiency - a.background_efficiency);
    return background > 0 ? 1.0 / background : std::numeric_limits<double>::infinity();
  }
  Throw(ErrorKind::kInvalidArgument, "ROC curve never reaches signal efficiency {}",
        signal_efficiency);
}

double ArgMaxAccuracy(std::span<const float> outputs, std::int64_t classes,
                      std::span<const std::int32_t> labels) {
  if (classes < 1 || outputs.size() != labels.size() * static_cast<std::size_t>(classes)) {
    Throw(ErrorKind::kInvalidArgument,
          "accuracy: {} outputs for {} labels of {} classes: expected labels x classes",
          outputs.size(), labels.size(), classes);
  }
  if (labels.empty()) return 0;
  std::int64_t right = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::span<const float> row = outputs.subspan(i * classes, classes);
    const std::int32_t predicted =
        classes == 1
            ? (row[0] >= 0.5f ? 1 : 0)
            : static_cast<std::int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
    right += predicted == labels[i] ? 1 : 0;
  }
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

TaggerScore ScoreTagger(std::span<const float> outputs, std::int64_t classes,
                        std::int64_t signal_class, std::span<const std::int32_t> labels,
                        std::span<const float> reference) {
  if (classes < 1 || outputs.size() != labels.size() * static_cast<std::size_t>(classes) ||
      reference.size() != outputs.size()) {
    Throw(ErrorKind::kInvalidArgument,
          "tagger score: {} outputs and {} reference outputs for {} labels of {} classes: "
          "expected labels x classes each",
          outputs.size(), reference.size(), labels.size(), classes);
  }
  const std::int64_t column = classes == 1 ? 0 : signal_class;
  if (column < 0 || column >= classes) {
    Throw(ErrorKind::kInvalidArgument,
          "signal class {}: the model has {} output classes: expected 0 to {}", signal_class,
          classes, classes - 1);
  }
  TaggerScore score;
  score.samples = static_cast<std::int64_t>(labels.size());
  score.signal_samples = std::count(labels.begin(), labels.end(), 1);
  std::vector<float> signal_scores(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    signal_scores[i] = outputs[i * classes + column];
  }
  score.roc = RocCurve(signal_scores, labels);
  score.roc_auc = RocAuc(score.roc);
  for (std::size_t i = 0; i < kRejectionEfficiencies.size(); ++i) {
    score.rejection[i] = BackgroundRejection(score.roc, kRejectionEfficiencies[i]);
  }
  score.accuracy = ArgMaxAccuracy(outputs, classes, labels);
  double sum = 0;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const double deviation = std::abs(double{outputs[i]} - reference[i]);
    score.max_abs_deviation = std::max(score.max_abs_deviation, deviation);
    sum += deviation;
  }
  score.mean_abs_deviation = outputs.empty() ? 0 : sum / static_cast<double>(outputs.size());
  return score;
}

}  // namespace sonic
