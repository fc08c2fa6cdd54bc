#include "bench/fleet/fleet_merge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"

namespace sonic {
namespace {

TEST(ConcurrencyShare, SpreadsTheRemainderOverTheFirstRanks) {
  for (int ranks : {1, 2, 3, 4, 7}) {
    for (std::int64_t concurrency : {1, 2, 3, 4, 5, 10, 17}) {
      int total = 0, lowest = 1 << 30, highest = 0;
      for (int r = 0; r < ranks; ++r) {
        const int share = ConcurrencyShare(concurrency, ranks, r);
        EXPECT_EQ(FirstWorker(concurrency, ranks, r), total);
        total += share;
        lowest = std::min(lowest, share);
        highest = std::max(highest, share);
      }
      EXPECT_EQ(total, concurrency) << ranks << " ranks";
      EXPECT_LE(highest - lowest, 1);
    }
  }
  EXPECT_EQ(ConcurrencyShare(10, 4, 0), 3);
  EXPECT_EQ(ConcurrencyShare(10, 4, 3), 2);
  EXPECT_EQ(ConcurrencyShare(2, 4, 3), 0);
}

TEST(OffsetFromPingPong, TakesTheMidpointOfTheRoundTrip) {
  const ClockOffset offset = OffsetFromPingPong(1000, 5600, 2000);
  EXPECT_EQ(offset.offset_ns, 4100);
  EXPECT_EQ(offset.uncertainty_ns, 500);
}

// A rank's result with `requests` seeded log-normal latencies around `median_ns`.
RankResult SampleRank(int rank, std::int64_t requests, double median_ns, std::uint64_t seed) {
  RankResult r;
  r.rank = rank;
  r.host = "node" + std::to_string(rank);
  r.concurrency = 2;
  r.barrier_exit_ns = 1'000'000'000 + rank * 1000;
  CellResult& c = r.result;
  std::mt19937_64 random(seed);
  std::lognormal_distribution<double> latency(std::log(median_ns), 0.3);
  for (std::int64_t i = 0; i < requests; ++i) {
    const auto ns = static_cast<std::int64_t>(latency(random));
    c.latency.Record(ns);
    c.raw_records.push_back(
        {i * 1000, i * 1000, i * 1000 + ns, static_cast<std::int32_t>(i % 2), 0, -1, -1});
  }
  c.completed_requests = requests;
  c.completed_inferences = requests;
  c.duration_s = 2.0;
  c.warmup_duration_s = 0.5;
  c.throughput_requests_per_s = requests / 2.0;
  c.client_cpu_user_s = 0.25;
  c.client_cpu_sys_s = 0.125;
  c.bytes_sent = requests * 100;
  c.errors["unavailable"] = rank;
  c.sub_window_s = 0.2;
  for (int b = 0; b <= 10; ++b) c.window_progress.push_back(requests * b / 10.0);
  ServerShare& a = c.servers.emplace_back();
  a.address = "a:1";
  a.requests = requests / 2;
  a.latency.Record(static_cast<std::int64_t>(median_ns));
  ServerShare& b = c.servers.emplace_back();
  b.address = rank % 2 == 0 ? "b:2" : "c:3";
  b.requests = requests - requests / 2;
  return r;
}

TEST(RankResultEncoding, RoundTripsEverything) {
  RankResult rank = SampleRank(3, 500, 2e6, 7);
  rank.result.server.emplace();
  rank.result.server->request_count = 12;
  rank.result.server->executed_batch_sizes[4] = 3;
  rank.result.convergence_reason = "fixed window";
  const RankResult back = DecodeRankResult(EncodeRankResult(rank));
  EXPECT_EQ(back.rank, 3);
  EXPECT_EQ(back.host, "node3");
  EXPECT_EQ(back.barrier_exit_ns, rank.barrier_exit_ns);
  const CellResult& a = rank.result;
  const CellResult& b = back.result;
  EXPECT_TRUE(a.latency == b.latency);
  EXPECT_EQ(a.raw_records, b.raw_records);
  EXPECT_EQ(a.errors, b.errors);
  EXPECT_EQ(a.server, b.server);
  EXPECT_EQ(a.servers, b.servers);
  EXPECT_EQ(a.window_progress, b.window_progress);
  EXPECT_EQ(a.convergence_reason, b.convergence_reason);
  EXPECT_EQ(a.client_cpu_sys_s, b.client_cpu_sys_s);
}

TEST(RankResultEncoding, RejectsTruncatedMessages) {
  const std::string bytes = EncodeRankResult(SampleRank(1, 10, 1e6, 1));
  EXPECT_THROW(DecodeRankResult(std::string_view(bytes).substr(0, bytes.size() - 3)), Error);
  EXPECT_THROW(DecodeRankResult(bytes + "x"), Error);
}

TEST(MergeRankResults, SumsCountsAndMergesHistogramsExactly) {
  std::vector<RankResult> ranks;
  for (int r = 0; r < 4; ++r) ranks.push_back(SampleRank(r, 300 + 100 * r, 1e6 * (r + 1), r));
  std::vector<ClockOffset> offsets = {{0, 0}, {5000, 100}, {-3000, 200}, {0, 50}};
  LoadSettings load;
  load.sub_windows = 10;
  load.min_requests = 10;
  load.ci_fraction = 0.5;
  const CellResult merged = MergeRankResults(ranks, offsets, load, /*batch=*/2);

  std::int64_t requests = 0;
  LatencyHistogram all;
  std::vector<std::int64_t> values;
  for (const RankResult& r : ranks) {
    requests += r.result.completed_requests;
    all.Merge(r.result.latency);
    for (const RequestRecord& record : r.result.raw_records) {
      values.push_back(record.received_ns - record.scheduled_ns);
    }
  }
  EXPECT_EQ(merged.completed_requests, requests);
  EXPECT_EQ(merged.completed_inferences, 2 * requests);
  EXPECT_EQ(merged.latency.count(), requests);
  EXPECT_TRUE(merged.latency == all);
  EXPECT_DOUBLE_EQ(merged.throughput_requests_per_s, requests / 2.0);
  EXPECT_DOUBLE_EQ(merged.client_cpu_user_s, 1.0);
  EXPECT_EQ(merged.errors.at("unavailable"), 0 + 1 + 2 + 3);
  ASSERT_EQ(merged.raw_records.size(), values.size());
  // Percentiles of the concatenated raw latencies, nearest rank, within the histogram's error.
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * values.size()));
    const double exact = static_cast<double>(values[rank - 1]);
    EXPECT_NEAR(merged.latency.Percentile(q), exact, exact * LatencyHistogram::kRelativeError);
  }
  // Workers numbered globally, timestamps on rank 0's clock.
  std::int32_t max_worker = 0;
  for (const RequestRecord& record : merged.raw_records)
    max_worker = std::max(max_worker, record.worker);
  EXPECT_EQ(max_worker, 7);
  EXPECT_TRUE(std::is_sorted(merged.raw_records.begin(), merged.raw_records.end(),
                             [](const RequestRecord& a, const RequestRecord& b) {
                               return a.scheduled_ns < b.scheduled_ns;
                             }));
  // Servers merged by address, in first-seen order.
  ASSERT_EQ(merged.servers.size(), 3u);
  EXPECT_EQ(merged.servers[0].address, "a:1");
  EXPECT_EQ(merged.servers[0].latency.count(), 4);
  EXPECT_EQ(merged.servers[1].address, "b:2");
  EXPECT_EQ(merged.servers[1].requests,
            ranks[0].result.servers[1].requests + ranks[2].result.servers[1].requests);
  // Per-rank summaries and the alignment: rank r left the barrier r us late on its own clock.
  ASSERT_TRUE(merged.fleet);
  ASSERT_EQ(merged.fleet->ranks.size(), 4u);
  EXPECT_EQ(merged.fleet->ranks[1].completed_requests, 400);
  EXPECT_EQ(merged.fleet->ranks[1].clock_offset_ns, 5000);
  EXPECT_EQ(merged.fleet->ranks[1].window_start_ns, 1000 - 5000);
  EXPECT_EQ(merged.fleet->ranks[2].window_start_ns, 2000 + 3000);
  EXPECT_EQ(merged.fleet->start_spread_ns, 5000 + 4000);
  EXPECT_EQ(merged.fleet->alignment_error_ns, 9000 + 200);
  EXPECT_EQ(merged.status, CellStatus::kOk) << merged.convergence_reason;
}

TEST(MergeRankResults, AFailedRankFailsTheCellNamingIt) {
  std::vector<RankResult> ranks = {SampleRank(0, 100, 1e6, 1), SampleRank(1, 100, 1e6, 2)};
  ranks[1].result.status = CellStatus::kFailed;
  ranks[1].result.error_message = "unavailable: server gone";
  const CellResult merged = MergeRankResults(ranks, {}, LoadSettings{}, 1);
  EXPECT_EQ(merged.status, CellStatus::kFailed);
  EXPECT_NE(merged.error_message.find("rank 1 (node1): unavailable: server gone"),
            std::string::npos)
      << merged.error_message;
}

}  // namespace
}  // namespace sonic
