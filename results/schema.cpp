#include "results/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <type_traits>

#include "core/error.h"
#include "core/parse.h"

namespace sonic::schema {
namespace {

template <typename T>
constexpr FieldType FieldTypeOf() {
  if constexpr (std::is_same_v<T, std::string>) return FieldType::kString;
  if constexpr (std::is_same_v<T, double>) return FieldType::kFloat64;
  if constexpr (std::is_same_v<T, bool>) return FieldType::kBool;
  if constexpr (std::is_same_v<T, std::int32_t>) return FieldType::kInt32;
  if constexpr (std::is_same_v<T, std::int64_t>) return FieldType::kInt64;
}

// The value type a field of type T travels as (int32 travels as int64).
template <typename T>
using ValueOf = std::conditional_t<std::is_same_v<T, std::int32_t>, std::int64_t, T>;

// A column stored from, and read back into, one member of the record itself.
template <typename Record, typename T>
Column<Record, Record> MemberColumn(std::string name, T Record::*member) {
  return {{std::move(name), FieldTypeOf<T>()},
          [member](const Record& record) { return Value(static_cast<ValueOf<T>>(record.*member)); },
          [member](const Value& value, Record& record) {
            record.*member = static_cast<T>(std::get<ValueOf<T>>(value));
          }};
}

using CellTableColumn = Column<CellRow, CellRecord>;

template <typename T>
CellTableColumn SettingColumn(std::string name, T CellSettings::*member) {
  return {{std::move(name), FieldTypeOf<T>()},
          [member](const CellRow& row) { return Value(row.settings.*member); },
          [member](const Value& value, CellRecord& cell) {
            cell.settings.*member = std::get<T>(value);
          }};
}

// A setting whose values are names (an enum, an optional one): stored as its name, read back
// through `parse`, whose error names the value (the reader adds the run and cell).
template <typename T>
CellTableColumn NamedSettingColumn(std::string name, T CellSettings::*member,
                                   std::string_view (*name_of)(T), T (*parse)(std::string_view)) {
  return {{std::move(name), FieldType::kString},
          [member, name_of](const CellRow& row) {
            return Value(std::string{name_of(row.settings.*member)});
          },
          [member, parse](const Value& value, CellRecord& cell) {
            cell.settings.*member = parse(std::get<std::string>(value));
          }};
}

// The spelling of an optional setting: its name, or "" when it has none.
template <typename E, std::string_view (*kNameOf)(E)>
std::string_view OptionalName(std::optional<E> value) {
  return value ? kNameOf(*value) : std::string_view();
}
template <typename E, E (*kParse)(std::string_view)>
std::optional<E> ParseOptional(std::string_view name) {
  if (name.empty()) return std::nullopt;
  return kParse(name);
}

// LoadGen's words for a latency bound met or not (OptionalName: "" for a cell without a bound).
constexpr NameTable<bool, 2> kVerdictNames{{{true, "VALID"}, {false, "INVALID"}}};
std::string_view VerdictName(bool met) { return NameIn(kVerdictNames, met); }
bool ParseVerdict(std::string_view name) {
  return ParseNameIn(kVerdictNames, name, "search verdict");
}

template <typename T>
CellTableColumn ResultColumn(std::string name, T CellResult::*member) {
  return {
      {std::move(name), FieldTypeOf<T>()},
      [member](const CellRow& row) { return Value(row.result.*member); },
      [member](const Value& value, CellRecord& cell) { cell.result.*member = std::get<T>(value); }};
}

CellTableColumn ServerStatsColumn(std::string name, std::int64_t ServerStats::*member) {
  return {{std::move(name), FieldType::kInt64},
          [member](const CellRow& row) {
            return Value(row.result.server ? (*row.result.server).*member : std::int64_t{0});
          },
          [member](const Value& value, CellRecord& cell) {
            if (cell.result.server) (*cell.result.server).*member = std::get<std::int64_t>(value);
          }};
}

CellTableColumn DerivedColumn(std::string name, FieldType type,
                              std::function<Value(const CellRow&)> get) {
  return {{std::move(name), type}, std::move(get), {}};
}

void AddSummaryColumns(std::vector<CellTableColumn>& columns, const std::string& prefix,
                       LatencySummary CellRow::*summary) {
  const auto add = [&](const char* suffix, double LatencySummary::*field) {
    columns.push_back(
        DerivedColumn(prefix + suffix, FieldType::kFloat64,
                      [summary, field](const CellRow& row) { return Value(row.*summary.*field); }));
  };
  columns.push_back(
      DerivedColumn(prefix + "_count", FieldType::kInt64,
                    [summary](const CellRow& row) { return Value((row.*summary).count); }));
  add("_p50_ns", &LatencySummary::p50_ns);
  add("_p90_ns", &LatencySummary::p90_ns);
  add("_p95_ns", &LatencySummary::p95_ns);
  add("_p99_ns", &LatencySummary::p99_ns);
  add("_p999_ns", &LatencySummary::p999_ns);
  add("_mean_ns", &LatencySummary::mean_ns);
  add("_std_ns", &LatencySummary::std_ns);
  add("_min_ns", &LatencySummary::min_ns);
  add("_max_ns", &LatencySummary::max_ns);
}

// Schema 4: a client workflow's settings and results.
void AddWorkflowColumns(std::vector<CellTableColumn>& c) {
  using S = CellSettings;
  using R = CellResult;
  c.push_back(SettingColumn("event_work", &S::event_work));
  c.push_back(SettingColumn("event_work_spread", &S::event_work_spread));
  c.push_back(SettingColumn("requests_per_event", &S::requests_per_event));
  c.push_back(NamedSettingColumn("client_mode", &S::client_mode,
                                 OptionalName<ClientMode, ClientModeName>,
                                 ParseOptional<ClientMode, ParseClientMode>));
  c.push_back(ResultColumn("completed_events", &R::completed_events));
  c.push_back(ResultColumn("throughput_events_per_s", &R::throughput_events_per_s));
  c.push_back(
      DerivedColumn("throughput_events_per_s_per_job", FieldType::kFloat64, [](const CellRow& row) {
        const auto jobs = static_cast<double>(std::max<std::int64_t>(1, row.settings.concurrency));
        return Value(row.result.throughput_events_per_s / jobs);
      }));
  AddSummaryColumns(c, "event_time", &CellRow::event_time);
  c.push_back(ResultColumn("event_ns_total", &R::event_ns_total));
  c.push_back(ResultColumn("event_inference_ns_total", &R::event_inference_ns_total));
  c.push_back(
      DerivedColumn("event_inference_fraction", FieldType::kFloat64,
                    [](const CellRow& row) { return Value(row.result.EventInferenceFraction()); }));
  c.push_back(DerivedColumn("bytes_per_event", FieldType::kFloat64, [](const CellRow& row) {
    const CellResult& r = row.result;
    return Value(r.completed_events > 0 ? static_cast<double>(r.bytes_sent + r.bytes_received) /
                                              static_cast<double>(r.completed_events)
                                        : 0.0);
  }));
}

// Schema 5: a remote cell's server metrics: present when the endpoint is named (the series and
// deltas are tables in the cell's group).
void AddMetricsColumns(std::vector<CellTableColumn>& c) {
  using M = ServerMetrics;
  const auto metrics_column = [&](std::string name, FieldType type, auto member, Value none) {
    c.push_back({{std::move(name), type},
                 [member, none](const CellRow& row) {
                   return row.result.server_metrics ? Value((*row.result.server_metrics).*member)
                                                    : none;
                 },
                 [member](const Value& value, CellRecord& cell) {
                   using T = std::remove_reference_t<decltype(M{}.*member)>;
                   if (cell.result.server_metrics) {
                     (*cell.result.server_metrics).*member = std::get<T>(value);
                   }
                 }});
  };
  // The endpoint first: a non-empty one is what says the cell has metrics.
  c.push_back({{"metrics_endpoint", FieldType::kString},
               [](const CellRow& row) {
                 return Value(row.result.server_metrics ? row.result.server_metrics->endpoint
                                                        : std::string());
               },
               [](const Value& value, CellRecord& cell) {
                 const auto& endpoint = std::get<std::string>(value);
                 if (!endpoint.empty()) cell.result.server_metrics.emplace().endpoint = endpoint;
               }});
  metrics_column("metrics_error", FieldType::kString, &M::error, Value(std::string()));
  metrics_column("metrics_span_s", FieldType::kFloat64, &M::span_s, Value(0.0));
}

// Schema 5: a latency-bound search's settings and verdict.
void AddSearchColumns(std::vector<CellTableColumn>& c) {
  using S = CellSettings;
  using R = CellResult;
  c.push_back(NamedSettingColumn("search_over", &S::search_over,
                                 OptionalName<SearchOver, SearchOverName>,
                                 ParseOptional<SearchOver, ParseSearchOver>));
  c.push_back(SettingColumn("latency_bound_ms", &S::latency_bound_ms));
  c.push_back(SettingColumn("latency_percentile", &S::latency_percentile));
  c.push_back(NamedSettingColumn("search_role", &S::search_role,
                                 OptionalName<SearchRole, SearchRoleName>,
                                 ParseOptional<SearchRole, ParseSearchRole>));
  c.push_back(SettingColumn("search_probe", &S::search_probe));
  c.push_back(ResultColumn("within_bound_requests", &R::within_bound_requests));
  c.push_back(DerivedColumn("goodput_per_s", FieldType::kFloat64,
                            [](const CellRow& row) { return Value(row.result.GoodputPerS()); }));
  c.push_back({{"search_verdict", FieldType::kString},
               [](const CellRow& row) {
                 return Value(std::string{OptionalName<bool, VerdictName>(row.result.bound_met)});
               },
               [](const Value& value, CellRecord& cell) {
                 cell.result.bound_met =
                     ParseOptional<bool, ParseVerdict>(std::get<std::string>(value));
               }});
  c.push_back(ResultColumn("bound_verdict_reason", &R::bound_verdict_reason));
}

// Schema 6: a cell's physics performance (the ROC curve is a table in the cell's group).
void AddAccuracyColumns(std::vector<CellTableColumn>& c) {
  const auto accuracy_column = [&](std::string name, FieldType type, auto get, auto set,
                                   Value none) {
    c.push_back({{std::move(name), type},
                 [get, none](const CellRow& row) {
                   return row.result.accuracy ? Value(get(*row.result.accuracy)) : none;
                 },
                 [set](const Value& value, CellRecord& cell) {
                   if (cell.result.accuracy) set(*cell.result.accuracy, value);
                 }});
  };
  // The dataset first: a non-empty one is what says the cell has a physics measurement.
  c.push_back({{"accuracy_dataset", FieldType::kString},
               [](const CellRow& row) {
                 return Value(row.result.accuracy ? row.result.accuracy->dataset : std::string());
               },
               [](const Value& value, CellRecord& cell) {
                 const auto& dataset = std::get<std::string>(value);
                 if (!dataset.empty()) cell.result.accuracy.emplace().dataset = dataset;
               }});
  const auto member = [&](std::string name, auto CellAccuracy::*field) {
    using T = std::remove_reference_t<decltype(CellAccuracy{}.*field)>;
    accuracy_column(
        std::move(name), FieldTypeOf<T>(), [field](const CellAccuracy& a) { return a.*field; },
        [field](CellAccuracy& a, const Value& value) { a.*field = std::get<T>(value); },
        Value(T{}));
  };
  const auto score = [&](std::string name, auto TaggerScore::*field) {
    using T = std::remove_reference_t<decltype(TaggerScore{}.*field)>;
    accuracy_column(
        std::move(name), FieldTypeOf<T>(),
        [field](const CellAccuracy& a) { return a.score.*field; },
        [field](CellAccuracy& a, const Value& value) { a.score.*field = std::get<T>(value); },
        Value(T{}));
  };
  member("accuracy_error", &CellAccuracy::error);
  member("accuracy_signal_class", &CellAccuracy::signal_class);
  score("accuracy_samples", &TaggerScore::samples);
  score("accuracy_signal_samples", &TaggerScore::signal_samples);
  score("roc_auc", &TaggerScore::roc_auc);
  for (std::size_t i = 0; i < kRejectionEfficiencies.size(); ++i) {
    // "background_rejection_at_0_3": the efficiency's digits, a point being no name character.
    std::string name = fmt::format("background_rejection_at_{}", kRejectionEfficiencies[i]);
    std::replace(name.begin(), name.end(), '.', '_');
    accuracy_column(
        std::move(name), FieldType::kFloat64,
        [i](const CellAccuracy& a) { return a.score.rejection[i]; },
        [i](CellAccuracy& a, const Value& value) {
          a.score.rejection[i] = std::get<double>(value);
        },
        Value(0.0));
  }
  score("accuracy", &TaggerScore::accuracy);
  score("output_max_abs_deviation", &TaggerScore::max_abs_deviation);
  score("output_mean_abs_deviation", &TaggerScore::mean_abs_deviation);
}

}  // namespace

std::string ServerHistogramName(std::size_t server) {
  return fmt::format("server_{}_latency_histogram", server);
}

const std::vector<Column<CellRow, CellRecord>>& CellColumns() {
  static const std::vector<CellTableColumn> columns = [] {
    using S = CellSettings;
    using R = CellResult;
    std::vector<CellTableColumn> c;
    c.push_back(DerivedColumn("index", FieldType::kInt64,
                              [](const CellRow& row) { return Value(row.index); }));
    c.push_back(DerivedColumn("key", FieldType::kString,
                              [](const CellRow& row) { return Value(row.settings.Key()); }));
    c.push_back(
        {{"status", FieldType::kString},
         [](const CellRow& row) { return Value(std::string(CellStatusName(row.result.status))); },
         [](const Value& value, CellRecord& cell) {
           cell.result.status = ParseCellStatus(std::get<std::string>(value));
         }});
    c.push_back(ResultColumn("error_message", &R::error_message));
    c.push_back(ResultColumn("converged", &R::converged));
    c.push_back(ResultColumn("convergence_reason", &R::convergence_reason));
    c.push_back(NamedSettingColumn("target", &S::target, TargetKindName, ParseTargetKind));
    c.push_back(SettingColumn("link", &S::link));
    c.push_back(SettingColumn("backend", &S::backend));
    c.push_back(SettingColumn("model", &S::model));
    c.push_back(SettingColumn("precision", &S::precision));
    c.push_back(SettingColumn("batch", &S::batch));
    c.push_back(NamedSettingColumn("mode", &S::mode, LoadModeName, ParseLoadMode));
    c.push_back(SettingColumn("concurrency", &S::concurrency));
    c.push_back(SettingColumn("rate_hz", &S::rate_hz));
    c.push_back(
        NamedSettingColumn("arrival", &S::arrival, ArrivalProcessName, ParseArrivalProcess));
    c.push_back(SettingColumn("repeat", &S::repeat));
    c.push_back(SettingColumn("threads", &S::threads));
    c.push_back(SettingColumn("inputs", &S::inputs));
    c.push_back(SettingColumn("server_address", &S::server_address));
    c.push_back(ResultColumn("warmup_duration_s", &R::warmup_duration_s));
    c.push_back(ResultColumn("warmup_requests", &R::warmup_requests));
    c.push_back(ResultColumn("duration_s", &R::duration_s));
    c.push_back(ResultColumn("completed_requests", &R::completed_requests));
    c.push_back(ResultColumn("completed_inferences", &R::completed_inferences));
    c.push_back(ResultColumn("throughput_inferences_per_s", &R::throughput_inferences_per_s));
    c.push_back(
        ResultColumn("throughput_inferences_per_s_ci95", &R::throughput_inferences_per_s_ci95));
    c.push_back(ResultColumn("throughput_requests_per_s", &R::throughput_requests_per_s));
    c.push_back(ResultColumn("throughput_requests_per_s_ci95", &R::throughput_requests_per_s_ci95));
    AddSummaryColumns(c, "latency", &CellRow::latency);
    c.push_back(DerivedColumn("latency_overflow_count", FieldType::kInt64, [](const CellRow& row) {
      return Value(row.result.latency.overflow_count());
    }));
    AddSummaryColumns(c, "send_lag", &CellRow::send_lag);
    c.push_back(ResultColumn("generator_behind", &R::generator_behind));
    c.push_back(ResultColumn("client_cpu_user_s", &R::client_cpu_user_s));
    c.push_back(ResultColumn("client_cpu_sys_s", &R::client_cpu_sys_s));
    c.push_back(
        DerivedColumn("client_cpu_utilisation", FieldType::kFloat64,
                      [](const CellRow& row) { return Value(row.result.ClientCpuUtilisation()); }));
    c.push_back(DerivedColumn("error_count", FieldType::kInt64, [](const CellRow& row) {
      std::int64_t total = 0;
      for (const auto& [kind, count] : row.result.errors) total += count;
      return Value(total);
    }));
    c.push_back(ResultColumn("bytes_sent", &R::bytes_sent));
    c.push_back(ResultColumn("bytes_received", &R::bytes_received));
    c.push_back({{"server_stats", FieldType::kBool},
                 [](const CellRow& row) { return Value(row.result.server.has_value()); },
                 [](const Value& value, CellRecord& cell) {
                   if (std::get<bool>(value)) cell.result.server.emplace();
                 }});
    c.push_back(ServerStatsColumn("server_request_count", &ServerStats::request_count));
    c.push_back(ServerStatsColumn("server_inference_count", &ServerStats::inference_count));
    c.push_back(ServerStatsColumn("server_execution_count", &ServerStats::execution_count));
    c.push_back(ServerStatsColumn("server_queue_ns", &ServerStats::queue_ns));
    c.push_back(ServerStatsColumn("server_compute_input_ns", &ServerStats::compute_input_ns));
    c.push_back(ServerStatsColumn("server_compute_infer_ns", &ServerStats::compute_infer_ns));
    c.push_back(ServerStatsColumn("server_compute_output_ns", &ServerStats::compute_output_ns));
    c.push_back(DerivedColumn("raw_record_count", FieldType::kInt64, [](const CellRow& row) {
      return Value(static_cast<std::int64_t>(row.result.raw_records.size()));
    }));
    c.push_back(ResultColumn("raw_records_truncated", &R::raw_records_truncated));
    c.push_back(NamedSettingColumn("dynamic_batching", &S::dynamic_batching, DynamicBatchingName,
                                   ParseOptional<bool, ParseDynamicBatching>));
    c.push_back(ResultColumn("backend_settings", &R::backend_settings));
    AddWorkflowColumns(c);
    AddSearchColumns(c);
    AddMetricsColumns(c);
    AddAccuracyColumns(c);
    return c;
  }();
  return columns;
}

const Column<CellRow, CellRecord>& CellColumn(const std::string& name) {
  for (const CellTableColumn& column : CellColumns()) {
    if (column.field.name == name) return column;
  }
  Throw(ErrorKind::kInternal, "no cells column named {}", name);
}

const std::vector<Column<ServerShare, ServerShare>>& ServerColumns() {
  using Share = ServerShare;
  static const std::vector<Column<Share, Share>> columns = [] {
    std::vector<Column<Share, Share>> c;
    c.push_back(MemberColumn("address", &Share::address));
    c.push_back(MemberColumn("requests", &Share::requests));
    c.push_back(MemberColumn("errors", &Share::errors));
    c.push_back(MemberColumn("bytes_sent", &Share::bytes_sent));
    c.push_back(MemberColumn("bytes_received", &Share::bytes_received));
    c.push_back({{"latency_count", FieldType::kInt64},
                 [](const Share& share) { return Value(share.latency.count()); },
                 {}});
    const auto add = [&](const char* name, double LatencySummary::*field) {
      c.push_back({{name, FieldType::kFloat64},
                   [field](const Share& share) { return Value(share.latency.Summary().*field); },
                   {}});
    };
    add("latency_p50_ns", &LatencySummary::p50_ns);
    add("latency_p99_ns", &LatencySummary::p99_ns);
    add("latency_mean_ns", &LatencySummary::mean_ns);
    add("latency_max_ns", &LatencySummary::max_ns);
    return c;
  }();
  return columns;
}

const std::vector<Column<MetricDelta, MetricDelta>>& MetricDeltaColumns() {
  static const std::vector<Column<MetricDelta, MetricDelta>> columns = {
      MemberColumn("name", &MetricDelta::name), MemberColumn("delta", &MetricDelta::delta)};
  return columns;
}

const std::vector<Column<MetricPoint, MetricPoint>>& MetricPointColumns() {
  static const std::vector<Column<MetricPoint, MetricPoint>> columns = {
      MemberColumn("t_s", &MetricPoint::t_s), MemberColumn("name", &MetricPoint::name),
      MemberColumn("value", &MetricPoint::value)};
  return columns;
}

const std::vector<Column<RocPoint, RocPoint>>& RocColumns() {
  static const std::vector<Column<RocPoint, RocPoint>> columns = {
      MemberColumn("signal_efficiency", &RocPoint::signal_efficiency),
      MemberColumn("background_efficiency", &RocPoint::background_efficiency)};
  return columns;
}

const std::vector<Column<RankSummary, RankSummary>>& RankColumns() {
  using R = RankSummary;
  static const std::vector<Column<R, R>> columns{
      MemberColumn("rank", &R::rank),
      MemberColumn("host", &R::host),
      MemberColumn("concurrency", &R::concurrency),
      MemberColumn("completed_requests", &R::completed_requests),
      MemberColumn("error_count", &R::error_count),
      MemberColumn("duration_s", &R::duration_s),
      MemberColumn("throughput_requests_per_s", &R::throughput_requests_per_s),
      MemberColumn("latency_p50_ns", &R::latency_p50_ns),
      MemberColumn("latency_p99_ns", &R::latency_p99_ns),
      MemberColumn("client_cpu_user_s", &R::client_cpu_user_s),
      MemberColumn("client_cpu_sys_s", &R::client_cpu_sys_s),
      MemberColumn("clock_offset_ns", &R::clock_offset_ns),
      MemberColumn("clock_offset_uncertainty_ns", &R::clock_offset_uncertainty_ns),
      MemberColumn("window_start_ns", &R::window_start_ns),
      MemberColumn("window_end_ns", &R::window_end_ns),
  };
  return columns;
}

const std::vector<Column<ErrorCount, ErrorCount>>& ErrorColumns() {
  static const std::vector<Column<ErrorCount, ErrorCount>> columns{
      MemberColumn("kind", &ErrorCount::first),
      MemberColumn("count", &ErrorCount::second),
  };
  return columns;
}

}  // namespace sonic::schema
