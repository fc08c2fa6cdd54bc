// The latency-bound search's decisions, without threads: the bisection against a known edge,
// the answer below every miss, the verdict on a cell and the search's identity.
#include "bench/loadgen/search.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

namespace sonic {
namespace {

// Runs the search against a system that meets the bound exactly up to `edge`.
std::vector<SearchProbe> Search(const SearchPlan& plan, double edge) {
  std::vector<SearchProbe> probes;
  while (const auto value = NextSearchValue(plan, probes)) {
    probes.push_back({*value, *value <= edge});
  }
  return probes;
}

TEST(Search, RateDoublesThenHalvesTheGapToTheTolerance) {
  SearchPlan plan;
  plan.low = 10;
  plan.high = 100'000;
  plan.tolerance = 0.05;
  const std::vector<SearchProbe> probes = Search(plan, 1234);
  // Doubling: 10, 20, ..., 1280 (the first miss).
  for (int i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(probes[i].value, 10 << i);
  EXPECT_FALSE(probes[7].met);
  const double answer = *SearchAnswer(probes);
  EXPECT_LE(answer, 1234);
  EXPECT_GE(answer, 1234 / 1.05);
  // Each bisection step halves [640, 1280]: 5% of ~1200 needs log2(640 / 60) < 4 more.
  EXPECT_LE(probes.size(), 8u + 4u);
}

TEST(Search, JobsAreWholeAndEndOneJobApart) {
  SearchPlan plan;
  plan.over = SearchOver::kJobs;
  plan.low = 1;
  plan.high = 1024;
  const std::vector<SearchProbe> probes = Search(plan, 37);
  for (const SearchProbe& p : probes)
    EXPECT_EQ(p.value, static_cast<double>(static_cast<int>(p.value)));
  EXPECT_DOUBLE_EQ(*SearchAnswer(probes), 37);
}

TEST(Search, EndsAtTheRangeOrWhenTheLowestValueMisses) {
  SearchPlan plan;
  plan.low = 100;
  plan.high = 300;
  const std::vector<SearchProbe> all_met = Search(plan, 1e9);
  ASSERT_EQ(all_met.size(), 3u);  // 100, 200, 300 (the top of the range)
  EXPECT_DOUBLE_EQ(all_met.back().value, 300);
  EXPECT_DOUBLE_EQ(*SearchAnswer(all_met), 300);
  const std::vector<SearchProbe> none = Search(plan, 50);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_FALSE(SearchAnswer(none).has_value());
  plan.max_probes = 2;
  EXPECT_EQ(Search(plan, 250).size(), 2u);
}

TEST(Search, TheAnswerLiesBelowEveryMiss) {
  // A noisy probe met the bound at 80 after 40 missed: 80 does not count.
  const std::vector<SearchProbe> probes = {{10, true}, {20, true}, {40, false}, {80, true}};
  EXPECT_DOUBLE_EQ(*SearchAnswer(probes), 20);
  SearchPlan plan;
  plan.low = 10;
  plan.high = 1000;
  EXPECT_DOUBLE_EQ(*NextSearchValue(plan, probes), 30);  // bisects [20, 40]
}

CellResult Measured(std::int64_t completed, std::int64_t within, std::int64_t failed) {
  CellResult result;
  result.completed_requests = completed;
  result.within_bound_requests = within;
  if (failed > 0) result.errors["unavailable"] = failed;
  result.duration_s = 2;
  for (std::int64_t i = 0; i < completed; ++i)
    result.latency.Record(i < within ? 1'000'000 : 9'000'000);
  return result;
}

TEST(Search, TheVerdictCountsFailedRequestsAgainstTheBound) {
  CellResult met = Measured(1000, 990, 0);
  JudgeLatencyBound(5, 99, 100, met);
  EXPECT_EQ(met.bound_met, true);
  EXPECT_NE(met.bound_verdict_reason.find("990 of 1000"), std::string::npos)
      << met.bound_verdict_reason;
  EXPECT_DOUBLE_EQ(met.GoodputPerS(), 495);
  CellResult failing = Measured(1000, 990, 5);  // 990 of 1005 < 99%
  JudgeLatencyBound(5, 99, 100, failing);
  EXPECT_EQ(failing.bound_met, false);
  CellResult few = Measured(50, 50, 0);
  JudgeLatencyBound(5, 99, 100, few);
  EXPECT_EQ(few.bound_met, false);
  EXPECT_NE(few.bound_verdict_reason.find("min_requests"), std::string::npos);
  CellResult behind = Measured(1000, 1000, 0);
  behind.generator_behind = true;
  JudgeLatencyBound(5, 99, 100, behind);
  EXPECT_EQ(behind.bound_met, false);
}

TEST(Search, AllCellsOfOneSearchShareItsIdentity) {
  CellSettings a;
  a.backend = "null";
  a.search_over = SearchOver::kRate;
  a.latency_bound_ms = 5;
  a.latency_percentile = 99;
  a.search_role = SearchRole::kProbe;
  a.rate_hz = 10;
  CellSettings b = a;
  b.rate_hz = 640;
  b.search_probe = 6;
  b.search_role = SearchRole::kConfirmation;
  EXPECT_EQ(a.SearchKey(), b.SearchKey());
  EXPECT_NE(a.Key(), b.Key());
  b.latency_bound_ms = 10;  // another bound is another search
  EXPECT_NE(a.SearchKey(), b.SearchKey());
}

}  // namespace
}  // namespace sonic
