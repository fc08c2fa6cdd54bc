#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "results/cell.h"
#include "service/metrics_scrape.h"

namespace sonic {

// A sample's name as ServerMetrics keeps it: `name{key="value",...}` with the labels sorted by
// key (escaped as the text format escapes them), or the bare name without labels. Pure.
std::string MetricSampleName(const service::MetricSample& sample);

// The counters' deltas between two scrapes of one endpoint: every sample of a family typed
// counter, and a histogram's or summary's _sum, _count and _bucket samples, present in both,
// after - before, in `after`'s order. Pure.
std::vector<MetricDelta> CounterDeltas(const service::ScrapedMetrics& before,
                                       const service::ScrapedMetrics& after);

// The samples of gauge families in one scrape, at `t_s`. Pure.
std::vector<MetricPoint> GaugePoints(const service::ScrapedMetrics& scrape, double t_s);

// Scrapes a server's metrics endpoint around one cell: the constructor takes the first scrape
// and starts a thread that scrapes every `interval` for the gauges; Finish takes the last one and
// returns the counters' deltas and the gauges' series (the first and last scrapes included). A
// scrape that fails ends the recording with ServerMetrics::error naming it; the cell goes on.
// Each scrape is bounded by `timeout`. Not thread-safe: one cell's controller calls it.
class CellMetricsRecorder {
 public:
  CellMetricsRecorder(const service::MetricsUrl& url, std::chrono::milliseconds interval,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  ~CellMetricsRecorder();
  CellMetricsRecorder(const CellMetricsRecorder&) = delete;
  CellMetricsRecorder& operator=(const CellMetricsRecorder&) = delete;

  ServerMetrics Finish();

 private:
  void Poll();
  // Scrapes once; false (error_ set) when it failed.
  std::optional<service::ScrapedMetrics> Scrape();

  const service::MetricsUrl url_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds timeout_;
  const std::chrono::steady_clock::time_point start_;
  std::optional<service::ScrapedMetrics> first_;
  std::mutex mutex_;  // guards the fields below and the poller's wake-up
  std::condition_variable wake_;
  bool stop_ = false;
  std::string error_;
  std::vector<MetricPoint> gauges_;
  std::thread poller_;
};

}  // namespace sonic
