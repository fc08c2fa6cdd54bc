#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "results/histogram.h"
#include "results/physics_metrics.h"

namespace sonic {

// The data model of one measured cell of a sweep: what was asked (CellSettings) and what was
// measured (CellResult). Plain structs: the load generator fills them, ResultsWriter stores them,
// ResultsReader gives them back unchanged. The closed choices are enums, parsed once where the
// user's text comes in (the sweep's config and flags, the results file) by the Parse functions
// below, whose names are the ones configs and the results file spell; open choices (a link, a
// backend, a model, an input source, a workflow's spec) are strings checked by the sweep.

enum class TargetKind : std::int8_t {
  kLocal,   // each client its own backend in this process
  kRemote,  // clients call a KServe v2 server (embedded or external)
};
std::string_view TargetKindName(TargetKind target);  // "local" | "remote"
// Throws Error(kInvalidArgument) naming the accepted names.
TargetKind ParseTargetKind(std::string_view name);

enum class LoadMode : std::int8_t {
  kClosed,   // `concurrency` clients, each sends its next request when the previous completes
  kOpen,     // requests sent on a schedule at rate_hz, whatever the completions
  kOffline,  // maximum throughput: `concurrency` workers keep the target's queue full
};
std::string_view LoadModeName(LoadMode mode);  // "closed" | "open" | "offline"
// Throws Error(kInvalidArgument) naming the accepted names.
LoadMode ParseLoadMode(std::string_view name);

enum class ArrivalProcess : std::int8_t { kConstant, kPoisson };
std::string_view ArrivalProcessName(ArrivalProcess process);  // "constant" | "poisson"
// Throws Error(kInvalidArgument) naming the accepted names.
ArrivalProcess ParseArrivalProcess(std::string_view name);

// How a job's event waits for its inferences (docs/SWEEP.md "Client workflows"): sync does the
// work, then waits; async sends at the start of the work and collects at its end.
enum class ClientMode : std::int8_t { kSync, kAsync };
std::string_view ClientModeName(ClientMode mode);  // "sync" | "async"
// Throws Error(kInvalidArgument) naming the accepted names.
ClientMode ParseClientMode(std::string_view name);

// A latency-bound search (docs/SWEEP.md "Latency-bound search"): what it varies, and what each of
// its cells was.
enum class SearchOver : std::int8_t {
  kRate,  // the Poisson arrival rate of an open loop (MLPerf's Server scenario)
  kJobs,  // the closed-loop clients (jobs)
};
std::string_view SearchOverName(SearchOver over);  // "rate" | "jobs"
// Throws Error(kInvalidArgument) naming the accepted names.
SearchOver ParseSearchOver(std::string_view name);
enum class SearchRole : std::int8_t {
  kProbe,         // one step of the bisection
  kConfirmation,  // the final run at the value found
};
std::string_view SearchRoleName(SearchRole role);  // "probe" | "confirmation"
// Throws Error(kInvalidArgument) naming the accepted names.
SearchRole ParseSearchRole(std::string_view name);

// A remote cell's server batcher: on or off; none for local cells. Spelled "on" | "off" | "".
std::string_view DynamicBatchingName(std::optional<bool> dynamic_batching);
// "on" or "off"; throws Error(kInvalidArgument) naming the accepted names.
bool ParseDynamicBatching(std::string_view name);

struct CellSettings {
  TargetKind target = TargetKind::kLocal;
  std::string link = "none";       // deployment / emulated link: "none", "edge", "cloud", custom
  std::string backend;             // backend name: "onednn", "null", ...
  std::string model;               // model name: "resnet50", "jet_tagger", ...
  std::string precision = "fp32";  // PrecisionName(): "fp32", "bf16", "int8", ...
  std::int64_t batch = 1;          // samples per request
  LoadMode mode = LoadMode::kClosed;
  std::int64_t concurrency = 1;  // closed: clients, each with one request in flight
  double rate_hz = 0;            // open: requests per second (0 for closed and offline)
  ArrivalProcess arrival = ArrivalProcess::kConstant;  // open
  std::int64_t repeat = 0;                             // repeat index of the same settings
  std::int64_t threads = 0;       // backend threads per executable (0: backend default)
  std::string inputs = "random";  // input source: "random", a dataset name or path
  std::string server_address;     // remote: host:port; empty for local or the embedded server
  std::optional<bool> dynamic_batching;  // remote: the server's batcher on; none for local
  // A client workflow (docs/SWEEP.md "Client workflows"): each client is a job processing events.
  // All empty (0, none) for cells without one, whose clients send requests back to back.
  std::string event_work;               // the job's own work per event: "none", "cpu:5", ...
  std::string event_work_spread;        // "fixed" | "exponential" | "lognormal:CV"
  std::int64_t requests_per_event = 0;  // requests per event (1 or more with a workflow)
  std::optional<ClientMode> client_mode;
  // A cell of a latency-bound search: none (0) for other cells. The bound is met when at least
  // latency_percentile % of the window's requests completed within latency_bound_ms (a failed
  // request never does); rate_hz (rate search) or concurrency (jobs search) is the value probed.
  std::optional<SearchOver> search_over;
  double latency_bound_ms = 0;
  double latency_percentile = 0;  // in (0, 100), e.g. 99
  std::optional<SearchRole> search_role;
  std::int64_t search_probe = 0;  // the probe's index in its search (the confirmation's: probes)

