#include "bench/loadgen/cell_accumulator.h"

#include <algorithm>

namespace sonic {

void CellAccumulator::Add(const CellResult& part, std::int64_t clock_offset_ns, int worker_base) {
  total_.latency.Merge(part.latency);
  total_.send_lag.Merge(part.send_lag);
  total_.event_time.Merge(part.event_time);
  total_.completed_events += part.completed_events;
  total_.event_ns_total += part.event_ns_total;
  total_.event_inference_ns_total += part.event_inference_ns_total;
  total_.completed_requests += part.completed_requests;
  total_.within_bound_requests += part.within_bound_requests;
  total_.completed_inferences += part.completed_inferences;
  total_.warmup_requests += part.warmup_requests;
  total_.client_cpu_user_s += part.client_cpu_user_s;
  total_.client_cpu_sys_s += part.client_cpu_sys_s;
  total_.bytes_sent += part.bytes_sent;
  total_.bytes_received += part.bytes_received;
  total_.generator_behind |= part.generator_behind;
  total_.raw_records_truncated |= part.raw_records_truncated;
  for (const auto& [kind, count] : part.errors) total_.errors[kind] += count;
  for (const ServerShare& share : part.servers) {
    const auto [it, added] = server_index_.emplace(share.address, total_.servers.size());
    if (added) {
      total_.servers.push_back(share);
      continue;
    }
    ServerShare& sum = total_.servers[it->second];
    sum.requests += share.requests;
    sum.errors += share.errors;
    sum.bytes_sent += share.bytes_sent;
    sum.bytes_received += share.bytes_received;
    sum.latency.Merge(share.latency);
  }
  if (!total_.server && part.server) total_.server = part.server;
  total_.raw_records.reserve(total_.raw_records.size() + part.raw_records.size());
  for (RequestRecord record : part.raw_records) {
    record.scheduled_ns -= clock_offset_ns;
    record.sent_ns -= clock_offset_ns;
    record.received_ns -= clock_offset_ns;
    record.worker += worker_base;
    total_.raw_records.push_back(record);
  }
}

CellResult CellAccumulator::Finish() {
  std::sort(total_.raw_records.begin(), total_.raw_records.end(),
            [](const RequestRecord& a, const RequestRecord& b) {
              return a.scheduled_ns < b.scheduled_ns;
            });
  server_index_.clear();
  return std::exchange(total_, CellResult{});
}

}  // namespace sonic
