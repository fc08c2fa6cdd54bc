#include "bench/fleet/fleet_merge.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <type_traits>

#include "bench/loadgen/cell_accumulator.h"
#include "bench/loadgen/convergence.h"
#include "core/error.h"

namespace sonic {
namespace {

class Encoder {
 public:
  template <typename T>
  void Put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes_.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  void Put(const std::string& text) {
    Put<std::uint64_t>(text.size());
    bytes_ += text;
  }
  template <typename T>
  void Put(const std::vector<T>& values) {
    static_assert(std::is_trivially_copyable_v<T>);
    Put<std::uint64_t>(values.size());
    if (!values.empty()) {
      bytes_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
    }
  }
  void Put(const LatencyHistogram& histogram) {
    const HistogramData d = histogram.Export();
    Put(d.lower_bound_ns);
    Put(d.count);
    for (std::int64_t v : {d.total_count, d.sum_ns, d.min_ns, d.max_ns, d.overflow_count}) Put(v);
    Put(d.sum_sq_hi);
    Put(d.sum_sq_lo);
  }
  std::string Take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  T Get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, Take(sizeof value), sizeof value);
    return value;
  }
  std::string GetString() {
    const auto size = Get<std::uint64_t>();
    return std::string(Take(size), size);
  }
  template <typename T>
  std::vector<T> GetVector() {
    const auto size = Get<std::uint64_t>();
    if (size > bytes_.size() / sizeof(T)) Fail();
    std::vector<T> values(size);
    // An empty vector's data() may be null, which memcpy must not get even for 0 bytes.
    if (size > 0) std::memcpy(values.data(), Take(size * sizeof(T)), size * sizeof(T));
    return values;
  }
  LatencyHistogram GetHistogram() {
    HistogramData d;
    d.lower_bound_ns = GetVector<std::int64_t>();
    d.count = GetVector<std::int64_t>();
    for (std::int64_t* v : {&d.total_count, &d.sum_ns, &d.min_ns, &d.max_ns, &d.overflow_count}) {
      *v = Get<std::int64_t>();
    }
    d.sum_sq_hi = Get<std::uint64_t>();
    d.sum_sq_lo = Get<std::uint64_t>();
    return LatencyHistogram::Import(d);
  }
  bool done() const { return bytes_.empty(); }

 private:
  [[noreturn]] void Fail() const {
    Throw(ErrorKind::kInternal, "fleet: a rank's result message is truncated or malformed");
  }
  const char* Take(std::size_t size) {
    if (size > bytes_.size()) Fail();
    const char* data = bytes_.data();
    bytes_.remove_prefix(size);
    return data;
  }
  std::string_view bytes_;
};

// A tag that changes whenever the encoding does, so that mixed builds fail loudly.
constexpr std::uint32_t kEncodingTag = 0x534e4631;  // "SNF1"

}  // namespace

int ConcurrencyShare(std::int64_t concurrency, int ranks, int rank) {
  return static_cast<int>(concurrency / ranks + (rank < concurrency % ranks ? 1 : 0));
}

int FirstWorker(std::int64_t concurrency, int ranks, int rank) {
  int first = 0;
  for (int r = 0; r < rank; ++r) first += ConcurrencyShare(concurrency, ranks, r);
  return first;
}

ClockOffset OffsetFromPingPong(std::int64_t t0_ns, std::int64_t remote_ns, std::int64_t t2_ns) {
  return {remote_ns - (t0_ns + (t2_ns - t0_ns) / 2), (t2_ns - t0_ns + 1) / 2};
}

std::string EncodeRankResult(const RankResult& rank) {
  const CellResult& r = rank.result;
  Encoder e;
  e.Put(kEncodingTag);
  e.Put(rank.rank);
  e.Put(rank.host);
  e.Put(rank.concurrency);
  e.Put(rank.barrier_exit_ns);
  e.Put(r.status);
  e.Put(r.error_message);
  e.Put(r.converged);
  e.Put(r.convergence_reason);
  for (double v : {r.warmup_duration_s, r.duration_s, r.throughput_inferences_per_s,
                   r.throughput_inferences_per_s_ci95, r.throughput_requests_per_s,
                   r.throughput_requests_per_s_ci95, r.client_cpu_user_s, r.client_cpu_sys_s,
                   r.sub_window_s}) {
    e.Put(v);
  }
  for (std::int64_t v : {r.warmup_requests, r.completed_requests, r.completed_inferences,
                         r.bytes_sent, r.bytes_received}) {
    e.Put(v);
  }
  e.Put(r.latency);
  e.Put(r.send_lag);
  e.Put(r.generator_behind);
  e.Put<std::uint64_t>(r.errors.size());
  for (const auto& [kind, count] : r.errors) {
    e.Put(kind);
    e.Put(count);
  }
  e.Put(r.server.has_value());
  if (r.server) {
    const ServerStats& s = *r.server;
    for (std::int64_t v : {s.request_count, s.inference_count, s.execution_count, s.queue_ns,
                           s.compute_input_ns, s.compute_infer_ns, s.compute_output_ns}) {
      e.Put(v);
    }
    e.Put<std::uint64_t>(s.executed_batch_sizes.size());
    for (const auto& [size, count] : s.executed_batch_sizes) {
      e.Put(size);
      e.Put(count);
    }
  }
  e.Put(r.raw_records);
  e.Put(r.raw_records_truncated);
  e.Put<std::uint64_t>(r.servers.size());
  for (const ServerShare& share : r.servers) {
    e.Put(share.address);
    for (std::int64_t v : {share.requests, share.errors, share.bytes_sent, share.bytes_received}) {
      e.Put(v);
    }
    e.Put(share.latency);
  }
  e.Put(r.window_progress);
  return e.Take();
}

