#include "results/groups.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/hdf5.h"
#include "results/row_layout.h"
#include "results/schema.h"

namespace sonic {
namespace {

std::string ObjectName(hid_t object) {
  char name[512] = {};
  return H5Iget_name(object, name, sizeof name) > 0 ? name : "?";
}

// The value of an attribute that must be there.
template <typename T>
T Required(std::optional<T> value, hid_t object, const char* name) {
  if (!value) {
    Throw(ErrorKind::kIo, "{}: attribute {} is missing or not of the expected type",
          ObjectName(object), name);
  }
  return *std::move(value);
}

std::string RequiredString(hid_t object, const char* name) {
  return Required(h5::ReadStringAttribute(object, name), object, name);
}
std::int64_t RequiredInt64(hid_t object, const char* name) {
  return Required(h5::ReadInt64Attribute(object, name), object, name);
}
// The value of an attribute added to a record after files without it were written: 0 there, and
// checked like a required one where present.
double DoubleOrZeroWhereAbsent(hid_t object, const char* name) {
  const std::vector<std::string> names = h5::AttributeNames(object);
  if (std::find(names.begin(), names.end(), name) == names.end()) return 0.0;
  return Required(h5::ReadDoubleAttribute(object, name), object, name);
}

// ---------------------------------------------------------------------------------------------
// Histograms: one (lower bound, count) row per non-empty bucket, the totals in attributes.

struct HistogramRow {
  std::int64_t lower_bound_ns;
  std::int64_t count;
};

h5::Handle HistogramRowType() {
  return h5::CompoundType(
      sizeof(HistogramRow),
      {{"lower_bound_ns", offsetof(HistogramRow, lower_bound_ns), H5T_NATIVE_INT64},
       {"count", offsetof(HistogramRow, count), H5T_NATIVE_INT64}});
}

void WriteHistogram(hid_t group, const char* name, const LatencyHistogram& histogram) {
  const HistogramData data = histogram.Export();
  std::vector<HistogramRow> rows(data.count.size());
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = {data.lower_bound_ns[i], data.count[i]};
  const h5::Handle type = HistogramRowType();
  h5::WriteArray(group, name, type.get(), type.get(), rows.size(), rows.data());
  const h5::Handle dataset = h5::OpenDataset(group, name);
  const hid_t d = dataset.get();
  h5::WriteInt64Attribute(d, "total_count", data.total_count);
  h5::WriteInt64Attribute(d, "sum_ns", data.sum_ns);
  h5::WriteInt64Attribute(d, "min_ns", data.min_ns);
  h5::WriteInt64Attribute(d, "max_ns", data.max_ns);
  h5::WriteInt64Attribute(d, "overflow_count", data.overflow_count);
  h5::WriteUInt64Attribute(d, "sum_sq_ns2_hi", data.sum_sq_hi);
  h5::WriteUInt64Attribute(d, "sum_sq_ns2_lo", data.sum_sq_lo);
  h5::WriteInt64Attribute(d, "sub_bucket_count", LatencyHistogram::kSubBucketCount);
  h5::WriteInt64Attribute(d, "max_value_ns", LatencyHistogram::kMaxValueNs);
  h5::WriteDoubleAttribute(d, "relative_error", LatencyHistogram::kRelativeError);
}

LatencyHistogram ReadHistogram(hid_t group, const char* name) {
  const h5::Handle type = HistogramRowType();
  const auto rows = h5::ReadArray<HistogramRow>(group, name, type.get());
  const h5::Handle dataset = h5::OpenDataset(group, name);
  const hid_t d = dataset.get();
  if (RequiredInt64(d, "sub_bucket_count") != LatencyHistogram::kSubBucketCount) {
    Throw(ErrorKind::kInvalidArgument, "histogram {} has a sub-bucket count this build cannot read",
          ObjectName(d));
  }
  HistogramData data;
  for (const HistogramRow& row : rows) {
    data.lower_bound_ns.push_back(row.lower_bound_ns);
    data.count.push_back(row.count);
  }
  data.total_count = RequiredInt64(d, "total_count");
  data.sum_ns = RequiredInt64(d, "sum_ns");
  data.min_ns = RequiredInt64(d, "min_ns");
  data.max_ns = RequiredInt64(d, "max_ns");
  data.overflow_count = RequiredInt64(d, "overflow_count");
  data.sum_sq_hi = Required(h5::ReadUInt64Attribute(d, "sum_sq_ns2_hi"), d, "sum_sq_ns2_hi");
  data.sum_sq_lo = Required(h5::ReadUInt64Attribute(d, "sum_sq_ns2_lo"), d, "sum_sq_ns2_lo");
  try {
    return LatencyHistogram::Import(data);
  } catch (const Error& error) {
    Throw(ErrorKind::kInvalidArgument, "{}: {}", ObjectName(d), error.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Fixed-size rows: raw request records and the server's executed batch sizes.

h5::Handle RequestRecordType() {
  using R = RequestRecord;
  return h5::CompoundType(
      sizeof(R), {{"scheduled_ns", offsetof(R, scheduled_ns), H5T_NATIVE_INT64},
                  {"sent_ns", offsetof(R, sent_ns), H5T_NATIVE_INT64},
                  {"received_ns", offsetof(R, received_ns), H5T_NATIVE_INT64},
                  {"worker", offsetof(R, worker), H5T_NATIVE_INT32},
                  {"status", offsetof(R, status), H5T_NATIVE_INT32},
                  {"server_queue_ns", offsetof(R, server_queue_ns), H5T_NATIVE_INT64},
                  {"server_compute_ns", offsetof(R, server_compute_ns), H5T_NATIVE_INT64}});
}

struct BatchSizeRow {
  std::int32_t batch_size;
  std::int64_t count;
};

h5::Handle BatchSizeRowType() {
  return h5::CompoundType(sizeof(BatchSizeRow),
                          {{"batch_size", offsetof(BatchSizeRow, batch_size), H5T_NATIVE_INT32},
                           {"count", offsetof(BatchSizeRow, count), H5T_NATIVE_INT64}});
}

// ---------------------------------------------------------------------------------------------
// Tables with strings (schema.h columns).

template <typename Record>
void WriteTable(hid_t group, const char* name,
                const std::vector<schema::Column<Record, Record>>& columns,
                const std::vector<Record>& records) {
  std::vector<std::vector<Value>> rows;
  for (const Record& record : records) rows.push_back(schema::ValuesOf(columns, record));
  WriteRows(group, name, schema::FieldsOf(columns), rows);
}

template <typename Record>
std::vector<Record> ReadTable(hid_t group, const char* name,
                              const std::vector<schema::Column<Record, Record>>& columns) {
  const h5::Handle dataset = h5::OpenDataset(group, name);
  std::vector<Record> records;
  for (const auto& row : ReadRows(dataset.get(), schema::FieldsOf(columns), name)) {
    schema::SetFromRow(columns, row, records.emplace_back());
  }
  return records;
}

void WriteServers(hid_t group, const std::vector<ServerShare>& servers) {
  if (servers.empty()) return;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    WriteHistogram(group, schema::ServerHistogramName(i).c_str(), servers[i].latency);
  }
  WriteTable(group, schema::kServersTable, schema::ServerColumns(), servers);
}

std::vector<ServerShare> ReadServers(hid_t group) {
  if (!h5::Exists(group, schema::kServersTable)) return {};
  std::vector<ServerShare> servers =
      ReadTable(group, schema::kServersTable, schema::ServerColumns());
  for (std::size_t i = 0; i < servers.size(); ++i) {
    servers[i].latency = ReadHistogram(group, schema::ServerHistogramName(i).c_str());
  }
  return servers;
}

void WriteFleet(hid_t group, const std::optional<FleetInfo>& fleet) {
  if (!fleet) return;
  WriteTable(group, schema::kRanksTable, schema::RankColumns(), fleet->ranks);
  const h5::Handle dataset = h5::OpenDataset(group, schema::kRanksTable);
  h5::WriteInt64Attribute(dataset.get(), "alignment_error_ns", fleet->alignment_error_ns);
  h5::WriteInt64Attribute(dataset.get(), "start_spread_ns", fleet->start_spread_ns);
  h5::WriteInt64Attribute(dataset.get(), "end_spread_ns", fleet->end_spread_ns);
}

std::optional<FleetInfo> ReadFleet(hid_t group) {
  if (!h5::Exists(group, schema::kRanksTable)) return std::nullopt;
  FleetInfo fleet;
  fleet.ranks = ReadTable(group, schema::kRanksTable, schema::RankColumns());
  const h5::Handle dataset = h5::OpenDataset(group, schema::kRanksTable);
  fleet.alignment_error_ns = RequiredInt64(dataset.get(), "alignment_error_ns");
  fleet.start_spread_ns = RequiredInt64(dataset.get(), "start_spread_ns");
  fleet.end_spread_ns = RequiredInt64(dataset.get(), "end_spread_ns");
  return fleet;
}

}  // namespace

void WriteRunInfo(hid_t run, const RunInfo& info) {
  h5::WriteStringAttribute(run, "run_id", info.run_id);
  h5::WriteStringAttribute(run, "sonicbench_version", info.sonicbench_version);
  h5::WriteStringAttribute(run, "git_commit", info.git_commit);
  h5::WriteStringAttribute(run, "command_line", info.command_line);
  h5::WriteStringAttribute(run, "config_text", info.config_text);
  h5::WriteStringAttribute(run, "host", info.host);
  h5::WriteStringAttribute(run, "cpu_model", info.cpu_model);
  h5::WriteDoubleAttribute(run, "cpu_peak_gflops", info.cpu_peak_gflops);
  h5::WriteStringAttribute(run, "start_time_utc", info.start_time_utc);
  h5::WriteInt64Attribute(run, "schema_version", kResultsSchemaVersion);
  h5::WriteBoolAttribute(run, "complete", false);
  const h5::Handle seeds = h5::CreateGroup(run, "seeds");
  for (const auto& [name, seed] : info.seeds) {
    h5::WriteUInt64Attribute(seeds.get(), name.c_str(), seed);
  }
  const h5::Handle libraries = h5::CreateGroup(run, "library_versions");
  for (const auto& [name, version] : info.library_versions) {
    h5::WriteStringAttribute(libraries.get(), name.c_str(), version);
  }
  const h5::Handle devices = h5::CreateGroup(run, "device_names");
  for (const auto& [name, device] : info.device_names) {
    h5::WriteStringAttribute(devices.get(), name.c_str(), device);
  }
  const h5::Handle system = h5::CreateGroup(run, schema::kSystemGroup);
  const RunSystem& s = info.system;
  h5::WriteInt64Attribute(system.get(), "cpu_cores", s.cpu_cores);
  h5::WriteInt64Attribute(system.get(), "online_cpus", s.online_cpus);
  h5::WriteStringAttribute(system.get(), "isa", s.isa);
  h5::WriteInt64Attribute(system.get(), "memory_bytes", s.memory_bytes);
  h5::WriteDoubleAttribute(system.get(), "int8_peak_gops", s.int8_peak_gops);
  h5::WriteDoubleAttribute(system.get(), "bf16_peak_gflops", s.bf16_peak_gflops);
  h5::WriteDoubleAttribute(system.get(), "amx_bf16_peak_gflops", s.amx_bf16_peak_gflops);
  h5::WriteDoubleAttribute(system.get(), "amx_int8_peak_gops", s.amx_int8_peak_gops);
  h5::WriteDoubleAttribute(system.get(), "stream_triad_gbs", s.stream_triad_gbs);
}

RunInfo ReadRunInfo(hid_t run) {
  RunInfo info;
  info.run_id = RequiredString(run, "run_id");
  info.sonicbench_version = RequiredString(run, "sonicbench_version");
  info.git_commit = RequiredString(run, "git_commit");
  info.command_line = RequiredString(run, "command_line");
  info.config_text = RequiredString(run, "config_text");
  info.host = RequiredString(run, "host");
  info.cpu_model = RequiredString(run, "cpu_model");
  info.cpu_peak_gflops =
      Required(h5::ReadDoubleAttribute(run, "cpu_peak_gflops"), run, "cpu_peak_gflops");
  info.start_time_utc = RequiredString(run, "start_time_utc");
  info.complete = Required(h5::ReadBoolAttribute(run, "complete"), run, "complete");
  const h5::Handle seeds = h5::OpenGroup(run, "seeds");
  for (const std::string& name : h5::AttributeNames(seeds.get())) {
    info.seeds[name] =
        Required(h5::ReadUInt64Attribute(seeds.get(), name.c_str()), seeds.get(), name.c_str());
  }
  const h5::Handle libraries = h5::OpenGroup(run, "library_versions");
  for (const std::string& name : h5::AttributeNames(libraries.get())) {
    info.library_versions[name] = RequiredString(libraries.get(), name.c_str());
  }
  const h5::Handle devices = h5::OpenGroup(run, "device_names");
  for (const std::string& name : h5::AttributeNames(devices.get())) {
    info.device_names[name] = RequiredString(devices.get(), name.c_str());
  }
  if (h5::Exists(run, schema::kSystemGroup)) {
    const h5::Handle system = h5::OpenGroup(run, schema::kSystemGroup);
    const hid_t g = system.get();
    RunSystem& s = info.system;
    s.cpu_cores = RequiredInt64(g, "cpu_cores");
    s.online_cpus = RequiredInt64(g, "online_cpus");
    s.isa = RequiredString(g, "isa");
    s.memory_bytes = RequiredInt64(g, "memory_bytes");
    s.int8_peak_gops = Required(h5::ReadDoubleAttribute(g, "int8_peak_gops"), g, "int8_peak_gops");
    s.bf16_peak_gflops =
        Required(h5::ReadDoubleAttribute(g, "bf16_peak_gflops"), g, "bf16_peak_gflops");
    s.stream_triad_gbs =
        Required(h5::ReadDoubleAttribute(g, "stream_triad_gbs"), g, "stream_triad_gbs");
    s.amx_bf16_peak_gflops = DoubleOrZeroWhereAbsent(g, "amx_bf16_peak_gflops");
    s.amx_int8_peak_gops = DoubleOrZeroWhereAbsent(g, "amx_int8_peak_gops");
  }
  return info;
}

void WriteCellGroup(hid_t group, const CellResult& result) {
  WriteServers(group, result.servers);
  if (result.server_metrics) {
    WriteTable(group, schema::kServerMetricDeltas, schema::MetricDeltaColumns(),
               result.server_metrics->counters);
    WriteTable(group, schema::kServerMetricSeries, schema::MetricPointColumns(),
               result.server_metrics->gauges);
  }
  if (result.accuracy) {
    WriteTable(group, schema::kRocCurve, schema::RocColumns(), result.accuracy->score.roc);
  }
  WriteFleet(group, result.fleet);
  WriteHistogram(group, schema::kLatencyHistogram, result.latency);
  WriteHistogram(group, schema::kSendLagHistogram, result.send_lag);
  WriteHistogram(group, schema::kEventTimeHistogram, result.event_time);
  h5::WriteArray(group, schema::kInstanceDutyCycles, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                 result.instance_duty_cycles.size(), result.instance_duty_cycles.data());

  const h5::Handle record_type = RequestRecordType();
  h5::WriteArray(group, schema::kRawRecords, record_type.get(), record_type.get(),
                 result.raw_records.size(), result.raw_records.data());
  const h5::Handle records = h5::OpenDataset(group, schema::kRawRecords);
  h5::WriteBoolAttribute(records.get(), "truncated", result.raw_records_truncated);

  const std::vector<schema::ErrorCount> errors(result.errors.begin(), result.errors.end());
  WriteTable(group, schema::kErrorsTable, schema::ErrorColumns(), errors);

  // The memory layout has padding after batch_size; the file layout is packed.
  const h5::Handle batch_type = BatchSizeRowType();
  const h5::Handle batch_file_type = h5::Check(H5Tcopy(batch_type.get()), "H5Tcopy");
  h5::CheckStatus(H5Tpack(batch_file_type.get()), "H5Tpack");
  std::vector<BatchSizeRow> batches;
  if (result.server) {
    for (const auto& [size, count] : result.server->executed_batch_sizes) {
      batches.push_back({size, count});
    }
  }
  h5::WriteArray(group, schema::kServerBatchSizes, batch_file_type.get(), batch_type.get(),
                 batches.size(), batches.data());
}

void ReadCellGroup(hid_t group, bool with_raw_records, CellResult& result) {
  result.servers = ReadServers(group);
  if (result.server_metrics) {
    if (!h5::Exists(group, schema::kServerMetricDeltas) ||
        !h5::Exists(group, schema::kServerMetricSeries)) {
      Throw(ErrorKind::kIo, "the cell names a metrics endpoint but has no {} and {} tables",
            schema::kServerMetricDeltas, schema::kServerMetricSeries);
    }
    result.server_metrics->counters =
        ReadTable(group, schema::kServerMetricDeltas, schema::MetricDeltaColumns());
    result.server_metrics->gauges =
        ReadTable(group, schema::kServerMetricSeries, schema::MetricPointColumns());
  }
  if (result.accuracy) {
    if (!h5::Exists(group, schema::kRocCurve)) {
      Throw(ErrorKind::kIo, "the cell names an accuracy dataset but has no {} table",
            schema::kRocCurve);
    }
    result.accuracy->score.roc = ReadTable(group, schema::kRocCurve, schema::RocColumns());
  }
  result.fleet = ReadFleet(group);
  result.latency = ReadHistogram(group, schema::kLatencyHistogram);
  result.send_lag = ReadHistogram(group, schema::kSendLagHistogram);
  if (h5::Exists(group, schema::kEventTimeHistogram)) {  // schema 4
    result.event_time = ReadHistogram(group, schema::kEventTimeHistogram);
  }
  if (h5::Exists(group, schema::kInstanceDutyCycles)) {
    result.instance_duty_cycles =
        h5::ReadArray<double>(group, schema::kInstanceDutyCycles, H5T_NATIVE_DOUBLE);
  }
  {
    const h5::Handle records = h5::OpenDataset(group, schema::kRawRecords);
    result.raw_records_truncated =
        Required(h5::ReadBoolAttribute(records.get(), "truncated"), records.get(), "truncated");
  }
  if (with_raw_records) {
    const h5::Handle record_type = RequestRecordType();
    result.raw_records =
        h5::ReadArray<RequestRecord>(group, schema::kRawRecords, record_type.get());
  }
  for (const auto& [kind, count] : ReadTable(group, schema::kErrorsTable, schema::ErrorColumns())) {
    result.errors[kind] = count;
  }
  const h5::Handle batch_type = BatchSizeRowType();
  const auto batches =
      h5::ReadArray<BatchSizeRow>(group, schema::kServerBatchSizes, batch_type.get());
  if (result.server) {
    for (const BatchSizeRow& row : batches) {
      result.server->executed_batch_sizes[row.batch_size] = row.count;
    }
  }
}

}  // namespace sonic
