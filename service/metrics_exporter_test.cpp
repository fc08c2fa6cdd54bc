#include "service/metrics_exporter.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "core/error.h"
#include "service/http_testing.h"
#include "service/metrics_scrape.h"

namespace sonic::service {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

// Two executions (batch 3 from two requests, then batch 1), one failure, on a 2-instance model.
ModelMetricsInput ExampleModel() {
  ModelStatsRecorder recorder("jet_cnn", "1", 2);
  recorder.RecordExecution(3, 2, 4'000, 1'000, 10'000, 2'000);
  recorder.RecordSuccess(1, 20'000);
  recorder.RecordSuccess(2, 21'500);
  recorder.RecordExecution(1, 1, 500, 300, 7'000, 700);
  recorder.RecordSuccess(1, 9'001);
  recorder.RecordFailure(123);
  recorder.RecordInstanceBusy(0, 15'000);
  recorder.RecordInstanceBusy(1, 9'000);
  return {recorder.Snapshot(), 8, 5};
}

ScrapedMetrics RoundTrip(const std::vector<ModelMetricsInput>& models, const HostSample& host) {
  return ParseMetricsText(
      prometheus::TextSerializer().Serialize(BuildMetricFamilies(models, host)));
}

TEST(MetricFamilies, TritonNamesAndValuesFromTheStatistics) {
  const ScrapedMetrics m = RoundTrip({ExampleModel()}, {});
  const std::map<std::string, std::string> model = {{"model", "jet_cnn"}, {"version", "1"}};
  EXPECT_EQ(m.Find("nv_inference_request_success", model), 3.0);
  EXPECT_EQ(m.Find("nv_inference_request_failure", model), 1.0);
  EXPECT_EQ(m.Find("nv_inference_count", model), 4.0);
  EXPECT_EQ(m.Find("nv_inference_exec_count", model), 2.0);
  EXPECT_EQ(m.Find("nv_inference_request_duration_us", model), 50.501);  // 50,501 ns
  EXPECT_EQ(m.Find("nv_inference_queue_duration_us", model), 4.5);
  // Per request, a batch's compute times charged to each of its requests: 2 x 1,000 + 300 ns.
  EXPECT_EQ(m.Find("nv_inference_compute_input_duration_us", model), 2.3);
  EXPECT_EQ(m.Find("nv_inference_compute_infer_duration_us", model), 27.0);
  EXPECT_EQ(m.Find("nv_inference_compute_output_duration_us", model), 4.7);
  EXPECT_EQ(m.Find("nv_inference_pending_request_count", model), 5.0);
  EXPECT_EQ(m.types.at("nv_inference_request_success"), "counter");
  EXPECT_EQ(m.types.at("nv_inference_pending_request_count"), "gauge");
  EXPECT_EQ(m.types.at("sonic_inference_exec_batch_size"), "histogram");
  EXPECT_EQ(m.Find("sonic_inference_instance_busy_duration_us", {{"instance", "0"}}), 15.0);
  EXPECT_EQ(m.Find("sonic_inference_instance_exec_count", {{"instance", "1"}}), 1.0);
  EXPECT_FALSE(m.Find("nv_cpu_utilization").has_value());  // no host reading given
  EXPECT_FALSE(m.Find("nv_gpu_utilization").has_value());
}

TEST(MetricFamilies, BatchSizeHistogramBucketsArePowersOfTwoUpToMaxBatch) {
  const ScrapedMetrics m = RoundTrip({ExampleModel()}, {});
  std::vector<std::pair<std::string, double>> buckets;
  for (const MetricSample& sample : m.samples) {
    if (sample.name == "sonic_inference_exec_batch_size_bucket") {
      buckets.emplace_back(sample.labels.at("le"), sample.value);
    }
  }
  // Executions of batch 1 and 3, cumulative.
  const std::vector<std::pair<std::string, double>> expected = {
      {"1", 1}, {"2", 1}, {"4", 2}, {"8", 2}, {"+Inf", 2}};
  EXPECT_EQ(buckets, expected);
  EXPECT_EQ(m.Find("sonic_inference_exec_batch_size_count"), 2.0);
  EXPECT_EQ(m.Find("sonic_inference_exec_batch_size_sum"), 4.0);
}

TEST(MetricFamilies, HostAndGpuGaugesAsTritonReportsThem) {
  HostSample host;
  host.cpu_utilization = 0.25;
  host.memory = MemoryInfo{1000, 300};
  host.gpus.push_back({"GPU-abc", 0.5, 80, 20, 250.5, 700, 12.5});
  const ScrapedMetrics m = RoundTrip({}, host);
  EXPECT_EQ(m.Find("nv_cpu_utilization"), 0.25);
  EXPECT_EQ(m.Find("nv_cpu_memory_total_bytes"), 1000.0);
  EXPECT_EQ(m.Find("nv_cpu_memory_used_bytes"), 700.0);
  const std::map<std::string, std::string> gpu = {{"gpu_uuid", "GPU-abc"}};
  EXPECT_EQ(m.Find("nv_gpu_utilization", gpu), 0.5);
  EXPECT_EQ(m.Find("nv_gpu_memory_total_bytes", gpu), 80.0);
  EXPECT_EQ(m.Find("nv_gpu_memory_used_bytes", gpu), 20.0);
  EXPECT_EQ(m.Find("nv_gpu_power_usage", gpu), 250.5);
  EXPECT_EQ(m.Find("nv_gpu_power_limit", gpu), 700.0);
  EXPECT_EQ(m.Find("nv_energy_consumption", gpu), 12.5);
}

TEST(MetricFamilies, LargeDurationsKeepNanosecondPrecision) {
  ModelMetricsInput model = ExampleModel();
  model.stats.success.ns = 86'400'000'000'123ull;  // a day of request time, and 123 ns
  const ScrapedMetrics m = RoundTrip({model}, {});
  const double us = *m.Find("nv_inference_request_duration_us");
  EXPECT_EQ(std::llround(us * 1e3), 86'400'000'000'123ll);
}

TEST(MetricsRequest, OnlyAGetOfMetricsIsServed) {
  EXPECT_EQ(MetricsRequestStatus("GET /metrics HTTP/1.1\r\nHost: x"), 200);
  EXPECT_EQ(MetricsRequestStatus("GET /metrics?name[]=up HTTP/1.0"), 200);
  EXPECT_EQ(MetricsRequestStatus("GET / HTTP/1.1"), 404);
  EXPECT_EQ(MetricsRequestStatus("GET /metricsx HTTP/1.1"), 404);
  EXPECT_EQ(MetricsRequestStatus("POST /metrics HTTP/1.1"), 405);
  EXPECT_EQ(MetricsRequestStatus("HEAD /metrics HTTP/1.1"), 405);
  for (const char* bad : {"", "GET /metrics", "GET  /metrics HTTP/1.1", "GET /metrics HTTP/2.0",
                          "GET metrics HTTP/1.1", "GET /metrics HTTP/1.1 extra",
                          "GET /met\x01rics HTTP/1.1", "\x16\x03\x01\x02\x00"}) {
    EXPECT_EQ(MetricsRequestStatus(bad), 400) << bad;
  }
}

TEST(MetricsExporter, ServesCurrentValuesAndAnswersBadRequestsWithTheirError) {
  std::atomic<int> calls{0};
  MetricsExporter exporter({"127.0.0.1", 0, false}, [&] {
    ++calls;
    return std::vector<ModelMetricsInput>{ExampleModel()};
  });
  ASSERT_GT(exporter.port(), 0);
  EXPECT_EQ(exporter.url(), fmt::format("http://127.0.0.1:{}/metrics", exporter.port()));
  const MetricsUrl url = ParseMetricsUrl(exporter.url());
  const ScrapedMetrics first = ScrapeMetrics(url, 10s);
  EXPECT_EQ(first.Find("nv_inference_request_success", {{"model", "jet_cnn"}}), 3.0);
  ASSERT_TRUE(first.Find("nv_cpu_utilization").has_value());
  EXPECT_TRUE(first.Find("nv_cpu_memory_total_bytes").has_value());

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"s, "HTTP/1.1 400 Bad Request"},
      {"BREW /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
      {"GET /other HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 Not Found"},
      {"GET /metrics HTTP/1.1\r\nX: " + std::string(1 << 20, 'a') + "\r\n\r\n",
       "HTTP/1.1 431 Request Header Fields Too Large"},
      {"GET /metrics HTTP/1.1\r\nHost", ""},  // closed before its head ended: no answer
  };
  for (const auto& [request, status] : cases) {
    const std::string response = RawHttpExchange(exporter.port(), request);
    EXPECT_EQ(StatusLine(response), status) << request.substr(0, 40);
    EXPECT_EQ(response.find("nv_inference"), std::string::npos);
  }
  EXPECT_EQ(exporter.scrapes(), 1u);

  const int before = calls.load();
  EXPECT_EQ(ScrapeMetrics(url, 10s).Find("nv_inference_exec_count"), 2.0);
  EXPECT_EQ(calls.load(), before + 1);  // every scrape reads the statistics afresh
}

TEST(MetricsExporter, IdleConnectionsDoNotDelayOtherScrapers) {
  MetricsExporter exporter({"127.0.0.1", 0, false},
                           [] { return std::vector<ModelMetricsInput>{ExampleModel()}; });
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(ConnectLoopback(exporter.port()));
    ASSERT_GE(idle.back(), 0);
  }
  // Well within the idle connections' own timeout: they hold nothing but themselves.
  const auto timeout = std::chrono::milliseconds(MetricsExporter::kConnectionTimeoutMs / 2);
  EXPECT_EQ(ScrapeMetrics(ParseMetricsUrl(exporter.url()), timeout).Find("nv_inference_count"),
            4.0);
  for (const int fd : idle) close(fd);
}

TEST(MetricsExporter, ConnectionsBeyondTheBoundAreTurnedAway) {
  MetricsExporter exporter({"127.0.0.1", 0, false},
                           [] { return std::vector<ModelMetricsInput>{ExampleModel()}; });
  std::vector<int> idle;
  for (std::size_t i = 0; i < MetricsExporter::kMaxConnections; ++i) {
    idle.push_back(ConnectLoopback(exporter.port()));
  }
  // The next one is accepted and closed unanswered...
  EXPECT_EQ(RawHttpExchange(exporter.port(), "GET /metrics HTTP/1.1\r\n\r\n", false), "");
  for (const int fd : idle) close(fd);
  // ...and once the idle ones are gone, scrapes are answered again. The exporter sees the closes
  // on its own thread: a scrape that comes before it has is still turned away, so retry a while.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool answered = false;
  while (!answered && std::chrono::steady_clock::now() < deadline) {
    try {
      answered = ScrapeMetrics(ParseMetricsUrl(exporter.url()), 10s)
                     .Find("nv_inference_count")
                     .has_value();
    } catch (const Error&) {
      std::this_thread::sleep_for(10ms);
    }
  }
  EXPECT_TRUE(answered);
}

TEST(MetricsExporter, BusyPortIsUnavailable) {
  MetricsExporter first({"127.0.0.1", 0, false}, [] { return std::vector<ModelMetricsInput>{}; });
  try {
    MetricsExporter second({"127.0.0.1", first.port(), false},
                           [] { return std::vector<ModelMetricsInput>{}; });
    ADD_FAILURE() << "two exporters on port " << first.port();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUnavailable);
    EXPECT_NE(std::string(error.what()).find(std::to_string(first.port())), std::string::npos);
  }
}

}  // namespace
}  // namespace sonic::service
