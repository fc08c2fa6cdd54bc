#include "core/random.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sonic {
namespace {

TEST(Random, SameSeedSameSequenceDifferentSeedDifferent) {
  Random a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    EXPECT_NE(x, c.NextU64());
  }
}

TEST(Random, MomentsMatchTheDistributions) {
  Random random(7);
  constexpr int kCount = 200000;
  double uniform_sum = 0, normal_sum = 0, normal_sq = 0, exp_sum = 0;
  for (int i = 0; i < kCount; ++i) {
    const double u = random.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    uniform_sum += u;
    const double n = random.Normal();
    normal_sum += n;
    normal_sq += n * n;
    exp_sum += random.Exponential(4.0);
  }
  // Standard errors: uniform 0.29/sqrt(N), normal 1/sqrt(N), exponential 0.25/sqrt(N); 5 sigma.
  const double root_n = std::sqrt(kCount);
  EXPECT_NEAR(uniform_sum / kCount, 0.5, 5 * 0.29 / root_n);
  EXPECT_NEAR(normal_sum / kCount, 0.0, 5 / root_n);
  EXPECT_NEAR(normal_sq / kCount, 1.0, 5 * std::sqrt(2.0) / root_n);
  EXPECT_NEAR(exp_sum / kCount, 0.25, 5 * 0.25 / root_n);
}

}  // namespace
}  // namespace sonic
