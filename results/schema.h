#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "results/cell.h"
#include "results/row_layout.h"

namespace sonic::schema {

// The layout of a results file as data, in one place: group, dataset and attribute names and the
// columns of every table that mixes numbers and strings. results/SCHEMA.md documents each of
// them; columns are only ever appended. Internal to results/.

inline constexpr const char* kFormatName = "sonicbench results";  // root attribute `format`
inline constexpr const char* kRunsGroup = "runs";
inline constexpr const char* kSystemGroup = "system";  // RunSystem; absent before schema 2
inline constexpr const char* kCellsTable = "cells";
inline constexpr const char* kCellGroups = "cell";
inline constexpr const char* kServersTable = "servers";
inline constexpr const char* kRanksTable = "ranks";
inline constexpr const char* kErrorsTable = "errors";
inline constexpr const char* kLatencyHistogram = "latency_histogram";
inline constexpr const char* kSendLagHistogram = "send_lag_histogram";
inline constexpr const char* kEventTimeHistogram = "event_time_histogram";  // schema 4
inline constexpr const char* kInstanceDutyCycles = "instance_duty_cycles";  // schema 4
inline constexpr const char* kRawRecords = "raw_records";
inline constexpr const char* kServerBatchSizes = "server_batch_sizes";
inline constexpr const char* kServerMetricDeltas = "server_metric_deltas";  // schema 5
inline constexpr const char* kServerMetricSeries = "server_metric_series";  // schema 5
inline constexpr const char* kRocCurve = "roc_curve";                       // schema 6
std::string ServerHistogramName(std::size_t server);  // "server_<i>_latency_histogram"

// One column of a table: how to compute its value from a `Source` and, unless it is derived
// (computed from other fields, e.g. a percentile), how to put it back into a `Record`.
template <typename Source, typename Record>
struct Column {
  Field field;
  std::function<Value(const Source&)> get;
  std::function<void(const Value&, Record&)> set;  // empty for derived columns
};

// What one row of the cells table is computed from.
struct CellRow {
  std::int64_t index;
  const CellSettings& settings;
  const CellResult& result;
  LatencySummary latency;
  LatencySummary send_lag;
  LatencySummary event_time;
};
using ErrorCount = std::pair<std::string, std::int64_t>;  // error kind, count

const std::vector<Column<CellRow, CellRecord>>& CellColumns();
// The cells column called `name`; throws Error(kInternal) when there is none.
const Column<CellRow, CellRecord>& CellColumn(const std::string& name);
const std::vector<Column<ServerShare, ServerShare>>& ServerColumns();  // latency histogram aside
const std::vector<Column<RankSummary, RankSummary>>& RankColumns();
const std::vector<Column<MetricDelta, MetricDelta>>& MetricDeltaColumns();
const std::vector<Column<MetricPoint, MetricPoint>>& MetricPointColumns();
const std::vector<Column<ErrorCount, ErrorCount>>& ErrorColumns();
const std::vector<Column<RocPoint, RocPoint>>& RocColumns();

template <typename Source, typename Record>
std::vector<Field> FieldsOf(const std::vector<Column<Source, Record>>& columns) {
  std::vector<Field> fields;
  for (const auto& column : columns) fields.push_back(column.field);
  return fields;
}

template <typename Source, typename Record>
std::vector<Value> ValuesOf(const std::vector<Column<Source, Record>>& columns,
                            const Source& source) {
  std::vector<Value> values;
  for (const auto& column : columns) values.push_back(column.get(source));
  return values;
}

// Sets the stored (not derived) columns of `record` from a row read in `columns` order.
template <typename Source, typename Record>
void SetFromRow(const std::vector<Column<Source, Record>>& columns,
                const std::vector<Value>& values, Record& record) {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].set) columns[i].set(values[i], record);
  }
}

}  // namespace sonic::schema
