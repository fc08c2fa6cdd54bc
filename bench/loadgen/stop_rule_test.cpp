// The stop rule as a pure function: no threads, no clock.
#include <gtest/gtest.h>

#include "bench/loadgen/load_generator.h"

namespace sonic {
namespace {

using Outcome = StopDecision::Outcome;

constexpr std::int64_t kSubWindowNs = 100'000'000;  // min_duration_s 1 / sub_windows 10

LoadSettings Rule() {
  LoadSettings s;
  s.min_duration_s = 1;
  s.sub_windows = 10;
  s.min_requests = 100;
  s.max_duration_s = 5;
  s.ci_fraction = 0.05;
  return s;
}

WindowLook Look(int windows, double requests, double relative_ci95) {
  WindowLook look;
  look.windows = windows;
  look.requests = requests;
  look.estimate.relative_ci95 = relative_ci95;
  look.elapsed_ns = windows * kSubWindowNs;
  return look;
}

TEST(StopRule, ConvergesOnlyWhenDurationCountAndIntervalAreAllMet) {
  const StopDecision done = DecideStop(Rule(), kSubWindowNs, Look(10, 200, 0.01));
  EXPECT_EQ(done.outcome, Outcome::kConverged);
  EXPECT_EQ(done.stop_at_ns, 10 * kSubWindowNs);
  EXPECT_NE(done.reason.find("ci ±1.00% <= ±5.00% after 1.0 s and 200 requests"), std::string::npos)
      << done.reason;
  EXPECT_EQ(DecideStop(Rule(), kSubWindowNs, Look(9, 200, 0.01)).outcome, Outcome::kContinue)
      << "one sub-window short of the minimum duration";
  EXPECT_EQ(DecideStop(Rule(), kSubWindowNs, Look(10, 99, 0.01)).outcome, Outcome::kContinue)
      << "one request short";
  EXPECT_EQ(DecideStop(Rule(), kSubWindowNs, Look(10, 200, 0.051)).outcome, Outcome::kContinue)
      << "interval too wide";
}

TEST(StopRule, EndsAtTheMaximumDurationWithTheReason) {
  // 5 s = 50 sub-windows; the controller decides one sub-window ahead so the stop is published
  // in time.
  EXPECT_EQ(DecideStop(Rule(), kSubWindowNs, Look(48, 5000, 0.2)).outcome, Outcome::kContinue);
  const StopDecision wide = DecideStop(Rule(), kSubWindowNs, Look(49, 5000, 0.2));
  EXPECT_EQ(wide.outcome, Outcome::kMaxDuration);
  EXPECT_EQ(wide.stop_at_ns, 50 * kSubWindowNs);
  EXPECT_NE(wide.reason.find("max duration 5 s reached: ci ±20.00% > ±5.00%"), std::string::npos)
      << wide.reason;
  const StopDecision few = DecideStop(Rule(), kSubWindowNs, Look(49, 40, 0.01));
  EXPECT_NE(few.reason.find("with 40 requests < min 100"), std::string::npos) << few.reason;
}

TEST(StopRule, FailuresInARowStopAtOnce) {
  WindowLook look = Look(3, 30, 0.01);
  look.failing = true;
  const StopDecision stop = DecideStop(Rule(), kSubWindowNs, look);
  EXPECT_EQ(stop.outcome, Outcome::kFailures);
  EXPECT_EQ(stop.stop_at_ns, look.elapsed_ns);
  EXPECT_NE(stop.reason.find("in a row failed"), std::string::npos);
}

TEST(StopRule, AFixedWindowLastsItsSubWindowsWhateverTheInterval) {
  LoadSettings fixed = Rule();
  fixed.fixed_window = true;
  EXPECT_EQ(DecideStop(fixed, kSubWindowNs, Look(8, 5000, 0.001)).outcome, Outcome::kContinue);
  const StopDecision end = DecideStop(fixed, kSubWindowNs, Look(9, 10, 0.9));
  EXPECT_EQ(end.outcome, Outcome::kFixedWindow);
  EXPECT_EQ(end.stop_at_ns, 10 * kSubWindowNs);
}

// The Wilson interval at 99%: one request over a p99 bound in 100 proves nothing, 10 in 100 do;
// with a p50 bound, 60 of 100 over is within the noise and 75 is not.
TEST(StopRule, TheLatencyBoundIsMissedOnlyWhenTheIntervalIsWhollyAboveIt) {
  EXPECT_FALSE(LatencyBoundCertainlyMissed(0, 0, 99));
  EXPECT_FALSE(LatencyBoundCertainlyMissed(100, 1, 99));
  EXPECT_FALSE(LatencyBoundCertainlyMissed(100, 2, 99));
  EXPECT_TRUE(LatencyBoundCertainlyMissed(100, 10, 99));
  EXPECT_TRUE(LatencyBoundCertainlyMissed(5, 5, 99));
  EXPECT_FALSE(LatencyBoundCertainlyMissed(100, 60, 50));
  EXPECT_TRUE(LatencyBoundCertainlyMissed(100, 75, 50));
}

TEST(StopRule, AMissedLatencyBoundEndsTheWindowEarlyAndNotConverged) {
  LoadSettings s = Rule();
  s.latency_bound = LoadSettings::LatencyBound{2'000'000, 99};
  WindowLook look = Look(1, 30, 0.5);
  look.bound_requests = 30;
  look.over_bound = 30;
  const StopDecision missed = DecideStop(s, kSubWindowNs, look);
  EXPECT_EQ(missed.outcome, Outcome::kBoundMissed);
  EXPECT_EQ(missed.stop_at_ns, kSubWindowNs);
  EXPECT_NE(missed.reason.find("stopped early: 30 of 30 requests over 2 ms"), std::string::npos)
      << missed.reason;
  look.over_bound = 0;
  EXPECT_EQ(DecideStop(s, kSubWindowNs, look).outcome, Outcome::kContinue);
  look.over_bound = 30;
  s.latency_bound.reset();  // without a bound, the same look goes on
  EXPECT_EQ(DecideStop(s, kSubWindowNs, look).outcome, Outcome::kContinue);
}

}  // namespace
}  // namespace sonic
