#include "bench/loadgen/metrics_recorder.h"

#include <fmt/format.h>

#include <map>

#include "core/error.h"

namespace sonic {
namespace {

// Whether a sample of `scrape` is cumulative: its family is a counter, or it is a histogram's or
// summary's _sum, _count or _bucket.
bool IsCumulative(const service::ScrapedMetrics& scrape, const std::string& name) {
  const auto type_of = [&](const std::string& family) {
    const auto it = scrape.types.find(family);
    return it == scrape.types.end() ? std::string() : it->second;
  };
  if (type_of(name) == "counter") return true;
  for (const char* suffix : {"_sum", "_count", "_bucket"}) {
    const std::string_view text(suffix);
    if (name.size() > text.size() && name.ends_with(text)) {
      const std::string type = type_of(name.substr(0, name.size() - text.size()));
      if (type == "histogram" || type == "summary") return true;
    }
  }
  return false;
}

std::string Escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

}  // namespace

std::string MetricSampleName(const service::MetricSample& sample) {
  if (sample.labels.empty()) return sample.name;
  std::string name = sample.name + "{";
  bool first = true;
  for (const auto& [key, value] : sample.labels) {
    name += fmt::format("{}{}=\"{}\"", first ? "" : ",", key, Escaped(value));
    first = false;
  }
  return name + "}";
}

std::vector<MetricDelta> CounterDeltas(const service::ScrapedMetrics& before,
                                       const service::ScrapedMetrics& after) {
  std::map<std::string, double> earlier;
  for (const service::MetricSample& sample : before.samples) {
    if (IsCumulative(before, sample.name)) earlier[MetricSampleName(sample)] = sample.value;
  }
  std::vector<MetricDelta> deltas;
  for (const service::MetricSample& sample : after.samples) {
    if (!IsCumulative(after, sample.name)) continue;
    std::string name = MetricSampleName(sample);
    const auto it = earlier.find(name);
    if (it != earlier.end()) deltas.push_back({std::move(name), sample.value - it->second});
  }
  return deltas;
}

std::vector<MetricPoint> GaugePoints(const service::ScrapedMetrics& scrape, double t_s) {
  std::vector<MetricPoint> points;
  for (const service::MetricSample& sample : scrape.samples) {
    const auto type = scrape.types.find(sample.name);
    if (type != scrape.types.end() && type->second == "gauge") {
      points.push_back({t_s, MetricSampleName(sample), sample.value});
    }
  }
  return points;
}

CellMetricsRecorder::CellMetricsRecorder(const service::MetricsUrl& url,
                                         std::chrono::milliseconds interval,
                                         std::chrono::milliseconds timeout)
    : url_(url), interval_(interval), timeout_(timeout), start_(std::chrono::steady_clock::now()) {
  first_ = Scrape();
  if (first_) {
    gauges_ = GaugePoints(*first_, 0);
    poller_ = std::thread([this] { Poll(); });
  }
}

CellMetricsRecorder::~CellMetricsRecorder() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
}

std::optional<service::ScrapedMetrics> CellMetricsRecorder::Scrape() {
  try {
    return service::ScrapeMetrics(url_, timeout_);
  } catch (const Error& error) {
    const std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = error.what();
    return std::nullopt;
  }
}

void CellMetricsRecorder::Poll() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    const std::optional<service::ScrapedMetrics> scrape = Scrape();
    const double t_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    lock.lock();
    if (!scrape) return;
    const std::vector<MetricPoint> points = GaugePoints(*scrape, t_s);
    gauges_.insert(gauges_.end(), points.begin(), points.end());
  }
}

ServerMetrics CellMetricsRecorder::Finish() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
  ServerMetrics metrics;
  metrics.endpoint = url_.ToString();
  if (first_ && error_.empty()) {
    if (const std::optional<service::ScrapedMetrics> last = Scrape()) {
      metrics.span_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics.counters = CounterDeltas(*first_, *last);
      const std::vector<MetricPoint> points = GaugePoints(*last, metrics.span_s);
      gauges_.insert(gauges_.end(), points.begin(), points.end());
    }
  }
  metrics.error = error_;
  metrics.gauges = std::move(gauges_);
  return metrics;
}

}  // namespace sonic
