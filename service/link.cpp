#include "service/link.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "core/error.h"
#include "core/parse.h"

namespace sonic::service {
namespace {

constexpr std::string_view kAccepted =
    "accepted: none, edge, cloud, or rtt_ms=R,bandwidth_gbps=B (e.g. rtt_ms=5,bandwidth_gbps=2.5)";

double ParseNumber(std::string_view key, std::string_view value) {
  const std::optional<double> number = TryParseDouble(value);
  if (!number || *number < 0) {
    Throw(ErrorKind::kInvalidArgument, "link: {}='{}' is not a non-negative number; {}", key, value,
          kAccepted);
  }
  return *number;
}

}  // namespace

std::string LinkProfile::ToString() const {
  if (!emulated()) return name;
  const std::string bandwidth =
      bandwidth_bps > 0 ? fmt::format("{:g} Gbit/s", bandwidth_bps / 1e9) : "unlimited";
  return fmt::format("{} (rtt {:g} ms, {})", name, static_cast<double>(rtt_ns) / 1e6, bandwidth);
}

LinkProfile ParseLink(std::string_view text) {
  if (text.empty() || text == "none") return {};
  if (text == "edge") return {"edge", 1'000'000, 10e9};
  if (text == "cloud") return {"cloud", 10'000'000, 1e9};
  LinkProfile profile{"custom", 0, 0};
  bool any = false;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      Throw(ErrorKind::kInvalidArgument, "link: '{}' is not key=value; {}", item, kAccepted);
    }
    const std::string_view key = item.substr(0, equals);
    const double value = ParseNumber(key, item.substr(equals + 1));
    if (key == "rtt_ms") {
      profile.rtt_ns = std::llround(value * 1e6);
    } else if (key == "bandwidth_gbps") {
      profile.bandwidth_bps = value * 1e9;
    } else {
      Throw(ErrorKind::kInvalidArgument, "link: unknown key '{}'; {}", key, kAccepted);
    }
    any = true;
  }
  if (!any) Throw(ErrorKind::kInvalidArgument, "link: empty description; {}", kAccepted);
  return profile;
}

DelayQueue::DelayQueue() : thread_([this] { Loop(); }) {}

DelayQueue::~DelayQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void DelayQueue::Schedule(std::int64_t due_ns, std::function<void()> callback) {
  bool earliest;
  {
    std::lock_guard lock(mutex_);
    earliest = entries_.empty() || due_ns < entries_.top().due_ns;
    entries_.push({due_ns, next_sequence_++, std::move(callback)});
  }
  // Only a new earliest entry changes how long the loop must sleep.
  if (earliest) wake_.notify_one();
}

void DelayQueue::Loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (entries_.empty()) {
      if (stopping_) return;
      wake_.wait(lock);
      continue;
    }
    const std::int64_t due_ns = entries_.top().due_ns;
    // steady_clock is CLOCK_MONOTONIC on Linux, the clock of MonotonicNs().
    const auto due = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due_ns));
    if (!stopping_ && std::chrono::steady_clock::now() < due) {
      wake_.wait_until(lock, due);
      continue;
    }
    // priority_queue::top is const; the entry is popped right after, so moving from it is safe.
    std::function<void()> callback = std::move(const_cast<Entry&>(entries_.top()).callback);
    entries_.pop();
    lock.unlock();
    callback();
    lock.lock();
  }
}

std::int64_t LinkShaper::UplinkArrivalNs(std::int64_t now_ns, std::int64_t bytes) {
  return Arrival(now_ns, bytes, &uplink_free_ns_);
}

std::int64_t LinkShaper::DownlinkArrivalNs(std::int64_t now_ns, std::int64_t bytes) {
  return Arrival(now_ns, bytes, &downlink_free_ns_);
}

std::int64_t LinkShaper::Arrival(std::int64_t now_ns, std::int64_t bytes, std::int64_t* free_ns) {
  const std::int64_t serialisation_ns =
      profile_.bandwidth_bps > 0
          ? std::llround(static_cast<double>(bytes) * 8e9 / profile_.bandwidth_bps)
          : 0;
  std::lock_guard lock(mutex_);
  const std::int64_t start_ns = std::max(now_ns, *free_ns);
  *free_ns = start_ns + serialisation_ns;
  return *free_ns + profile_.rtt_ns / 2;
}

}  // namespace sonic::service
