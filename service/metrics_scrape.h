#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sonic::service {

// One sample line of Prometheus's text format. A histogram family `h` gives samples named
// h_bucket (with an "le" label), h_sum and h_count, as the text has them.
struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// A parsed scrape: its samples in text order, and each family's declared type ("counter",
// "gauge", "histogram", ...) from the # TYPE lines.
struct ScrapedMetrics {
  std::vector<MetricSample> samples;
  std::map<std::string, std::string> types;

  // The first sample called `name` whose labels include every one of `labels`.
  std::optional<double> Find(std::string_view name,
                             const std::map<std::string, std::string>& labels = {}) const;
};

// Parses Prometheus's text exposition format (version 0.0.4): comments, # TYPE, samples with
// optional labels (escapes \\ \" \n) and an optional timestamp, values including +Inf, -Inf and
// NaN. Throws Error(kInvalidArgument) naming the line and what was expected. Pure.
ScrapedMetrics ParseMetricsText(std::string_view text);

// Where a metrics endpoint is: "http://HOST:PORT[/PATH]" (PATH defaults to /metrics; HOST may be
// a [bracketed] IPv6 address). https is not supported.
struct MetricsUrl {
  std::string host;  // without brackets
  int port = 0;
  std::string path = "/metrics";
  std::string ToString() const;
};
// Throws Error(kInvalidArgument) naming what is wrong with `url`. Pure.
MetricsUrl ParseMetricsUrl(std::string_view url);

// The body of an HTTP/1.1 response (`response` is all of it, headers included), de-chunked when
// its Transfer-Encoding is chunked. Throws Error(kUnavailable) for a status other than 200 and
// Error(kInvalidArgument) for a response that does not parse. Pure.
std::string HttpResponseBody(std::string_view response);

// GETs the endpoint and parses it: one plain-HTTP connection, closed after the response, the
// whole exchange bounded by `timeout` and the response by kMaxResponseBytes. Throws
// Error(kUnavailable) naming the URL when it cannot connect, times out or is refused, and
// Error(kInvalidArgument) when what comes back is not Prometheus text. Thread-safe.
constexpr std::size_t kMaxResponseBytes = 64 << 20;
ScrapedMetrics ScrapeMetrics(const MetricsUrl& url, std::chrono::milliseconds timeout);

}  // namespace sonic::service
