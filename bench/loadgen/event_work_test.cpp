// Client workflows' pure parts: the sweep-key forms, their canonical names and the seeded work
// distributions against their closed-form moments.
#include "bench/loadgen/event_work.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace sonic {
namespace {

void ExpectInvalid(void (*parse)(std::string_view), std::string_view text) {
  try {
    parse(text);
    ADD_FAILURE() << text << " was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument) << text;
  }
}

TEST(EventWork, ParsesTheFormsAndNamesThemCanonically) {
  EXPECT_EQ(ParseEventWork("none"), EventWork{});
  const EventWork cpu = ParseEventWork(" cpu:5 ");
  EXPECT_EQ(cpu.kind, EventWork::Kind::kCpu);
  EXPECT_DOUBLE_EQ(cpu.mean_ms, 5);
  EXPECT_EQ(EventWorkName(cpu), "cpu:5");
  const EventWork elsewhere = ParseEventWork("elsewhere:20.5");
  EXPECT_EQ(elsewhere.kind, EventWork::Kind::kElsewhere);
  EXPECT_EQ(EventWorkName(elsewhere), "elsewhere:20.5");
  EXPECT_EQ(EventWorkName(ParseEventWork("none")), "none");
  for (const char* bad : {"cpu", "cpu:", "cpu:-1", "gpu:5", "elsewhere:5ms", "cpu:1e7", ""}) {
    ExpectInvalid([](std::string_view t) { ParseEventWork(t); }, bad);
  }
  EventWork work = elsewhere;
  ParseEventWorkSpread("lognormal:0.5", work);
  EXPECT_EQ(work.spread, EventWork::Spread::kLognormal);
  EXPECT_EQ(EventWorkSpreadName(work), "lognormal:0.5");
  ParseEventWorkSpread("exponential", work);
  EXPECT_EQ(EventWorkSpreadName(work), "exponential");
  ParseEventWorkSpread("fixed", work);
  EXPECT_EQ(EventWorkSpreadName(work), "fixed");
  for (const char* bad : {"lognormal", "lognormal:0", "lognormal:-1", "normal", "lognormal:11"}) {
    ExpectInvalid(
        [](std::string_view t) {
          EventWork w;
          ParseEventWorkSpread(t, w);
        },
        bad);
  }
  EXPECT_EQ(ParseClientMode("async"), ClientMode::kAsync);
  EXPECT_EQ(ClientModeName(ParseClientMode("sync")), "sync");
  ExpectInvalid([](std::string_view t) { ParseClientMode(t); }, "ExternalWork");
}

struct Moments {
  double mean = 0, cv = 0;
};

Moments Sample(const EventWork& work, std::uint64_t seed, int n) {
  WorkSampler sampler(work, seed);
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    const auto x = static_cast<double>(sampler.NextNs());
    sum += x;
    sum2 += x * x;
  }
  const double mean = sum / n;
  return {mean, std::sqrt(std::max(0.0, sum2 / n - mean * mean)) / mean};
}

TEST(WorkSampler, DrawsTheDistributionsMeanAndCoefficientOfVariation) {
  EventWork work = ParseEventWork("elsewhere:20");
  const Moments fixed = Sample(work, 1, 1000);
  EXPECT_DOUBLE_EQ(fixed.mean, 20e6);
  EXPECT_NEAR(fixed.cv, 0, 1e-9);
  // 200,000 draws: the sample mean's standard error is cv / 447, well inside 2%.
  ParseEventWorkSpread("exponential", work);
  const Moments exponential = Sample(work, 2, 200'000);
  EXPECT_NEAR(exponential.mean / 20e6, 1, 0.02);
  EXPECT_NEAR(exponential.cv, 1, 0.03);
  ParseEventWorkSpread("lognormal:0.5", work);
  const Moments lognormal = Sample(work, 3, 200'000);
  EXPECT_NEAR(lognormal.mean / 20e6, 1, 0.02);
  EXPECT_NEAR(lognormal.cv, 0.5, 0.03);
  // Seeded: the same sequence from the same seed, another from another.
  WorkSampler a(work, 7), b(work, 7), c(work, 8);
  const std::int64_t first = a.NextNs();
  EXPECT_EQ(first, b.NextNs());
  EXPECT_NE(first, c.NextNs());
  EXPECT_EQ(WorkSampler(ParseEventWork("none"), 1).NextNs(), 0);
}

// Calibrated on this machine's fastest observed rate: the work costs at least about its length in
// CPU time (more on a busy or slower core, never much less).
TEST(BurnCpu, CostsAboutItsLengthInCpuTime) {
  CalibrateCpuWork();
  const std::int64_t before = ThreadCpuNs();
  BurnCpu(20'000'000);
  EXPECT_GE(ThreadCpuNs() - before, 15'000'000);
}

}  // namespace
}  // namespace sonic
