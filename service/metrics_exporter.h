#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "service/host_metrics.h"
#include "service/statistics.h"

namespace sonic::service {

// One served model as a scrape sees it.
struct ModelMetricsInput {
  ModelStatsSnapshot stats;  // the very counters the statistics RPC reports
  int max_batch = 1;
  std::size_t pending_requests = 0;
};

// The metric families of one scrape: pure, so that what each metric means is testable without a
// server. Triton's names, labels (model, version; gpu_uuid) and units wherever the meaning is the
// same -- counts, and cumulative durations in microseconds (the statistics' nanoseconds / 1000,
// exactly, not rounded per request) -- and sonic_* names for what Triton lacks: the executed
// batch-size histogram and each instance's busy time and executions.
// nv_inference_request_duration_us sums the successful requests (the statistics' "success").
std::vector<prometheus::MetricFamily> BuildMetricFamilies(
    const std::vector<ModelMetricsInput>& models, const HostSample& host);

// What the exporter answers to one HTTP request head (request line and headers, without the
// blank line): 200 for a GET of /metrics (a query string allowed), 400 for what is not an
// HTTP/1.x request line, 404 for another path, 405 for another method. Pure.
int MetricsRequestStatus(std::string_view request_head);

struct MetricsExporterOptions {
  std::string bind_address = "127.0.0.1";  // as the server's: loopback unless told otherwise
  int port = 0;                            // 0: a free port, chosen by the kernel
  bool gpus = false;                       // read NVML (a model runs on cudnn)
};

// Serves GET /metrics in Prometheus's text format (version 0.0.4, prometheus-cpp's data model and
// TextSerializer), one request per connection, on one thread of its own: a poll loop over every
// open connection. Each scrape calls `models` and BuildMetricFamilies on that thread, so values
// are current, never cached but for the host's gauges (HostSampler).
// Bounds, so that neither a scrape storm nor a bad client can disturb inference or starve other
// scrapers: one thread, so a storm costs inference at most one thread's worth of short statistics
// locks; at most kMaxConnections connections open, beyond which a new one is closed unanswered; a
// request head over kMaxRequestBytes gets 431, anything else malformed its HTTP error
// (MetricsRequestStatus); a connection that has not sent its request and taken its response
// within kConnectionTimeoutMs is closed. A slow client only ever holds its own connection.
// (Not prometheus-cpp's civetweb Exposer: civetweb gives its threads a fixed 100 KiB stack, and
// cuBLASLt's static TLS alone is 94 KiB, so in a binary linking cudnn it cannot start a thread.)
// Contract: `models` must be thread-safe and outlive the exporter; the constructor returns with
// the port bound; destruction stops serving and joins the thread.
class MetricsExporter {
 public:
  using ModelsFn = std::function<std::vector<ModelMetricsInput>()>;
  static constexpr std::size_t kMaxConnections = 64;
  static constexpr std::size_t kMaxRequestBytes = 8192;
  static constexpr int kConnectionTimeoutMs = 5000;

  // Throws Error(kUnavailable) when the address cannot be bound.
  MetricsExporter(const MetricsExporterOptions& options, ModelsFn models);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  int port() const;
  std::string url() const;  // "http://host:port/metrics", for a scraper
  const std::string& gpu_status() const;
  std::uint64_t scrapes() const;  // requests answered 200 so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sonic::service