  bool remote() const { return target == TargetKind::kRemote; }
  bool batched() const { return dynamic_batching.value_or(false); }

  // A stable identity of the cell, used by --resume (which cells are already in the file) and by
  // compare (which cells to match between two runs). Every field except server_address, which says
  // where the server was (an embedded server gets a new port each time), not what was measured.
  // dynamic_batching, the workflow fields and the search fields join the key only when set, so
  // keys of cells without them stay as they were.
  // Format: "target=local;link=none;backend=...;...;repeat=0"; never reorder, only append.
  std::string Key() const;
  // What the cells of one latency-bound search share, whatever value each probed: Key() with
  // the probed value (and a jobs search's threads, sized per probe), the role and the probe
  // index taken out. Key() for other cells.
  std::string SearchKey() const;

  friend bool operator==(const CellSettings&, const CellSettings&) = default;
};

enum class CellStatus : std::int8_t {
  kOk,            // measured and converged
  kFailed,        // an error stopped the cell; CellResult::error_message says which
  kNotConverged,  // measured until the maximum duration without meeting the precision
};
std::string_view CellStatusName(CellStatus status);  // "ok" | "failed" | "not_converged"
// Throws Error(kInvalidArgument) naming the accepted names.
CellStatus ParseCellStatus(std::string_view name);

// One request as the load generator saw it (monotonic clock, ns). Latency is received_ns -
// scheduled_ns (the scheduled time, so that open loop has no coordinated omission); send lag is
// sent_ns - scheduled_ns. Closed loop schedules a request when its predecessor completes.
struct RequestRecord {
  std::int64_t scheduled_ns = 0;
  std::int64_t sent_ns = 0;
  std::int64_t received_ns = 0;
  std::int32_t worker = 0;              // client worker index
  std::int32_t status = 0;              // 0 ok; otherwise the ErrorKind value + 1
  std::int64_t server_queue_ns = -1;    // -1 when unknown (local target)
  std::int64_t server_compute_ns = -1;  // -1 when unknown (local target)

  friend bool operator==(const RequestRecord&, const RequestRecord&) = default;
};

// RequestRecord::status of a request that ended with `error` (none: 0, success).
constexpr std::int32_t RecordStatusOf(std::optional<ErrorKind> error) {
  return error ? static_cast<std::int32_t>(*error) + 1 : 0;
}

// A suggested cap on raw records per cell: 100,000 records are 4.8 MB in the file.
inline constexpr std::size_t kDefaultRawRecordCap = 100'000;

// Server-side statistics over the measured window (deltas of the server's cumulative counters),
// as reported by a KServe v2 / Triton statistics endpoint.
struct ServerStats {
  std::int64_t request_count = 0;      // requests the server completed
  std::int64_t inference_count = 0;    // samples (requests x batch)
  std::int64_t execution_count = 0;    // batched executions of the model
  std::int64_t queue_ns = 0;           // total time requests waited in the queue
  std::int64_t compute_input_ns = 0;   // total time copying inputs in
  std::int64_t compute_infer_ns = 0;   // total time running the model
  std::int64_t compute_output_ns = 0;  // total time copying outputs out
  std::map<std::int32_t, std::int64_t> executed_batch_sizes;  // batch size -> executions

