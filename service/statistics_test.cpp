#include "service/statistics.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace sonic::service {
namespace {

TEST(ModelStatsRecorder, CountsLikeTriton) {
  ModelStatsRecorder recorder("m", "1");
  // Two requests (batches 1 and 3) executed together, then one alone.
  recorder.RecordExecution(4, 2, 300, 10, 100, 20);
  recorder.RecordSuccess(1, 1000);
  recorder.RecordSuccess(3, 1200);
  recorder.RecordExecution(2, 1, 50, 5, 60, 7);
  recorder.RecordSuccess(2, 500);
  recorder.RecordFailure(40);
  const ModelStatsSnapshot stats = recorder.Snapshot();
  EXPECT_EQ(stats.success.count, 3u);
  EXPECT_EQ(stats.success.ns, 2700u);
  EXPECT_EQ(stats.fail.count, 1u);
  EXPECT_EQ(stats.inference_count, 6u);
  EXPECT_EQ(stats.execution_count, 2u);
  EXPECT_EQ(stats.queue.count, 3u);
  EXPECT_EQ(stats.queue.ns, 350u);
  EXPECT_EQ(stats.compute_infer.count, 3u);  // per request
  EXPECT_EQ(stats.compute_infer.ns, 2u * 100 + 60);
  ASSERT_EQ(stats.batch_stats.size(), 2u);
  EXPECT_EQ(stats.batch_stats.at(4).compute_infer.count, 1u);  // per execution
  EXPECT_EQ(stats.batch_stats.at(2).compute_output.ns, 7u);
  EXPECT_GT(stats.last_inference_ms, 0u);
  EXPECT_NE(stats.ToString().find("3 requests ok, 1 failed, 6 inferences in 2 executions"),
            std::string::npos)
      << stats.ToString();
}

TEST(ModelStatsRecorder, DeltaIsPerCell) {
  ModelStatsRecorder recorder("m", "1");
  recorder.RecordExecution(1, 1, 10, 1, 2, 3);
  recorder.RecordSuccess(1, 100);
  const ModelStatsSnapshot before = recorder.Snapshot();
  recorder.RecordExecution(2, 2, 20, 1, 2, 3);
  recorder.RecordSuccess(1, 100);
  recorder.RecordSuccess(1, 100);
  const ModelStatsSnapshot delta = Delta(before, recorder.Snapshot());
  EXPECT_EQ(delta.success.count, 2u);
  EXPECT_EQ(delta.execution_count, 1u);
  EXPECT_EQ(delta.queue.ns, 20u);
  ASSERT_EQ(delta.batch_stats.size(), 1u);
  EXPECT_EQ(delta.batch_stats.begin()->first, 2u);
}

TEST(ModelStatsRecorder, InstanceBusyTimeIsPerInstance) {
  ModelStatsRecorder recorder("m", "1", 3);
  recorder.RecordInstanceBusy(0, 100);
  recorder.RecordInstanceBusy(2, 50);
  recorder.RecordInstanceBusy(2, 70);
  const ModelStatsSnapshot before = recorder.Snapshot();
  ASSERT_EQ(before.instance_busy.size(), 3u);  // an idle instance is listed too
  EXPECT_EQ(before.instance_busy[0].count, 1u);
  EXPECT_EQ(before.instance_busy[1].ns, 0u);
  EXPECT_EQ(before.instance_busy[2].ns, 120u);
  EXPECT_EQ(before.instance_busy[2].count, 2u);
  recorder.RecordInstanceBusy(2, 30);
  const ModelStatsSnapshot delta = Delta(before, recorder.Snapshot());
  EXPECT_EQ(delta.instance_busy[0].ns, 0u);
  EXPECT_EQ(delta.instance_busy[2].ns, 30u);
  EXPECT_EQ(delta.instance_busy[2].count, 1u);
  EXPECT_THROW(recorder.RecordInstanceBusy(3, 1), Error);
}

}  // namespace
}  // namespace sonic::service