RankResult DecodeRankResult(std::string_view bytes) {
  Decoder d(bytes);
  if (d.Get<std::uint32_t>() != kEncodingTag) {
    Throw(ErrorKind::kInternal, "fleet: a rank's result has another encoding (mixed builds?)");
  }
  RankResult rank;
  CellResult& r = rank.result;
  rank.rank = d.Get<std::int32_t>();
  rank.host = d.GetString();
  rank.concurrency = d.Get<std::int64_t>();
  rank.barrier_exit_ns = d.Get<std::int64_t>();
  r.status = d.Get<CellStatus>();
  r.error_message = d.GetString();
  r.converged = d.Get<bool>();
  r.convergence_reason = d.GetString();
  for (double* v : {&r.warmup_duration_s, &r.duration_s, &r.throughput_inferences_per_s,
                    &r.throughput_inferences_per_s_ci95, &r.throughput_requests_per_s,
                    &r.throughput_requests_per_s_ci95, &r.client_cpu_user_s, &r.client_cpu_sys_s,
                    &r.sub_window_s}) {
    *v = d.Get<double>();
  }
  for (std::int64_t* v : {&r.warmup_requests, &r.completed_requests, &r.completed_inferences,
                          &r.bytes_sent, &r.bytes_received}) {
    *v = d.Get<std::int64_t>();
  }
  r.latency = d.GetHistogram();
  r.send_lag = d.GetHistogram();
  r.generator_behind = d.Get<bool>();
  for (auto n = d.Get<std::uint64_t>(); n > 0; --n) {
    std::string kind = d.GetString();
    r.errors[kind] = d.Get<std::int64_t>();
  }
  if (d.Get<bool>()) {
    ServerStats& s = r.server.emplace();
    for (std::int64_t* v : {&s.request_count, &s.inference_count, &s.execution_count, &s.queue_ns,
                            &s.compute_input_ns, &s.compute_infer_ns, &s.compute_output_ns}) {
      *v = d.Get<std::int64_t>();
    }
    for (auto n = d.Get<std::uint64_t>(); n > 0; --n) {
      const auto size = d.Get<std::int32_t>();
      s.executed_batch_sizes[size] = d.Get<std::int64_t>();
    }
  }
  r.raw_records = d.GetVector<RequestRecord>();
  r.raw_records_truncated = d.Get<bool>();
  for (auto n = d.Get<std::uint64_t>(); n > 0; --n) {
    ServerShare& share = r.servers.emplace_back();
    share.address = d.GetString();
    for (std::int64_t* v :
         {&share.requests, &share.errors, &share.bytes_sent, &share.bytes_received}) {
      *v = d.Get<std::int64_t>();
    }
    share.latency = d.GetHistogram();
  }
  r.window_progress = d.GetVector<double>();
  if (!d.done()) Throw(ErrorKind::kInternal, "fleet: a rank's result has trailing bytes");
  return rank;
}