  friend bool operator==(const ServerStats&, const ServerStats&) = default;
};

// One server's share of a remote cell's requests (`--server a:port,b:port`), as the client saw
// it over the whole cell, warm-up included (like ServerStats): the requests sent to it, how many
// failed, the bytes, and the round-trip latency (send to completion) of the successful ones.
struct ServerShare {
  std::string address;        // host:port
  std::int64_t requests = 0;  // completed, ok or failed
  std::int64_t errors = 0;
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;
  LatencyHistogram latency;  // sent -> completion, successful requests only

  friend bool operator==(const ServerShare&, const ServerShare&) = default;
};

// A remote cell's server as its Prometheus endpoint showed it (docs/SWEEP.md "Server metrics"):
// scraped before and after the cell, for the counters' deltas, and at a fixed interval during it,
// for the gauges' series. Samples are named as the text has them, labels included, sorted by
// key: `nv_inference_count{model="resnet50",version="1"}`.
struct MetricDelta {
  std::string name;
  double delta = 0;  // after - before; a histogram's _sum, _count and _bucket samples too
  friend bool operator==(const MetricDelta&, const MetricDelta&) = default;
};
struct MetricPoint {
  double t_s = 0;  // since the first scrape
  std::string name;
  double value = 0;
  friend bool operator==(const MetricPoint&, const MetricPoint&) = default;
};
struct ServerMetrics {
  std::string endpoint;  // the URL scraped
  // Why the cell has no (or only part of its) metrics: the endpoint did not answer, a scrape
  // failed; empty when every scrape succeeded.
  std::string error;
  double span_s = 0;  // from the first scrape to the last
  std::vector<MetricDelta> counters;
  std::vector<MetricPoint> gauges;

  // The delta of the counter `name` (labels included); none when the scrapes lack it.
  std::optional<double> Delta(std::string_view name) const;
  // The deltas of every counter whose name (labels included) starts with `prefix`, in order.
  std::vector<MetricDelta> DeltasStartingWith(std::string_view prefix) const;
  // The mean over the series of the gauges whose name (labels included) starts with
  // `name_prefix`; none without points.
  std::optional<double> MeanGauge(std::string_view name_prefix) const;
  friend bool operator==(const ServerMetrics&, const ServerMetrics&) = default;
};

// One client process (MPI rank) of a fleet cell, as it measured with its own monotonic clock.
// Clock figures are relative to rank 0's clock: offset_ns = this rank's clock - rank 0's clock,
// estimated by ping-pong with uncertainty offset_uncertainty_ns (half the best round trip).
struct RankSummary {
  std::int32_t rank = 0;
  std::string host;
  std::int64_t concurrency = 0;  // client workers of this rank
  std::int64_t completed_requests = 0;
  std::int64_t error_count = 0;
  double duration_s = 0;  // its measured window
  double throughput_requests_per_s = 0;
  double latency_p50_ns = 0;
  double latency_p99_ns = 0;
  double client_cpu_user_s = 0;
  double client_cpu_sys_s = 0;
  std::int64_t clock_offset_ns = 0;
  std::int64_t clock_offset_uncertainty_ns = 0;
  // Its measured window's start and end in rank 0's clock, minus rank 0's window start.
  std::int64_t window_start_ns = 0;
  std::int64_t window_end_ns = 0;

  friend bool operator==(const RankSummary&, const RankSummary&) = default;
};

// How a cell measured by several client processes was put together (bench/fleet/).
struct FleetInfo {
  std::vector<RankSummary> ranks;  // by rank
  // Estimated error of the windows' alignment across ranks: the spread of their starts and ends
  // in rank 0's clock plus the largest clock-offset uncertainty.
  std::int64_t alignment_error_ns = 0;
  std::int64_t start_spread_ns = 0;  // max - min of the window starts (rank 0's clock)
  std::int64_t end_spread_ns = 0;    // max - min of the window ends

  friend bool operator==(const FleetInfo&, const FleetInfo&) = default;
};

// A cell's physics performance (docs/SWEEP.md "Accuracy"): a labelled dataset through the cell's
// own target (its backend at its precision, or its server), scored against the labels and the
// reference backend's fp32 outputs on the same samples. Measured after the cell's load, untimed.
struct CellAccuracy {
  std::string dataset;            // the labelled file evaluated
  std::int64_t signal_class = 1;  // the output column that scores signal
  // Why the physics performance could not be measured (the speed was); empty when it was, and
  // then `score` holds it.
  std::string error;
  TaggerScore score;
  friend bool operator==(const CellAccuracy&, const CellAccuracy&) = default;
};

struct CellResult {
  CellStatus status = CellStatus::kOk;
  std::string error_message;  // kFailed: what failed; empty otherwise
  bool converged = false;
  std::string convergence_reason;  // why the window ended: "ci 3.1% <= 5%", "max duration 60 s"

