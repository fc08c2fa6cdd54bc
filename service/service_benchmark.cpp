// Round trips through the whole service path in one process: our client (async, pooled
// messages) → gRPC over loopback → server (validation, dynamic batcher, instance thread) → the
// `null` backend → back. What remains is the service's own cost: the loopback goals are
// checked with it until the load generator's RemoteTarget sweeps replace it.
//   service_benchmark --benchmark_filter='BM_NullRoundTrip/602112/1/'   (ResNet-50 input, c=1)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/clock.h"
#include "models/graph.h"
#include "service/client.h"
#include "service/server.h"

namespace sonic::service {
namespace {

// A graph with the given per-sample input shape; the null backend only needs its shapes.
Graph ShapeOnlyGraph(Shape input_shape) {
  Graph graph;
  graph.name = "shape_only";
  graph.input = graph.AddValue("input", std::move(input_shape));
  const ValueId pooled = graph.AddNode("pool", OpKind::kGlobalAveragePool, {graph.input});
  graph.output = graph.AddNode("flatten", OpKind::kFlatten, {pooled});
  InferShapes(graph);
  return graph;
}

// ResNet-50's input, 602 KB.
constexpr std::int64_t kResNetInputBytes = std::int64_t{3} * 224 * 224 * 4;

Shape InputShapeFor(std::int64_t bytes) {
  if (bytes == kResNetInputBytes) return {3, 224, 224};
  return {1, 1, bytes / 4};
}

// One server per payload size, started once and kept for every concurrency.
Server& ServerFor(std::int64_t bytes) {
  static std::map<std::int64_t, std::unique_ptr<Server>> servers;
  auto& server = servers[bytes];
  if (server == nullptr) {
    ServerOptions options;
    ServedModelOptions model;
    model.name = "null";
    model.graph = ShapeOnlyGraph(InputShapeFor(bytes));
    model.backend = "null";
    model.instances = 2;
    model.batching = {true, 16, {}, 0};
    options.models.push_back(std::move(model));
    server = Server::Start(std::move(options));
  }
  return *server;
}

// Closed loop: `concurrency` requests always in flight; one benchmark iteration is one completed
// request. Reports p50/p99 round trip, request payload throughput and the process's CPU time per
// request (client and server share the process).
void BM_NullRoundTrip(benchmark::State& state) {
  const std::int64_t bytes = state.range(0);
  const int concurrency = static_cast<int>(state.range(1));
  Server& server = ServerFor(bytes);
  ClientOptions client_options;
  client_options.address = server.address();
  client_options.channels = std::min(concurrency, 4);
  Client client(client_options);
  client.WaitForReady(10'000);
  Shape shape = InputShapeFor(bytes);
  shape.insert(shape.begin(), 1);
  const std::vector<float> data(static_cast<std::size_t>(bytes / 4), 0.5f);
  const InferInput input{"null", "", "input", shape, data};

  std::mutex mutex;
  std::condition_variable completed;
  int ready = 0;  // completions not yet consumed by the loop
  int failures = 0;
  std::vector<std::int64_t> latencies_ns;
  latencies_ns.reserve(1 << 20);
  std::function<void()> submit = [&] {
    const std::int64_t start_ns = MonotonicNs();
    client.AsyncInfer(input, [&, start_ns](const InferReply& reply) {
      const std::int64_t latency_ns = MonotonicNs() - start_ns;
      std::lock_guard lock(mutex);
      if (!reply.status.ok()) ++failures;
      latencies_ns.push_back(latency_ns);
      ++ready;
      completed.notify_one();
    });
  };
  for (int i = 0; i < concurrency; ++i) submit();
  const std::int64_t cpu_start_ns = ProcessCpuNs();
  for (auto _ : state) {
    {
      std::unique_lock lock(mutex);
      completed.wait(lock, [&] { return ready > 0; });
      --ready;
    }
    submit();
  }
  const std::int64_t cpu_ns = ProcessCpuNs() - cpu_start_ns;
  // Drain what is still in flight before the client goes away.
  {
    std::unique_lock lock(mutex);
    completed.wait(lock, [&] { return ready >= concurrency; });
  }
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto percentile_us = [&](double p) {
    const auto index = static_cast<std::size_t>(p * static_cast<double>(latencies_ns.size() - 1));
    return static_cast<double>(latencies_ns[index]) / 1e3;
  };
  state.counters["p50_us"] = percentile_us(0.50);
  state.counters["p99_us"] = percentile_us(0.99);
  state.counters["failures"] = failures;
  // Client and server together, every thread: on a shared machine, 2 cores / this is the rate
  // two idle cores would sustain.
  state.counters["cpu_us_per_req"] =
      static_cast<double>(cpu_ns) / 1e3 / static_cast<double>(state.iterations());
  state.counters["Gbit/s"] = benchmark::Counter(static_cast<double>(bytes) * 8 / 1e9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_NullRoundTrip)
    ->ArgNames({"bytes", "concurrency"})
    ->ArgsProduct({{1024, kResNetInputBytes}, {1, 4, 16}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sonic::service

BENCHMARK_MAIN();
