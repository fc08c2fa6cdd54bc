#include "results/cell.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/parse.h"

namespace sonic {
namespace {

constexpr NameTable<TargetKind, 2> kTargetNames{
    {{TargetKind::kLocal, "local"}, {TargetKind::kRemote, "remote"}}};
constexpr NameTable<LoadMode, 3> kLoadModeNames{
    {{LoadMode::kClosed, "closed"}, {LoadMode::kOpen, "open"}, {LoadMode::kOffline, "offline"}}};
constexpr NameTable<ArrivalProcess, 2> kArrivalNames{
    {{ArrivalProcess::kConstant, "constant"}, {ArrivalProcess::kPoisson, "poisson"}}};
constexpr NameTable<ClientMode, 2> kClientModeNames{
    {{ClientMode::kSync, "sync"}, {ClientMode::kAsync, "async"}}};
constexpr NameTable<SearchOver, 2> kSearchOverNames{
    {{SearchOver::kRate, "rate"}, {SearchOver::kJobs, "jobs"}}};
constexpr NameTable<SearchRole, 2> kSearchRoleNames{
    {{SearchRole::kProbe, "probe"}, {SearchRole::kConfirmation, "confirmation"}}};
constexpr NameTable<CellStatus, 3> kStatusNames{{{CellStatus::kOk, "ok"},
                                                 {CellStatus::kFailed, "failed"},
                                                 {CellStatus::kNotConverged, "not_converged"}}};

}  // namespace

std::string_view TargetKindName(TargetKind target) { return NameIn(kTargetNames, target); }
TargetKind ParseTargetKind(std::string_view name) {
  return ParseNameIn(kTargetNames, name, "target");
}
std::string_view LoadModeName(LoadMode mode) { return NameIn(kLoadModeNames, mode); }
LoadMode ParseLoadMode(std::string_view name) { return ParseNameIn(kLoadModeNames, name, "mode"); }
std::string_view ArrivalProcessName(ArrivalProcess process) {
  return NameIn(kArrivalNames, process);
}
ArrivalProcess ParseArrivalProcess(std::string_view name) {
  return ParseNameIn(kArrivalNames, name, "arrival process");
}
std::string_view ClientModeName(ClientMode mode) { return NameIn(kClientModeNames, mode); }
ClientMode ParseClientMode(std::string_view name) {
  return ParseNameIn(kClientModeNames, name, "client_mode");
}
std::string_view SearchOverName(SearchOver over) { return NameIn(kSearchOverNames, over); }
SearchOver ParseSearchOver(std::string_view name) {
  return ParseNameIn(kSearchOverNames, name, "search_over");
}
std::string_view SearchRoleName(SearchRole role) { return NameIn(kSearchRoleNames, role); }
SearchRole ParseSearchRole(std::string_view name) {
  return ParseNameIn(kSearchRoleNames, name, "search role");
}
std::string_view DynamicBatchingName(std::optional<bool> dynamic_batching) {
  return dynamic_batching ? NameIn(kOnOffNames, *dynamic_batching) : "";
}
bool ParseDynamicBatching(std::string_view name) {
  return ParseNameIn(kOnOffNames, name, "dynamic_batching");
}
std::string CellSettings::SearchKey() const {
  if (!search_over) return Key();
  CellSettings search = *this;
  if (search_over == SearchOver::kRate) {
    search.rate_hz = 0;
  } else {
    search.concurrency = 0;
    search.threads = 0;
  }
  search.search_role.reset();
  search.search_probe = 0;
  return "search:" + search.Key();
}

std::optional<double> ServerMetrics::Delta(std::string_view name) const {
  for (const MetricDelta& counter : counters) {
    if (counter.name == name) return counter.delta;
  }
  return std::nullopt;
}

std::vector<MetricDelta> ServerMetrics::DeltasStartingWith(std::string_view prefix) const {
  std::vector<MetricDelta> found;
  for (const MetricDelta& counter : counters) {
    if (counter.name.starts_with(prefix)) found.push_back(counter);
  }
  return found;
}

std::optional<double> ServerMetrics::MeanGauge(std::string_view name_prefix) const {
  double sum = 0;
  int count = 0;
  for (const MetricPoint& point : gauges) {
    if (point.name.starts_with(name_prefix)) {
      sum += point.value;
      ++count;
    }
  }
  return count > 0 ? std::optional(sum / count) : std::nullopt;
}

std::string_view CellStatusName(CellStatus status) { return NameIn(kStatusNames, status); }
CellStatus ParseCellStatus(std::string_view name) {
  return ParseNameIn(kStatusNames, name, "cell status");
}

std::string CellSettings::Key() const {
  // fmt's "{}" prints a double in its shortest round-trip form, so equal rates give equal keys.
  return fmt::format(
             "target={};link={};backend={};model={};precision={};batch={};mode={};concurrency={};"
             "rate_hz={};arrival={};threads={};inputs={};repeat={}",
             TargetKindName(target), link, backend, model, precision, batch, LoadModeName(mode),
             concurrency, rate_hz, ArrivalProcessName(arrival), threads, inputs, repeat) +
         (dynamic_batching
              ? fmt::format(";dynamic_batching={}", DynamicBatchingName(dynamic_batching))
              : "") +
         (event_work.empty()
              ? ""
              : fmt::format(";event_work={};event_work_spread={};requests_per_event={};"
                            "client_mode={}",
                            event_work, event_work_spread, requests_per_event,
                            client_mode ? ClientModeName(*client_mode) : "")) +
         (search_over
              ? fmt::format(";search_over={};latency_bound_ms={};latency_percentile={};"
                            "search_role={};search_probe={}",
                            SearchOverName(*search_over), latency_bound_ms, latency_percentile,
                            search_role ? SearchRoleName(*search_role) : "", search_probe)
              : "");
}

}  // namespace sonic