  double warmup_duration_s = 0;
  std::int64_t warmup_requests = 0;
  double duration_s = 0;  // the measured window
  std::int64_t completed_requests = 0;
  std::int64_t completed_inferences = 0;  // completed_requests x batch
  double throughput_inferences_per_s = 0;
  double throughput_inferences_per_s_ci95 = 0;  // half-width of the 95% confidence interval
  double throughput_requests_per_s = 0;
  double throughput_requests_per_s_ci95 = 0;

  LatencyHistogram latency;       // received - scheduled, per request
  LatencyHistogram send_lag;      // sent - scheduled; open loop only (empty otherwise)
  bool generator_behind = false;  // open loop: the generator could not keep the schedule

  double client_cpu_user_s = 0;  // getrusage over the measured window
  double client_cpu_sys_s = 0;

  std::map<std::string, std::int64_t> errors;  // error kind name -> count
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;

  std::optional<ServerStats> server;  // remote targets only

  std::vector<RequestRecord> raw_records;  // the first records of the measured window, capped
  bool raw_records_truncated = false;      // true when more requests completed than were kept

  std::vector<ServerShare> servers;  // remote: one per server address, in the order given
  // What the measured backend had in effect that its settings do not name (Backend::settings(),
  // e.g. onednn's "idle=default"); empty when the backend has none or is not ours to ask (an
  // external server).
  std::string backend_settings;
  std::optional<FleetInfo> fleet;  // measured by several client processes (MPI ranks)

  // Client workflow cells (CellSettings::event_work set): the events that ended in the measured
  // window, each from its start (drawing its work) to its end (work done, every response in).
  std::int64_t completed_events = 0;
  double throughput_events_per_s = 0;  // all jobs
  LatencyHistogram event_time;
  std::int64_t event_ns_total = 0;  // the events' summed times
  // Of which spent in inference: sending, waiting for and (local target) running the requests.
  std::int64_t event_inference_ns_total = 0;
  // Remote cells on the embedded server: each model instance's busy time over the cell's wall
  // time, warm-up included (the server's own statistics); empty otherwise.
  std::vector<double> instance_duty_cycles;
  // Remote cells whose server has a metrics endpoint (the embedded server's, or metrics_url);
  // none for other cells.
  std::optional<ServerMetrics> server_metrics;
  // Cells of a sweep with `accuracy = on` whose load was measured; none for other cells.
  std::optional<CellAccuracy> accuracy;

  // Cells with a latency bound (CellSettings::latency_bound_ms): the window's requests that
  // completed within it, and LoadGen's verdict on the bound (VALID: met; none without a bound)
  // with what decided it ("p99 18.2 ms <= 20 ms", "stopped early: ...").
  std::int64_t within_bound_requests = 0;
  std::optional<bool> bound_met;
  std::string bound_verdict_reason;

  // Cumulative (interpolated) completions at each sub-window boundary of the measured window, as
  // the stop rule saw them; what a fleet sums to judge the merged throughput's confidence
  // interval. In memory only: not stored in results files.
  std::vector<double> window_progress;
  double sub_window_s = 0;

  // The fraction of event time spent in inference; 0 without events.
  double EventInferenceFraction() const {
    return event_ns_total > 0
               ? static_cast<double>(event_inference_ns_total) / static_cast<double>(event_ns_total)
               : 0;
  }

  // Requests per second that completed within the latency bound (MLPerf's goodput); 0 without.
  double GoodputPerS() const {
    return duration_s > 0 ? static_cast<double>(within_bound_requests) / duration_s : 0;
  }

  // Client CPU use in cores: (user + sys) / duration; 1.0 is one core busy the whole window.
  double ClientCpuUtilisation() const {
    return duration_s > 0 ? (client_cpu_user_s + client_cpu_sys_s) / duration_s : 0;
  }
};

// One stored cell: where it sits in its run, what was asked and what was measured.
struct CellRecord {
  std::int64_t index = 0;  // row of the run's cells table, in the order cells were appended
  CellSettings settings;
  CellResult result;
};

}  // namespace sonic
