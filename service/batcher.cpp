#include "service/batcher.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>

#include "core/clock.h"
#include "core/error.h"

namespace sonic::service {

void BatcherOptions::Validate() const {
  if (max_batch < 1) {
    Throw(ErrorKind::kInvalidArgument, "max batch {} must be at least 1", max_batch);
  }
  for (const int size : preferred_batch) {
    if (size < 1 || size > max_batch) {
      Throw(ErrorKind::kInvalidArgument, "preferred batch size {} must be in [1, max batch {}]",
            size, max_batch);
    }
  }
  if (max_queue_delay_us < 0) {
    Throw(ErrorKind::kInvalidArgument, "max queue delay {} us must not be negative",
          max_queue_delay_us);
  }
}

std::string BatcherOptions::ToString() const {
  if (!dynamic) return fmt::format("off (one request per execution, max batch {})", max_batch);
  return fmt::format(
      "dynamic, max batch {}, preferred {}, max queue delay {} us", max_batch,
      preferred_batch.empty() ? "none" : fmt::format("{}", fmt::join(preferred_batch, ",")),
      max_queue_delay_us);
}

DynamicBatcher::DynamicBatcher(BatcherOptions options, int instances, ExecuteFn execute)
    : options_(std::move(options)),
      max_queue_delay_ns_(options_.max_queue_delay_us * 1000),
      execute_(std::move(execute)) {
  options_.Validate();
  if (instances < 1)
    Throw(ErrorKind::kInvalidArgument, "instances {} must be at least 1", instances);
  threads_.reserve(instances);
  for (int i = 0; i < instances; ++i) threads_.emplace_back([this, i] { InstanceLoop(i); });
}

DynamicBatcher::~DynamicBatcher() { Stop(); }

bool DynamicBatcher::Enqueue(BatchItem* item) {
  if (item->batch < 1 || item->batch > options_.max_batch) {
    Throw(ErrorKind::kInternal, "batcher: request of batch {} outside [1, {}] was not validated",
          item->batch, options_.max_batch);
  }
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    queue_.push_back(item);
  }
  wake_.notify_one();
  return true;
}

std::size_t DynamicBatcher::QueuedItems() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void DynamicBatcher::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

std::size_t DynamicBatcher::ReadyCount(std::int64_t now_ns, std::int64_t* wake_ns) const {
  if (!options_.dynamic) return 1;
  int samples = 0;
  std::size_t count = 0;
  std::size_t preferred_count = 0;
  for (const BatchItem* item : queue_) {
    if (samples + item->batch > options_.max_batch) return count;  // full: the next won't fit
    samples += item->batch;
    ++count;
    if (std::find(options_.preferred_batch.begin(), options_.preferred_batch.end(), samples) !=
        options_.preferred_batch.end()) {
      preferred_count = count;
    }
  }
  if (samples == options_.max_batch) return count;
  if (preferred_count > 0) return preferred_count;
  const std::int64_t deadline_ns = queue_.front()->enqueue_ns + max_queue_delay_ns_;
  if (stopping_ || now_ns >= deadline_ns) return count;
  *wake_ns = deadline_ns;
  return 0;
}

void DynamicBatcher::InstanceLoop(int instance) {
  std::vector<BatchItem*> items;
  items.reserve(options_.max_batch);
  std::unique_lock lock(mutex_);
  while (true) {
    if (queue_.empty()) {
      if (stopping_) return;
      wake_.wait(lock);
      continue;
    }
    std::int64_t wake_ns = 0;
    const std::size_t count = ReadyCount(MonotonicNs(), &wake_ns);
    if (count == 0) {
      // steady_clock is CLOCK_MONOTONIC on Linux, the clock of MonotonicNs().
      wake_.wait_until(lock,
                       std::chrono::steady_clock::time_point(std::chrono::nanoseconds(wake_ns)));
      continue;
    }
    items.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count));
    const bool more = !queue_.empty();
    lock.unlock();
    // Another idle instance can start forming the next batch while this one executes.
    if (more) wake_.notify_one();
    int samples = 0;
    for (const BatchItem* item : items) samples += item->batch;
    execute_(instance, items, samples);
    lock.lock();
  }
}

}  // namespace sonic::service
