#include "service/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/registry.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/random.h"
#include "models/zoo.h"
#include "service/served_model.h"

namespace sonic::service {
namespace {

using namespace std::chrono_literals;

// Records every execution: the batch sizes of its items and when it ran.
struct Recorder {
  struct Execution {
    std::vector<int> batches;
    int samples;
    std::int64_t start_ns;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Execution> executions;
  int items_done = 0;

  DynamicBatcher::ExecuteFn Fn() {
    return [this](int, std::span<BatchItem* const> items, int samples) {
      Execution execution{{}, samples, MonotonicNs()};
      for (const BatchItem* item : items) execution.batches.push_back(item->batch);
      std::lock_guard lock(mutex);
      executions.push_back(execution);
      items_done += static_cast<int>(items.size());
      changed.notify_all();
    };
  }
  void WaitForItems(int count) {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return items_done >= count; }));
  }
  // A copy taken under the lock: the batcher may still be appending.
  std::vector<Execution> Executions() {
    std::lock_guard lock(mutex);
    return executions;
  }
};

std::vector<BatchItem> Items(std::vector<int> batches) {
  std::vector<BatchItem> items;
  for (const int batch : batches) items.push_back({batch, 0});
  return items;
}

void EnqueueAll(DynamicBatcher& batcher, std::vector<BatchItem>& items) {
  for (BatchItem& item : items) {
    item.enqueue_ns = MonotonicNs();
    ASSERT_TRUE(batcher.Enqueue(&item));
  }
}

TEST(DynamicBatcher, OffRunsEveryRequestAloneInOrder) {
  Recorder recorder;
  BatcherOptions options{false, 8, {}, 1'000'000};
  DynamicBatcher batcher(options, 1, recorder.Fn());
  auto items = Items({1, 2, 3, 1});
  EnqueueAll(batcher, items);
  recorder.WaitForItems(4);
  ASSERT_EQ(recorder.executions.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(recorder.executions[i].batches, std::vector<int>{items[i].batch});
  }
}

