#include "bench/loadgen/cell_accumulator.h"

#include <gtest/gtest.h>

namespace sonic {
namespace {

CellResult Part(std::int64_t base_ns, std::int32_t workers, const std::string& server) {
  CellResult part;
  for (std::int32_t w = 0; w < workers; ++w) {
    part.latency.Record(std::int64_t{1000} * (w + 1));
    part.raw_records.push_back({base_ns + w, base_ns + w, base_ns + w + 5, w, 0, -1, -1});
  }
  part.completed_requests = workers;
  part.warmup_requests = 2;
  part.bytes_sent = 100;
  part.bytes_received = 10;
  part.client_cpu_user_s = 0.5;
  part.errors["kUnavailable"] = 1;
  ServerShare share;
  share.address = server;
  share.requests = workers;
  share.latency.Record(7);
  part.servers.push_back(share);
  return part;
}

TEST(CellAccumulator, SumsCountsMergesHistogramsAndShiftsRecords) {
  CellAccumulator accumulator;
  accumulator.Add(Part(1000, 2, "a:1"));
  accumulator.Add(Part(500, 3, "a:1"), /*clock_offset_ns=*/-100, /*worker_base=*/2);
  accumulator.Add(Part(2000, 1, "b:1"));
  const CellResult total = accumulator.Finish();
  EXPECT_EQ(total.completed_requests, 6);
  EXPECT_EQ(total.warmup_requests, 6);
  EXPECT_EQ(total.bytes_sent, 300);
  EXPECT_EQ(total.bytes_received, 30);
  EXPECT_DOUBLE_EQ(total.client_cpu_user_s, 1.5);
  EXPECT_EQ(total.errors.at("kUnavailable"), 3);
  EXPECT_EQ(total.latency.count(), 6);
  ASSERT_EQ(total.servers.size(), 2u);
  EXPECT_EQ(total.servers[0].address, "a:1");
  EXPECT_EQ(total.servers[0].requests, 5);
  EXPECT_EQ(total.servers[0].latency.count(), 2);
  ASSERT_EQ(total.raw_records.size(), 6u);
  // The second part's records moved onto the common clock (+100 ns) and worker numbers 2..4,
  // and all are in scheduled order.
  EXPECT_EQ(total.raw_records[0].scheduled_ns, 600);
  EXPECT_EQ(total.raw_records[0].worker, 2);
  for (std::size_t i = 1; i < total.raw_records.size(); ++i) {
    EXPECT_LE(total.raw_records[i - 1].scheduled_ns, total.raw_records[i].scheduled_ns);
  }
  EXPECT_EQ(accumulator.Finish().completed_requests, 0) << "Finish hands the sum over";
}

}  // namespace
}  // namespace sonic
