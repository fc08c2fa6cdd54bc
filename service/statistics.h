#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace sonic::service {

// A cumulative duration: how many times, and their total in nanoseconds (Triton's
// StatisticDuration).
struct DurationStat {
  std::uint64_t count = 0;
  std::uint64_t ns = 0;
  void Add(std::int64_t duration_ns) {
    ++count;
    ns += static_cast<std::uint64_t>(duration_ns > 0 ? duration_ns : 0);
  }
  double mean_us() const { return count == 0 ? 0.0 : static_cast<double>(ns) / count / 1e3; }
};

struct BatchSizeStats {
  DurationStat compute_input, compute_infer, compute_output;  // counted per execution
};

// Everything the server knows about one model, with Triton's meanings: success and fail cover a
// request from its arrival to its response; queue and compute_* are counted per request (a
// request executed in a batch of several is charged the whole batch's compute times);
// batch_stats are per execution, by executed batch size (samples). instance_busy (which Triton
// does not report, nor does the statistics RPC) counts each instance's executions and the time its
// thread spent in them, up to the responses being ready to send (recorded before any goes out):
// busy ns over wall time is its duty cycle.
struct ModelStatsSnapshot {
  std::string name;
  std::string version;
  std::uint64_t last_inference_ms = 0;  // Unix epoch
  std::uint64_t inference_count = 0;    // samples that succeeded
  std::uint64_t execution_count = 0;    // model executions
  DurationStat success, fail, queue, compute_input, compute_infer, compute_output;
  std::map<std::uint64_t, BatchSizeStats> batch_stats;
  std::vector<DurationStat> instance_busy;  // by instance index

  // Multi-line report printed at server shutdown: counts, mean µs per stage, batch histogram.
  std::string ToString() const;
};

// `after` minus `before` for every cumulative field (the per-cell deltas a sweep stores).
ModelStatsSnapshot Delta(const ModelStatsSnapshot& before, const ModelStatsSnapshot& after);

// Accumulates one model's statistics. Thread-safe; each Record call takes one short lock.
class ModelStatsRecorder {
 public:
  ModelStatsRecorder(std::string name, std::string version, int instances = 1);

  // One execution of `requests` requests adding up to `samples`, with its three stage times;
  // `queue_ns` is the total time those requests spent queued.
  void RecordExecution(int samples, int requests, std::int64_t queue_ns, std::int64_t input_ns,
                       std::int64_t infer_ns, std::int64_t output_ns);
  void RecordSuccess(int samples, std::int64_t request_ns);
  void RecordFailure(std::int64_t request_ns);
  // One execution on instance `instance` (in [0, instances)) kept its thread busy for `busy_ns`.
  void RecordInstanceBusy(int instance, std::int64_t busy_ns);

  ModelStatsSnapshot Snapshot() const;

 private:
  mutable std::mutex mutex_;
  ModelStatsSnapshot stats_;
};

}  // namespace sonic::service
