#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace sonic::service {

struct BatcherOptions {
  bool dynamic = true;  // false: every request runs alone, in arrival order
  int max_batch = 1;    // samples per execution
  // Batch sizes to prefer, in [1, max_batch]: as soon as the queue's head adds up to one of them,
  // the largest such group runs without waiting for the delay (Triton's dynamic batcher rule).
  std::vector<int> preferred_batch;
  // How long the oldest request may wait for others to join its batch before it runs anyway.
  std::int64_t max_queue_delay_us = 0;

  // Throws Error(kInvalidArgument) naming the bad setting.
  void Validate() const;
  std::string ToString() const;  // "dynamic, max 8, preferred 4,8, delay 100 us"
};

// One queued request of `batch` samples that arrived at `enqueue_ns` (MonotonicNs).
struct BatchItem {
  int batch = 1;
  std::int64_t enqueue_ns = 0;
};

// Groups queued requests into executions, one thread per model instance.
// Rules, for the requests at the head of the queue in arrival order whose samples fit in
// max_batch: run them when they fill max_batch or the next request would not fit; else run the
// largest head group whose size is a preferred batch size, if any; else run them all once the
// oldest has waited max_queue_delay_us. Off: one request per execution.
// Contract: Enqueue is thread-safe, never blocks on an execution and does not take ownership: an
// item must live until `execute` has been called for it. `execute(instance, items, samples)` runs
// on instance thread `instance` (one call at a time per instance), with items in arrival order
// whose batches add up to `samples` ≤ max_batch, and must finish every item it is given.
class DynamicBatcher {
 public:
  using ExecuteFn =
      std::function<void(int instance, std::span<BatchItem* const> items, int samples)>;

  // Starts `instances` threads. Throws Error(kInvalidArgument) for bad options.
  DynamicBatcher(BatcherOptions options, int instances, ExecuteFn execute);
  ~DynamicBatcher();  // Stop()
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues an item whose batch is in [1, max_batch] (Error(kInternal) otherwise: the caller
  // validates). Returns false, without queueing, once Stop() has begun.
  bool Enqueue(BatchItem* item);
  // Items queued and not yet handed to an instance. Thread-safe.
  std::size_t QueuedItems() const;
  // Executes everything still queued (without waiting for delays), then joins the threads.
  void Stop();

 private:
  void InstanceLoop(int instance);
  // With mutex_ held: how many head items to run now; 0 means wait until *wake_ns.
  std::size_t ReadyCount(std::int64_t now_ns, std::int64_t* wake_ns) const;

  const BatcherOptions options_;
  const std::int64_t max_queue_delay_ns_;
  const ExecuteFn execute_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<BatchItem*> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sonic::service
