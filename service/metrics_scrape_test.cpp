#include "service/metrics_scrape.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace sonic::service {
namespace {

TEST(MetricsText, ParsesSamplesLabelsTypesAndSpecialValues) {
  const ScrapedMetrics metrics = ParseMetricsText(
      "# HELP nv_inference_count Number of inferences\n"
      "# TYPE nv_inference_count counter\n"
      "nv_inference_count{model=\"jet_cnn\",version=\"1\"} 42\n"
      "nv_inference_count{model=\"res\\\"net\\\\\\n\",version=\"1\",} 7 1700000000000\r\n"
      "\n"
      "up 1\n"
      "h_bucket{le=\"+Inf\"} 3\n"
      "g -Inf\n"
      "n NaN\n"
      "e 1.5e3\n");
  ASSERT_EQ(metrics.samples.size(), 7u);
  EXPECT_EQ(metrics.types.at("nv_inference_count"), "counter");
  EXPECT_EQ(metrics.Find("nv_inference_count", {{"model", "jet_cnn"}}), 42.0);
  EXPECT_EQ(metrics.samples[1].labels.at("model"), "res\"net\\\n");
  EXPECT_EQ(metrics.samples[1].value, 7.0);
  EXPECT_EQ(metrics.Find("up"), 1.0);
  EXPECT_EQ(metrics.samples[3].labels.at("le"), "+Inf");
  EXPECT_TRUE(std::isinf(*metrics.Find("g")) && *metrics.Find("g") < 0);
  EXPECT_TRUE(std::isnan(*metrics.Find("n")));
  EXPECT_EQ(metrics.Find("e"), 1500.0);
  EXPECT_FALSE(metrics.Find("nv_inference_count", {{"model", "other"}}).has_value());
}

TEST(MetricsText, MalformedLinesNameTheLine) {
  for (const char* bad : {"1abc 3", "m{a=\"x\" 3", "m{a=x} 3", "m{a=\"x\",a=\"y\"} 3", "m 3abc",
                          "m", "m{a=\"\\q\"} 1", "m 1 2 3"}) {
    try {
      ParseMetricsText(std::string("ok 1\n") + bad + "\n");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(error.what()).find("line 2"), std::string::npos) << error.what();
    }
  }
}

TEST(MetricsUrl, ParsesHostPortAndPath) {
  const MetricsUrl url = ParseMetricsUrl("http://127.0.0.1:8002/metrics");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 8002);
  EXPECT_EQ(url.path, "/metrics");
  EXPECT_EQ(ParseMetricsUrl("http://triton:9000").path, "/metrics");
  const MetricsUrl v6 = ParseMetricsUrl("http://[::1]:8002/m");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.ToString(), "http://[::1]:8002/m");
  for (const char* bad : {"127.0.0.1:8002", "https://h:1/metrics", "http://h/metrics",
                          "http://:8002", "http://h:0", "http://h:80x", "http://[::1/metrics"}) {
    EXPECT_THROW(ParseMetricsUrl(bad), Error) << bad;
  }
}

TEST(HttpResponse, BodyByContentLengthOrChunks) {
  EXPECT_EQ(HttpResponseBody("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nup 1extra"), "up 1");
  EXPECT_EQ(HttpResponseBody("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nup 1\n"), "up 1\n");
  EXPECT_EQ(HttpResponseBody("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3\r\nup \r\n2;x=y\r\n1\n\r\n0\r\n\r\n"),
            "up 1\n");
  try {
    HttpResponseBody("HTTP/1.1 404 Not Found\r\n\r\n");
    ADD_FAILURE();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUnavailable);
    EXPECT_NE(std::string(error.what()).find("404"), std::string::npos);
  }
  EXPECT_THROW(HttpResponseBody("HTTP/1.1 200 OK\r\n"), Error);
  EXPECT_THROW(HttpResponseBody("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nup 1"), Error);
  EXPECT_THROW(HttpResponseBody("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
               Error);
}

TEST(ScrapeMetrics, NothingListeningIsUnavailable) {
  try {
    // Port 1 on loopback: nothing listens there unprivileged.
    ScrapeMetrics(ParseMetricsUrl("http://127.0.0.1:1/metrics"), std::chrono::seconds(5));
    ADD_FAILURE();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kUnavailable);
    EXPECT_NE(std::string(error.what()).find("http://127.0.0.1:1/metrics"), std::string::npos);
  }
}

}  // namespace
}  // namespace sonic::service
