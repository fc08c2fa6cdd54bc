#include "results/physics_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"

namespace sonic {
namespace {

// The Mann-Whitney form of the AUC, pair by pair: independent of the curve.
double PairwiseAuc(const std::vector<float>& scores, const std::vector<std::int32_t>& labels) {
  double wins = 0;
  double pairs = 0;
  for (std::size_t s = 0; s < scores.size(); ++s) {
    if (labels[s] != 1) continue;
    for (std::size_t b = 0; b < scores.size(); ++b) {
      if (labels[b] == 1) continue;
      wins += scores[s] > scores[b] ? 1.0 : scores[s] == scores[b] ? 0.5 : 0.0;
      pairs += 1;
    }
  }
  return wins / pairs;
}

TEST(PhysicsMetrics, AucIsTheProbabilityThatSignalOutranksBackgroundTiesHalf) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> coarse(0, 20);  // many ties
  std::bernoulli_distribution is_signal(0.4);
  std::vector<float> scores(500);
  std::vector<std::int32_t> labels(500);
  for (std::size_t i = 0; i < scores.size(); ++i) {
    labels[i] = is_signal(rng) ? 1 : 0;
    scores[i] = static_cast<float>(coarse(rng) + (labels[i] == 1 ? 4 : 0));
  }
  EXPECT_NEAR(RocAuc(RocCurve(scores, labels)), PairwiseAuc(scores, labels), 1e-12);
}

TEST(PhysicsMetrics, ClosedFormsOfTheAuc) {
  const std::vector<std::int32_t> labels = {1, 1, 0, 0};
  EXPECT_DOUBLE_EQ(RocAuc(RocCurve(std::vector<float>{0.9f, 0.8f, 0.2f, 0.1f}, labels)), 1.0);
  EXPECT_DOUBLE_EQ(RocAuc(RocCurve(std::vector<float>{0.1f, 0.2f, 0.8f, 0.9f}, labels)), 0.0);
  EXPECT_DOUBLE_EQ(RocAuc(RocCurve(std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}, labels)), 0.5);
}

// Signal 0.9, background 0.8, signal 0.7, background 0.6: the curve (0, 0), (0.5, 0),
// (0.5, 0.5), (1, 0.5), (1, 1).
TEST(PhysicsMetrics, RejectionInterpolatesWhereTheSignalEfficiencyIsReached) {
  const std::vector<RocPoint> roc =
      RocCurve(std::vector<float>{0.9f, 0.8f, 0.7f, 0.6f}, std::vector<std::int32_t>{1, 0, 1, 0});
  ASSERT_EQ(roc.size(), 5u);
  EXPECT_DOUBLE_EQ(roc[2].background_efficiency, 0.5);
  EXPECT_TRUE(std::isinf(BackgroundRejection(roc, 0.25)));  // no background passes yet
  EXPECT_TRUE(std::isinf(BackgroundRejection(roc, 0.5)));
  EXPECT_DOUBLE_EQ(BackgroundRejection(roc, 0.75), 2.0);
  EXPECT_DOUBLE_EQ(BackgroundRejection(roc, 1.0), 2.0);
  EXPECT_THROW(BackgroundRejection(roc, 0.0), Error);
  EXPECT_THROW(BackgroundRejection(roc, 1.5), Error);
}

TEST(PhysicsMetrics, AccuracyOfTheArgMaxOrOfOneScore) {
  const std::vector<std::int32_t> labels = {0, 1, 1};
  // Rows [0.7, 0.3] -> 0 right, [0.4, 0.6] -> 1 right, [0.5, 0.5] -> 0 (first on ties) wrong.
  EXPECT_DOUBLE_EQ(
      ArgMaxAccuracy(std::vector<float>{0.7f, 0.3f, 0.4f, 0.6f, 0.5f, 0.5f}, 2, labels), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(ArgMaxAccuracy(std::vector<float>{0.2f, 0.5f, 0.49f}, 1, labels), 2.0 / 3.0);
  EXPECT_THROW(ArgMaxAccuracy(std::vector<float>{0.2f, 0.5f}, 2, labels), Error);
}

TEST(PhysicsMetrics, ACurveNeedsBothClassesAndOneLabelPerScore) {
  try {
    RocCurve(std::vector<float>{0.1f, 0.2f}, std::vector<std::int32_t>{1, 1});
    FAIL() << "no background";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("2 signal and 0 background"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(RocCurve(std::vector<float>{0.1f}, std::vector<std::int32_t>{1, 0}), Error);
}

// Two classes, the signal score in column 1: the same curve as the test above, deviations from
// a reference that differs by 0.1 in one value.
TEST(PhysicsMetrics, ATaggerScoreJudgesItsSignalColumnAgainstTheReference) {
  const std::vector<float> outputs = {0.1f, 0.9f, 0.2f, 0.8f, 0.3f, 0.7f, 0.4f, 0.6f};
  std::vector<float> reference = outputs;
  reference[3] = 0.7f;
  const std::vector<std::int32_t> labels = {1, 0, 1, 0};
  const TaggerScore score = ScoreTagger(outputs, 2, 1, labels, reference);
  EXPECT_EQ(score.samples, 4);
  EXPECT_EQ(score.signal_samples, 2);
  EXPECT_DOUBLE_EQ(score.roc_auc, 0.75);        // pairs: 0.9 > 0.8, 0.6; 0.7 > 0.6, < 0.8
  EXPECT_TRUE(std::isinf(score.rejection[0]));  // eS 0.3: no background passes
  EXPECT_TRUE(std::isinf(score.rejection[1]));  // eS 0.5: the first signal alone
  EXPECT_DOUBLE_EQ(score.accuracy, 0.5);        // both signal right, both background wrong
  EXPECT_NEAR(score.max_abs_deviation, 0.1, 1e-7);
  EXPECT_NEAR(score.mean_abs_deviation, 0.1 / 8, 1e-8);
  EXPECT_EQ(score.roc.size(), 5u);
  EXPECT_THROW(ScoreTagger(outputs, 2, 2, labels, reference), Error);  // no column 2
  EXPECT_THROW(ScoreTagger(outputs, 2, 1, labels, std::vector<float>(4)), Error);
}

}  // namespace
}  // namespace sonic
