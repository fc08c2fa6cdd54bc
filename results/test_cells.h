#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "core/random.h"
#include "results/cell.h"
#include "results/results_file.h"

namespace sonic::testing {

// Test fixtures shared by the results tests: cells whose histograms and raw records agree (every
// raw record is also in the latency histogram), as the load generator produces them.

inline RunInfo SampleRunInfo(const std::string& run_id) {
  RunInfo info = CurrentRunInfo();
  info.run_id = run_id;
  info.host = "node0";
  info.cpu_model = "Test CPU @ 2.0GHz";
  info.command_line = "sonicbench sweep --backend null --batch 1,2";
  info.config_text = "backend = null\nbatch = 1,2\n";
  info.seeds = {{"arrivals", 1}, {"inputs", 42}};
  info.cpu_peak_gflops = 400.5;
  info.system = {.cpu_cores = 2,
                 .online_cpus = 2,
                 .isa = "avx2 fma avx512f",
                 .memory_bytes = std::int64_t{24} << 30,
                 .int8_peak_gops = 1600.25,
                 .bf16_peak_gflops = 801.5,
                 .amx_bf16_peak_gflops = 9001.25,
                 .amx_int8_peak_gops = 18002.5,
                 .stream_triad_gbs = 31.75};
  info.library_versions["onednn"] = "2.6.3";
  info.device_names = {{"null", "none"}, {"onednn", "cpu"}};
  return info;
}

inline CellSettings SampleSettings(std::int64_t batch, std::int64_t concurrency) {
  CellSettings s;
  s.backend = "null";
  s.model = "jet_tagger";
  s.batch = batch;
  s.concurrency = concurrency;
  return s;
}

// A measured cell: `requests` requests with log-normal latencies around `median_ns`, every one
// kept as a raw record unless `raw_cap` is smaller.
inline CellResult SampleResult(std::uint64_t seed, std::int64_t requests, double median_ns,
                               double throughput, std::int64_t raw_cap = 1'000'000) {
  Random random(seed);
  CellResult r;
  r.converged = true;
  r.convergence_reason = "ci 1.2% <= 5%";
  r.warmup_duration_s = 0.5;
  r.warmup_requests = 100;
  r.duration_s = 2.0;
  r.completed_requests = requests;
  r.completed_inferences = requests * 2;
  r.throughput_requests_per_s = throughput / 2;
  r.throughput_requests_per_s_ci95 = throughput / 2 * 0.01;
  r.throughput_inferences_per_s = throughput;
  r.throughput_inferences_per_s_ci95 = throughput * 0.01;
  std::int64_t now_ns = 1'000'000'000;
  for (std::int64_t i = 0; i < requests; ++i) {
    const auto latency_ns =
        static_cast<std::int64_t>(std::exp(random.Normal(std::log(median_ns), 0.5)));
    const std::int64_t lag_ns = 100 + static_cast<std::int64_t>(random.Uniform(0, 1000));
    r.latency.Record(latency_ns);
    r.send_lag.Record(lag_ns);
    if (static_cast<std::int64_t>(r.raw_records.size()) < raw_cap) {
      r.raw_records.push_back({now_ns, now_ns + lag_ns, now_ns + latency_ns,
                               static_cast<std::int32_t>(i % 2), 0, -1, -1});
    } else {
      r.raw_records_truncated = true;
    }
    now_ns += 1000;
  }
  r.client_cpu_user_s = 1.5;
  r.client_cpu_sys_s = 0.25;
  r.errors = {{"unavailable", 2}, {"internal", 1}};
  r.bytes_sent = 123456789;
  r.bytes_received = 4567;
  return r;
}

// Gives a measured cell two servers (its latencies split between them, alternately) and, spread
// over `ranks` client processes, per-rank summaries whose counts add up to the cell's.
inline void AddServersAndRanks(CellResult& r, std::int64_t concurrency, int ranks) {
  r.servers.resize(2);
  r.servers[0].address = "10.0.0.1:8001";
  r.servers[1].address = "10.0.0.2:8001";
  for (std::size_t i = 0; i < r.raw_records.size(); ++i) {
    ServerShare& share = r.servers[i % 2];
    ++share.requests;
    share.bytes_sent += 100;
    share.latency.Record(r.raw_records[i].received_ns - r.raw_records[i].sent_ns);
  }
  ++r.servers[1].requests;
  ++r.servers[1].errors;
  FleetInfo& fleet = r.fleet.emplace();
  for (int k = 0; k < ranks; ++k) {
    RankSummary& rank = fleet.ranks.emplace_back();
    rank.rank = k;
    rank.host = "node" + std::to_string(k / 2);
    rank.concurrency = concurrency / ranks + (k < concurrency % ranks ? 1 : 0);
    rank.completed_requests =
        r.completed_requests / ranks + (k == 0 ? r.completed_requests % ranks : 0);
    rank.duration_s = r.duration_s;
    rank.throughput_requests_per_s = rank.completed_requests / r.duration_s;
    rank.latency_p50_ns = 1e6 + k;
    rank.latency_p99_ns = 3e6 + k;
    rank.client_cpu_user_s = 0.5;
    rank.client_cpu_sys_s = 0.125;
    rank.clock_offset_ns = std::int64_t{-1234} * k;
    rank.clock_offset_uncertainty_ns = std::int64_t{40} * k;
    rank.window_start_ns = std::int64_t{1000} * k;
    rank.window_end_ns = 2'000'000'000 + std::int64_t{900} * k;
  }
  fleet.start_spread_ns = std::int64_t{1000} * (ranks - 1);
  fleet.end_spread_ns = std::int64_t{900} * (ranks - 1);
  fleet.alignment_error_ns = fleet.start_spread_ns + std::int64_t{40} * (ranks - 1);
}

}  // namespace sonic::testing
