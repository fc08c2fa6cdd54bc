#include "service/statistics.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace sonic::service {
namespace {

DurationStat Minus(const DurationStat& after, const DurationStat& before) {
  return {after.count - before.count, after.ns - before.ns};
}

}  // namespace

std::string ModelStatsSnapshot::ToString() const {
  std::string text = fmt::format(
      "model {} (version {}): {} requests ok, {} failed, {} inferences in {} executions\n", name,
      version, success.count, fail.count, inference_count, execution_count);
  text += fmt::format(
      "  mean per request: total {:.1f} us, queue {:.1f} us, compute input {:.1f} us, "
      "infer {:.1f} us, output {:.1f} us\n",
      success.mean_us(), queue.mean_us(), compute_input.mean_us(), compute_infer.mean_us(),
      compute_output.mean_us());
  for (const auto& [batch, stats] : batch_stats) {
    text += fmt::format("  batch {:>4}: {:>10} executions, infer {:.1f} us each\n", batch,
                        stats.compute_infer.count, stats.compute_infer.mean_us());
  }
  for (std::size_t i = 0; i < instance_busy.size(); ++i) {
    text += fmt::format("  instance {}: {} executions, busy {:.3f} s\n", i, instance_busy[i].count,
                        static_cast<double>(instance_busy[i].ns) / 1e9);
  }
  return text;
}

ModelStatsSnapshot Delta(const ModelStatsSnapshot& before, const ModelStatsSnapshot& after) {
  ModelStatsSnapshot delta = after;
  delta.inference_count = after.inference_count - before.inference_count;
  delta.execution_count = after.execution_count - before.execution_count;
  delta.success = Minus(after.success, before.success);
  delta.fail = Minus(after.fail, before.fail);
  delta.queue = Minus(after.queue, before.queue);
  delta.compute_input = Minus(after.compute_input, before.compute_input);
  delta.compute_infer = Minus(after.compute_infer, before.compute_infer);
  delta.compute_output = Minus(after.compute_output, before.compute_output);
  delta.batch_stats.clear();
  for (const auto& [batch, stats] : after.batch_stats) {
    BatchSizeStats base;
    if (const auto it = before.batch_stats.find(batch); it != before.batch_stats.end()) {
      base = it->second;
    }
    const BatchSizeStats diff{Minus(stats.compute_input, base.compute_input),
                              Minus(stats.compute_infer, base.compute_infer),
                              Minus(stats.compute_output, base.compute_output)};
    if (diff.compute_infer.count > 0) delta.batch_stats[batch] = diff;
  }
  for (std::size_t i = 0; i < delta.instance_busy.size(); ++i) {
    if (i < before.instance_busy.size()) {
      delta.instance_busy[i] = Minus(after.instance_busy[i], before.instance_busy[i]);
    }
  }
  return delta;
}

ModelStatsRecorder::ModelStatsRecorder(std::string name, std::string version, int instances) {
  stats_.name = std::move(name);
  stats_.version = std::move(version);
  stats_.instance_busy.resize(static_cast<std::size_t>(std::max(instances, 1)));
}

void ModelStatsRecorder::RecordExecution(int samples, int requests, std::int64_t queue_ns,
                                         std::int64_t input_ns, std::int64_t infer_ns,
                                         std::int64_t output_ns) {
  const auto n = static_cast<std::uint64_t>(requests);
  std::lock_guard lock(mutex_);
  stats_.execution_count += 1;
  stats_.queue.count += n;
  stats_.queue.ns += static_cast<std::uint64_t>(queue_ns);
  stats_.compute_input.count += n;
  stats_.compute_input.ns += n * static_cast<std::uint64_t>(input_ns);
  stats_.compute_infer.count += n;
  stats_.compute_infer.ns += n * static_cast<std::uint64_t>(infer_ns);
  stats_.compute_output.count += n;
  stats_.compute_output.ns += n * static_cast<std::uint64_t>(output_ns);
  BatchSizeStats& batch = stats_.batch_stats[static_cast<std::uint64_t>(samples)];
  batch.compute_input.Add(input_ns);
  batch.compute_infer.Add(infer_ns);
  batch.compute_output.Add(output_ns);
}

void ModelStatsRecorder::RecordSuccess(int samples, std::int64_t request_ns) {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::lock_guard lock(mutex_);
  stats_.success.Add(request_ns);
  stats_.inference_count += static_cast<std::uint64_t>(samples);
  stats_.last_inference_ms = static_cast<std::uint64_t>(now_ms);
}

void ModelStatsRecorder::RecordFailure(std::int64_t request_ns) {
  std::lock_guard lock(mutex_);
  stats_.fail.Add(request_ns);
}

void ModelStatsRecorder::RecordInstanceBusy(int instance, std::int64_t busy_ns) {
  std::lock_guard lock(mutex_);
  if (instance < 0 || static_cast<std::size_t>(instance) >= stats_.instance_busy.size()) {
    Throw(ErrorKind::kInternal, "statistics of model '{}': instance {} outside [0, {})",
          stats_.name, instance, stats_.instance_busy.size());
  }
  stats_.instance_busy[static_cast<std::size_t>(instance)].Add(busy_ns);
}

ModelStatsSnapshot ModelStatsRecorder::Snapshot() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace sonic::service
