// The contract's accuracy measures against hand-computed values, and its bounds as
// docs/ARCHITECTURE.md states them.
#include "backends/accuracy.h"

#include <gtest/gtest.h>

#include <vector>

namespace sonic {
namespace {

TEST(Accuracy, RelativeErrorIsTheNormOfTheDifferenceOverTheNormOfTheReference) {
  const std::vector<float> ref = {3, 4};  // norm 5
  EXPECT_DOUBLE_EQ(RelativeError(std::vector<float>{3, 4.5f}, ref), 0.1);
  EXPECT_DOUBLE_EQ(RelativeError(ref, ref), 0.0);
  // An all-zero reference: the norm of the difference, not a division by zero.
  EXPECT_DOUBLE_EQ(RelativeError(std::vector<float>{3, 4}, std::vector<float>{0, 0}), 5.0);
}

TEST(Accuracy, TopOneAgreementCountsSamplesWithTheSameArgMax) {
  // Three samples of three classes: arg-max 2, 0, 1 against 2, 1, 1.
  const std::vector<float> a = {0, 1, 5, 9, 1, 2, 0, 3, 1};
  const std::vector<float> b = {1, 0, 2, 0, 4, 1, 2, 7, 0};
  EXPECT_EQ(Top1(a, 3), (std::vector<int>{2, 0, 1}));
  EXPECT_EQ(Top1(b, 3), (std::vector<int>{2, 1, 1}));
  EXPECT_DOUBLE_EQ(TopOneAgreement(a, b, 3), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(TopOneAgreement({}, {}, 3), 0.0);
}

TEST(Accuracy, TopOneAgreementUpToTiesCountsAClassNearlyTiedWithTheTop) {
  // The reference's rows span 0..10: class 1 is 0.05 of the range below the top in the first
  // row, 0.5 below in the second; the output picks class 1 in both.
  const std::vector<float> ref = {10.0f, 9.5f, 0.0f, 10.0f, 5.0f, 0.0f};
  const std::vector<float> out = {0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f};
  EXPECT_DOUBLE_EQ(TopOneAgreement(out, ref, 3), 0.0);
  EXPECT_DOUBLE_EQ(TopOneAgreement(out, ref, 3, 0.04), 0.0);
  EXPECT_DOUBLE_EQ(TopOneAgreement(out, ref, 3, 0.05), 0.5);
  EXPECT_DOUBLE_EQ(TopOneAgreement(out, ref, 3, 0.5), 1.0);
}

TEST(Accuracy, EachPrecisionHasTheContractsBound) {
  using C = AccuracyBound::Criterion;
  EXPECT_EQ(ContractBound(Precision::kFp32).criterion, C::kRelativeError);
  EXPECT_DOUBLE_EQ(ContractBound(Precision::kFp32).bound, 1e-4);
  for (Precision p : {Precision::kTf32, Precision::kFp16, Precision::kBf16}) {
    EXPECT_EQ(ContractBound(p).criterion, C::kRelativeError) << PrecisionName(p);
    EXPECT_DOUBLE_EQ(ContractBound(p).bound, 2e-2) << PrecisionName(p);
  }
  for (Precision p : {Precision::kInt8, Precision::kBfp8}) {
    EXPECT_EQ(ContractBound(p).criterion, C::kTop1Agreement) << PrecisionName(p);
    EXPECT_DOUBLE_EQ(ContractBound(p).bound, 0.98) << PrecisionName(p);
    EXPECT_EQ(ContractBound(p).criterion_name(), "top1_agreement");
  }
  // The bound itself passes; an error above it or an agreement below it does not.
  EXPECT_TRUE(ContractBound(Precision::kFp32).Met(1e-4));
  EXPECT_FALSE(ContractBound(Precision::kFp32).Met(1.01e-4));
  EXPECT_TRUE(ContractBound(Precision::kInt8).Met(0.98));
  EXPECT_FALSE(ContractBound(Precision::kInt8).Met(0.97));
}

}  // namespace
}  // namespace sonic