TEST(DynamicBatcher, FullBatchRunsWithoutWaitingForTheDelay) {
  Recorder recorder;
  BatcherOptions options{true, 4, {}, 10'000'000};  // 10 s delay: must not be waited for
  DynamicBatcher batcher(options, 1, recorder.Fn());
  auto items = Items({1, 1, 2});
  const std::int64_t start_ns = MonotonicNs();
  EnqueueAll(batcher, items);
  recorder.WaitForItems(3);
  EXPECT_LT(MonotonicNs() - start_ns, 2'000'000'000);
  ASSERT_EQ(recorder.executions.size(), 1u);
  EXPECT_EQ(recorder.executions[0].samples, 4);
  EXPECT_EQ(recorder.executions[0].batches, (std::vector<int>{1, 1, 2}));
}

TEST(DynamicBatcher, CombinesQueuedRequestsUpToTheMaximum) {
  // A gate holds the only instance in its first execution while nine more requests queue up.
  std::mutex gate_mutex;
  std::condition_variable gate;
  bool open = false;
  Recorder recorder;
  auto record = recorder.Fn();
  BatcherOptions options{true, 4, {}, 0};
  DynamicBatcher batcher(options, 1, [&](int i, std::span<BatchItem* const> items, int samples) {
    std::unique_lock lock(gate_mutex);
    gate.wait(lock, [&] { return open; });
    lock.unlock();
    record(i, items, samples);
  });
  auto items = Items({1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  EnqueueAll(batcher, items);
  {
    std::lock_guard lock(gate_mutex);
    open = true;
  }
  gate.notify_all();
  recorder.WaitForItems(10);
  // The first execution took what was there when it started; the rest ran as full batches of
  // 4 and a remainder.
  int samples = 0;
  for (const auto& execution : recorder.executions) {
    EXPECT_LE(execution.samples, 4);
    samples += execution.samples;
  }
  EXPECT_EQ(samples, 10);
  EXPECT_LE(recorder.executions.size(), 5u);
  EXPECT_EQ(recorder.executions[recorder.executions.size() - 2].samples, 4);
}

TEST(DynamicBatcher, PreferredSizeRunsAtOnce) {
  Recorder recorder;
  BatcherOptions options{true, 8, {2, 4}, 10'000'000};
  DynamicBatcher batcher(options, 1, recorder.Fn());
  auto items = Items({1, 1, 1, 1});
  const std::int64_t start_ns = MonotonicNs();
  EnqueueAll(batcher, items);
  recorder.WaitForItems(4);
  EXPECT_LT(MonotonicNs() - start_ns, 2'000'000'000);
  int samples = 0;
  for (const auto& execution : recorder.executions) {
    EXPECT_TRUE(execution.samples == 2 || execution.samples == 4) << execution.samples;
    samples += execution.samples;
  }
  EXPECT_EQ(samples, 4);
}

TEST(DynamicBatcher, MaxQueueDelayIsHonoured) {
  Recorder recorder;
  const std::int64_t delay_us = 50'000;
  BatcherOptions options{true, 8, {}, delay_us};
  DynamicBatcher batcher(options, 2, recorder.Fn());
  auto items = Items({1, 2});
  EnqueueAll(batcher, items);
  recorder.WaitForItems(2);
  ASSERT_EQ(recorder.executions.size(), 1u);
  const std::int64_t waited_ns = recorder.executions[0].start_ns - items[0].enqueue_ns;
  EXPECT_GE(waited_ns, delay_us * 1000);
  EXPECT_LT(waited_ns, delay_us * 1000 + 1'000'000'000);  // generous: shared CI cores
  EXPECT_EQ(recorder.executions[0].samples, 3);
}

TEST(DynamicBatcher, RequestThatWouldOverflowWaitsForTheNextBatch) {
  Recorder recorder;
  BatcherOptions options{true, 4, {}, 10'000'000};
  DynamicBatcher batcher(options, 1, recorder.Fn());
  auto items = Items({3, 2, 2});
  EnqueueAll(batcher, items);
  recorder.WaitForItems(1);
  EXPECT_EQ(recorder.Executions().at(0).batches, std::vector<int>{3});
  batcher.Stop();  // the rest form a full batch of 4: they never wait for the delay
  EXPECT_EQ(recorder.items_done, 3);
  EXPECT_EQ(recorder.executions[1].samples, 4);
}

TEST(DynamicBatcher, StopDrainsAndRefusesNewRequests) {
  Recorder recorder;
  BatcherOptions options{true, 8, {}, 10'000'000};
  DynamicBatcher batcher(options, 2, recorder.Fn());
  auto items = Items({1, 1, 1});
  EnqueueAll(batcher, items);
  batcher.Stop();
  EXPECT_EQ(recorder.items_done, 3);
  BatchItem late{1, MonotonicNs()};
  EXPECT_FALSE(batcher.Enqueue(&late));
}

TEST(DynamicBatcher, RejectsBadOptions) {
  Recorder recorder;
  EXPECT_THROW(DynamicBatcher(BatcherOptions{true, 0, {}, 0}, 1, recorder.Fn()), Error);
  EXPECT_THROW(DynamicBatcher(BatcherOptions{true, 4, {8}, 0}, 1, recorder.Fn()), Error);
  EXPECT_THROW(DynamicBatcher(BatcherOptions{true, 4, {}, -1}, 1, recorder.Fn()), Error);
  EXPECT_THROW(DynamicBatcher(BatcherOptions{true, 4, {}, 0}, 0, recorder.Fn()), Error);
}

// A served model combines requests into one execution and splits the outputs back: each
// request's response equals running its own samples alone.
class FakeCall final : public InferCall {
 public:
  void Complete(const grpc::Status& completed) override {
    std::lock_guard lock(*mutex);
    status = completed;
    done = true;
    finished->notify_all();
  }
  inference::ModelInferRequest owned_request;
  inference::ModelInferResponse owned_response;
  std::vector<float> data;
  grpc::Status status;
  bool done = false;
  std::mutex* mutex = nullptr;
  std::condition_variable* finished = nullptr;
};

TEST(ServedModel, CombinesRequestsAndSplitsOutputsBack) {
  ServedModelOptions options;
  options.graph = BuildJetCnn();
  options.backend = "reference";
  options.batching = {true, 8, {}, 300'000};  // 300 ms: the four requests join one batch
  ServedModel model(options);
  const Graph& graph = model.options().graph;
  CompileOptions compile;
  compile.max_batch = 8;
  const auto executable = MakeBackend("reference")->Compile(graph, compile);
  const std::size_t in = static_cast<std::size_t>(NumElements(graph.input_shape()));
  const std::size_t out = static_cast<std::size_t>(NumElements(graph.output_shape()));

  std::mutex mutex;
  std::condition_variable finished;
  std::vector<std::unique_ptr<FakeCall>> calls;
  Random random(7);
  for (const int batch : {1, 2, 1, 3}) {
    auto call = std::make_unique<FakeCall>();
    call->mutex = &mutex;
    call->finished = &finished;
    call->data.resize(in * static_cast<std::size_t>(batch));
    for (float& x : call->data) x = static_cast<float>(random.Uniform());
    call->request = &call->owned_request;
    call->response = &call->owned_response;
    call->input = {reinterpret_cast<const char*>(call->data.data()),
                   call->data.size() * sizeof(float),
                   batch,
                   nullptr,
                   {}};
    call->arrival_ns = MonotonicNs();
    calls.push_back(std::move(call));
  }
  for (auto& call : calls) model.Submit(call.get());
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(finished.wait_for(lock, 30s, [&] {
      return std::all_of(calls.begin(), calls.end(), [](const auto& c) { return c->done; });
    }));
  }
  for (auto& call : calls) {
    ASSERT_TRUE(call->status.ok()) << call->status.error_message();
    std::vector<float> expected(out * static_cast<std::size_t>(call->batch));
    executable->Run(call->data, call->batch, expected);
    const std::string& raw = call->owned_response.raw_output_contents(0);
    ASSERT_EQ(raw.size(), expected.size() * sizeof(float));
    std::vector<float> got(expected.size());
    std::memcpy(got.data(), raw.data(), raw.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-6);
    EXPECT_EQ(call->owned_response.outputs(0).shape(0), call->batch);
  }
  const ModelStatsSnapshot stats = model.Statistics();
  EXPECT_EQ(stats.success.count, 4u);
  EXPECT_EQ(stats.inference_count, 7u);
  EXPECT_EQ(stats.execution_count, 1u);
  ASSERT_EQ(stats.batch_stats.count(7), 1u);
  EXPECT_EQ(stats.queue.count, 4u);
  model.Stop();
}

}  // namespace
}  // namespace sonic::service
