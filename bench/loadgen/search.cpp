#include "bench/loadgen/search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace sonic {

std::optional<double> SearchAnswer(std::span<const SearchProbe> probes) {
  // Below every miss: a value that met the bound above a lower one that missed it (noise near
  // the edge) does not count.
  std::optional<double> lowest_miss;
  for (const SearchProbe& probe : probes) {
    if (!probe.met && (!lowest_miss || probe.value < *lowest_miss)) lowest_miss = probe.value;
  }
  std::optional<double> best;
  for (const SearchProbe& probe : probes) {
    if (probe.met && (!lowest_miss || probe.value < *lowest_miss) &&
        (!best || probe.value > *best)) {
      best = probe.value;
    }
  }
  return best;
}

std::optional<double> NextSearchValue(const SearchPlan& plan, std::span<const SearchProbe> probes) {
  const bool jobs = plan.over == SearchOver::kJobs;
  if (probes.empty()) return plan.low;
  if (static_cast<int>(probes.size()) >= plan.max_probes) return std::nullopt;
  const std::optional<double> best = SearchAnswer(probes);
  if (!best) return std::nullopt;  // the lowest value already misses the bound
  std::optional<double> miss;      // the lowest miss, above `best` by SearchAnswer's definition
  for (const SearchProbe& probe : probes) {
    if (!probe.met && (!miss || probe.value < *miss)) miss = probe.value;
  }
  if (!miss) {
    if (*best >= plan.high) return std::nullopt;
    return std::min(plan.high, *best * 2);
  }
  const double gap = *miss - *best;
  if (jobs ? gap <= 1 : gap <= plan.tolerance * *best) return std::nullopt;
  if (jobs) {
    const double middle = std::floor((*best + *miss) / 2);
    return middle > *best ? std::optional(middle) : std::nullopt;
  }
  return (*best + *miss) / 2;
}

void JudgeLatencyBound(double bound_ms, double percentile, std::int64_t min_requests,
                       CellResult& result) {
  std::int64_t failed = 0;
  for (const auto& [kind, count] : result.errors) failed += count;
  const std::int64_t total = result.completed_requests + failed;
  const auto miss = [&](std::string reason) {
    result.bound_met = false;
    result.bound_verdict_reason = std::move(reason);
  };
  if (result.status == CellStatus::kFailed) {
    return miss(fmt::format("the cell failed: {}", result.error_message));
  }
  if (result.convergence_reason.starts_with("stopped early") &&
      result.convergence_reason.find(" over ") != std::string::npos) {
    return miss(result.convergence_reason);
  }
  if (result.generator_behind) {
    return miss("the load generator could not keep the arrival schedule");
  }
  if (total < min_requests) {
    return miss(fmt::format("{} requests in the window, fewer than min_requests = {}", total,
                            min_requests));
  }
  const double within = static_cast<double>(result.within_bound_requests);
  const bool met = within >= percentile / 100 * static_cast<double>(total);
  result.bound_met = met;
  result.bound_verdict_reason =
      fmt::format("p{:g} {:.3g} ms {} {:g} ms ({} of {} requests within it)", percentile,
                  result.latency.Percentile(percentile / 100) * 1e-6, met ? "<=" : ">", bound_ms,
                  result.within_bound_requests, total);
}

}  // namespace sonic
