// The scrape bookkeeping of a cell, without a server: names, counters' deltas, gauges.
#include "bench/loadgen/metrics_recorder.h"

#include <gtest/gtest.h>

namespace sonic {
namespace {

constexpr char kBefore[] =
    "# TYPE nv_inference_count counter\n"
    "nv_inference_count{model=\"m\",version=\"1\"} 10\n"
    "# TYPE nv_inference_pending_request_count gauge\n"
    "nv_inference_pending_request_count{model=\"m\",version=\"1\"} 3\n"
    "# TYPE sonic_inference_exec_batch_size histogram\n"
    "sonic_inference_exec_batch_size_bucket{le=\"1\"} 4\n"
    "sonic_inference_exec_batch_size_sum 6\n"
    "sonic_inference_exec_batch_size_count 5\n";
constexpr char kAfter[] =
    "# TYPE nv_inference_count counter\n"
    "nv_inference_count{model=\"m\",version=\"1\"} 35\n"
    "nv_inference_count{model=\"new\",version=\"1\"} 7\n"
    "# TYPE nv_inference_pending_request_count gauge\n"
    "nv_inference_pending_request_count{model=\"m\",version=\"1\"} 0\n"
    "# TYPE sonic_inference_exec_batch_size histogram\n"
    "sonic_inference_exec_batch_size_bucket{le=\"1\"} 9\n"
    "sonic_inference_exec_batch_size_sum 16\n"
    "sonic_inference_exec_batch_size_count 12\n";

TEST(MetricsRecorder, CountersAndHistogramsGiveDeltasOfWhatBothScrapesHave) {
  const auto before = service::ParseMetricsText(kBefore);
  const auto after = service::ParseMetricsText(kAfter);
  const std::vector<MetricDelta> deltas = CounterDeltas(before, after);
  const std::vector<MetricDelta> expected = {
      {"nv_inference_count{model=\"m\",version=\"1\"}", 25},
      {"sonic_inference_exec_batch_size_bucket{le=\"1\"}", 5},
      {"sonic_inference_exec_batch_size_sum", 10},
      {"sonic_inference_exec_batch_size_count", 7}};
  EXPECT_EQ(deltas, expected);  // the gauge is no counter; the new model has no earlier value
  const std::vector<MetricPoint> gauges = GaugePoints(after, 1.5);
  ASSERT_EQ(gauges.size(), 1u);
  EXPECT_EQ(gauges[0], (MetricPoint{1.5,
                                    "nv_inference_pending_request_count{model=\"m\","
                                    "version=\"1\"}",
                                    0}));
}

TEST(MetricsRecorder, NamesEscapeLabelValuesAsTheTextFormatDoes) {
  service::MetricSample sample{"x", {{"b", "say \"hi\"\n"}, {"a", "c:\\d"}}, 1};
  EXPECT_EQ(MetricSampleName(sample), "x{a=\"c:\\\\d\",b=\"say \\\"hi\\\"\\n\"}");
  EXPECT_EQ(MetricSampleName({"plain", {}, 2}), "plain");
}

TEST(MetricsRecorder, AnEndpointThatDoesNotAnswerIsRecordedAsSuch) {
  CellMetricsRecorder recorder(service::ParseMetricsUrl("http://127.0.0.1:1/metrics"),
                               std::chrono::milliseconds(10), std::chrono::milliseconds(500));
  const ServerMetrics metrics = recorder.Finish();
  EXPECT_EQ(metrics.endpoint, "http://127.0.0.1:1/metrics");
  EXPECT_NE(metrics.error.find("127.0.0.1:1"), std::string::npos) << metrics.error;
  EXPECT_TRUE(metrics.counters.empty());
  EXPECT_TRUE(metrics.gauges.empty());
}

}  // namespace
}  // namespace sonic
