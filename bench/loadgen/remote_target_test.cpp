// RemoteTarget driven by the load generator against an in-process server on loopback.
#include "bench/loadgen/remote_target.h"

#include <gtest/gtest.h>

#include <future>

#include "bench/loadgen/load_generator.h"
#include "core/error.h"
#include "models/zoo.h"
#include "service/server.h"

namespace sonic {
namespace {

std::unique_ptr<service::Server> StartServer(const std::string& backend) {
  service::ServerOptions options;
  service::ServedModelOptions model;
  model.graph = BuildJetCnn();
  FoldBatchNorm(model.graph);
  model.name = "jet_cnn";
  model.backend = backend;
  model.batching = {true, 8, {}, 0};
  options.models.push_back(std::move(model));
  return service::Server::Start(std::move(options));
}

LoadSettings ShortClosedLoop(int concurrency) {
  LoadSettings settings;
  settings.concurrency = concurrency;
  settings.warmup_s = 0.1;
  settings.min_duration_s = 0.5;
  settings.max_duration_s = 3;
  settings.min_requests = 20;
  return settings;
}

TEST(RemoteTarget, ClosedLoopAgainstTheServer) {
  const auto server = StartServer("reference");
  RemoteTargetOptions options;
  options.model = "jet_cnn";
  options.batch = 2;
  options.client.address = server->address();
  options.client.channels = 2;
  RemoteTarget target(options, {1, 40, 40}, std::make_shared<RandomInputSource>(1));
  const auto result = RunLoad(target, ShortClosedLoop(2));
  ASSERT_TRUE(result.has_value());
  EXPECT_GT(result->completed_requests, 0);
  EXPECT_EQ(result->completed_inferences, 2 * result->completed_requests);
  EXPECT_TRUE(result->errors.empty());
  EXPECT_GT(result->bytes_sent, result->completed_requests * 2 * 1600 * 4);
  EXPECT_GT(result->bytes_received, 0);
  const ServerStats stats = target.ServerStatisticsDelta();
  EXPECT_GE(stats.request_count, result->completed_requests);
  EXPECT_EQ(stats.inference_count, 2 * stats.request_count);
  EXPECT_FALSE(stats.executed_batch_sizes.empty());
  EXPECT_GT(stats.compute_infer_ns, 0);
  EXPECT_EQ(target.client_counters().ErrorsByKind().size(), 0u);
}

TEST(RemoteTarget, SetupFailsClearlyForAWrongModelOrShape) {
  const auto server = StartServer("null");
  RemoteTargetOptions options;
  options.model = "resnet7";
  options.client.address = server->address();
  RemoteTarget unknown(options, {1, 40, 40}, std::make_shared<RandomInputSource>(1));
  try {
    unknown.Setup(1);
    ADD_FAILURE() << "unknown model accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kNotFound) << error.what();
  }
  options.model = "jet_cnn";
  RemoteTarget wrong_shape(options, {3, 224, 224}, std::make_shared<RandomInputSource>(1));
  EXPECT_THROW(wrong_shape.Setup(1), Error);
}

TEST(RemoteTarget, RequestsToAStoppedServerFailWithUnavailable) {
  auto server = StartServer("null");
  RemoteTargetOptions options;
  options.model = "jet_cnn";
  options.client.address = server->address();
  options.client.max_retries = 1;
  RemoteTarget target(options, {1, 40, 40}, std::make_shared<RandomInputSource>(1));
  target.Setup(1);
  target.PrepareWorker(0);
  server->Shutdown(std::chrono::milliseconds(100));
  struct Handler final : CompletionHandler {
    std::promise<std::optional<ErrorKind>> error;
    void OnDone(const Request&, const Response& response) noexcept override {
      error.set_value(response.error);
    }
  } handler;
  target.Submit({0, 0, 0, 0}, handler);
  EXPECT_EQ(handler.error.get_future().get(), ErrorKind::kUnavailable);
  EXPECT_EQ(target.client_counters().ErrorsByKind().at("UNAVAILABLE"), 1u);
}

std::int64_t TotalRequests(const std::vector<ServerShare>& shares) {
  std::int64_t total = 0;
  for (const ServerShare& share : shares) total += share.requests;
  return total;
}

// jet_cnn served by both servers, spread by `policy`.
RemoteTarget TwoServerTarget(const service::Server& a, const service::Server& b,
                             ServerPolicy policy) {
  RemoteTargetOptions options;
  options.model = "jet_cnn";
  options.servers = {a.address(), b.address()};
  options.policy = policy;
  return RemoteTarget(options, {1, 40, 40}, std::make_shared<RandomInputSource>(1));
}

TEST(RemoteTarget, RoundRobinSpreadsRequestsEvenlyOverTwoServers) {
  const auto a = StartServer("null");
  const auto b = StartServer("null");
  RemoteTarget target = TwoServerTarget(*a, *b, ServerPolicy::kRoundRobin);
  const auto result = RunLoad(target, ShortClosedLoop(3));
  ASSERT_TRUE(result.has_value());
  const std::vector<ServerShare> shares = target.ServerShares();
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_EQ(shares[0].address, a->address());
  EXPECT_EQ(shares[1].address, b->address());
  EXPECT_LE(std::abs(shares[0].requests - shares[1].requests), 1);
  for (const ServerShare& share : shares) {
    EXPECT_EQ(share.errors, 0);
    EXPECT_EQ(share.latency.count(), share.requests);
    EXPECT_GT(share.bytes_sent, share.requests * 1600 * 4);
  }
  // The shares hold every request of the cell, warm-up included: at least the window's.
  EXPECT_GE(TotalRequests(shares), result->completed_requests + result->warmup_requests);
  // Each server counted its own share, plus one untimed round trip per worker; its counters may
  // lag the last reply of each worker.
  const ServerStats stats = target.ServerStatisticsDelta();
  EXPECT_LE(stats.request_count, TotalRequests(shares) + std::int64_t{3} * 2);
  EXPECT_GE(stats.request_count, TotalRequests(shares) + std::int64_t{3} * 2 - 3);
}

TEST(RemoteTarget, LeastLoadedSendsMoreToTheFasterServer) {
  const auto slow = StartServer("reference");
  const auto fast = StartServer("null");
  RemoteTarget target = TwoServerTarget(*slow, *fast, ServerPolicy::kLeastLoaded);
  ASSERT_TRUE(RunLoad(target, ShortClosedLoop(4)).has_value());
  const std::vector<ServerShare> shares = target.ServerShares();
  ASSERT_EQ(shares.size(), 2u);
  // Round robin would split them evenly; the fast server frees its slots sooner. (Typically 5-10
  // times more; only "more" is asserted, so that a loaded machine does not make it flaky.)
  EXPECT_GT(shares[1].requests, shares[0].requests)
      << shares[0].requests << " to the slow server, " << shares[1].requests << " to the fast";
  EXPECT_GT(shares[0].latency.Percentile(0.5), shares[1].latency.Percentile(0.5));
}

TEST(ServerPolicy, ParsesItsNames) {
  EXPECT_EQ(ParseServerPolicy("round_robin"), ServerPolicy::kRoundRobin);
  EXPECT_EQ(ParseServerPolicy(ServerPolicyName(ServerPolicy::kLeastLoaded)),
            ServerPolicy::kLeastLoaded);
  EXPECT_THROW(ParseServerPolicy("random"), Error);
}

}  // namespace
}  // namespace sonic