namespace {

RankSummary SummaryOf(const RankResult& rank, const ClockOffset& offset) {
  const CellResult& r = rank.result;
  RankSummary summary;
  summary.rank = rank.rank;
  summary.host = rank.host;
  summary.concurrency = rank.concurrency;
  summary.completed_requests = r.completed_requests;
  for (const auto& [kind, count] : r.errors) summary.error_count += count;
  summary.duration_s = r.duration_s;
  summary.throughput_requests_per_s = r.throughput_requests_per_s;
  summary.latency_p50_ns = r.latency.Percentile(0.5);
  summary.latency_p99_ns = r.latency.Percentile(0.99);
  summary.client_cpu_user_s = r.client_cpu_user_s;
  summary.client_cpu_sys_s = r.client_cpu_sys_s;
  summary.clock_offset_ns = offset.offset_ns;
  summary.clock_offset_uncertainty_ns = offset.uncertainty_ns;
  return summary;
}

bool Loaded(const RankResult& rank) { return rank.concurrency > 0 && rank.barrier_exit_ns != 0; }

// Each loaded rank's measured window in rank 0's clock, relative to the first loaded rank's
// start, and the spreads and alignment error of the windows.
void AlignWindows(std::span<const RankResult> ranks, std::span<const ClockOffset> offsets,
                  FleetInfo& fleet) {
  std::int64_t start_min = std::numeric_limits<std::int64_t>::max(), start_max = 0;
  std::int64_t end_min = start_min, end_max = 0, uncertainty_max = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> windows;  // rank 0's clock
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    if (!Loaded(ranks[i])) continue;
    const ClockOffset offset = i < offsets.size() ? offsets[i] : ClockOffset{};
    const CellResult& r = ranks[i].result;
    const std::int64_t start =
        ranks[i].barrier_exit_ns - offset.offset_ns + std::llround(r.warmup_duration_s * 1e9);
    const std::int64_t end = start + std::llround(r.duration_s * 1e9);
    windows.emplace_back(start, end);
    start_min = std::min(start_min, start);
    start_max = std::max(start_max, start);
    end_min = std::min(end_min, end);
    end_max = std::max(end_max, end);
    uncertainty_max = std::max(uncertainty_max, offset.uncertainty_ns);
  }
  if (windows.empty()) return;
  const std::int64_t origin = windows.front().first;
  for (std::size_t i = 0, w = 0; i < ranks.size(); ++i) {
    if (!Loaded(ranks[i])) continue;
    fleet.ranks[i].window_start_ns = windows[w].first - origin;
    fleet.ranks[i].window_end_ns = windows[w].second - origin;
    ++w;
  }
  fleet.start_spread_ns = start_max - start_min;
  fleet.end_spread_ns = end_max - end_min;
  fleet.alignment_error_ns = std::max(fleet.start_spread_ns, fleet.end_spread_ns) + uncertainty_max;
}

}  // namespace

CellResult MergeRankResults(std::span<const RankResult> ranks, std::span<const ClockOffset> offsets,
                            const LoadSettings& load, int batch) {
  CellAccumulator accumulator;
  FleetInfo fleet;
  std::string failures;
  std::vector<double> progress;
  bool have_progress = false;
  const RankResult* first_loaded = nullptr;
  double throughput_requests_per_s = 0;
  int worker_base = 0;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    const RankResult& rank = ranks[i];
    const CellResult& r = rank.result;
    const ClockOffset offset = i < offsets.size() ? offsets[i] : ClockOffset{};
    if (r.status == CellStatus::kFailed) {
      failures += fmt::format("{}rank {} ({}): {}", failures.empty() ? "" : "; ", rank.rank,
                              rank.host, r.error_message);
    }
    fleet.ranks.push_back(SummaryOf(rank, offset));
    accumulator.Add(r, offset.offset_ns, worker_base);
    throughput_requests_per_s += r.throughput_requests_per_s;
    worker_base += static_cast<int>(rank.concurrency);
    if (!Loaded(rank)) continue;
    if (first_loaded == nullptr) first_loaded = &rank;
    if (!have_progress) {
      progress = r.window_progress;
      have_progress = true;
    } else {
      progress.resize(std::min(progress.size(), r.window_progress.size()));
      for (std::size_t b = 0; b < progress.size(); ++b) progress[b] += r.window_progress[b];
    }
  }
  AlignWindows(ranks, offsets, fleet);

  CellResult merged = accumulator.Finish();
  merged.fleet = std::move(fleet);
  merged.throughput_requests_per_s = throughput_requests_per_s;
  merged.completed_inferences = merged.completed_requests * batch;
  merged.throughput_inferences_per_s = merged.throughput_requests_per_s * batch;
  if (first_loaded != nullptr) {
    merged.warmup_duration_s = first_loaded->result.warmup_duration_s;
    merged.duration_s = first_loaded->result.duration_s;
    merged.sub_window_s = first_loaded->result.sub_window_s;
  }
  merged.window_progress = std::move(progress);
  if (!failures.empty()) {
    merged.status = CellStatus::kFailed;
    merged.converged = false;
    merged.error_message = "fleet: " + failures;
    return merged;
  }
  JudgeFixedWindow(load, merged);
  const ThroughputEstimate estimate =
      EstimateThroughput(merged.window_progress, merged.sub_window_s, load.sub_windows);
  if (std::isfinite(estimate.relative_ci95)) {
    merged.throughput_requests_per_s_ci95 =
        estimate.relative_ci95 * merged.throughput_requests_per_s;
    merged.throughput_inferences_per_s_ci95 = merged.throughput_requests_per_s_ci95 * batch;
  }
  merged.convergence_reason += fmt::format("; {} ranks, windows aligned within {:.3g} ms",
                                           ranks.size(), merged.fleet->alignment_error_ns * 1e-6);
  for (const RankResult& rank : ranks) {
    if (rank.result.generator_behind) {
      merged.convergence_reason +=
          fmt::format("; rank {}: {}", rank.rank, rank.result.convergence_reason);
    }
  }
  return merged;
}

}  // namespace sonic
