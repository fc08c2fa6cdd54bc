#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/loadgen/load_generator.h"
#include "bench/loadgen/remote_target.h"
#include "bench/loadgen/search.h"
#include "core/tensor.h"
#include "results/cell.h"

namespace sonic {

// A sweep definition as `key = value` entries, in the order given. Both the config file and the
// command-line flags become entries; later entries for a key replace earlier ones, so flags
// override the file. A line that could not be read becomes an entry with a `problem` and no key,
// so that BuildSweepConfig lists it together with every other problem.
struct ConfigEntry {
  std::string key;
  std::string value;
  std::string origin;   // "configs/demo.conf:3" or "--batch", for error messages
  std::string problem;  // non-empty: the line is malformed, or repeats a key of the same file
  std::string part;     // the [sweep.PART] section the line is in; empty: common to every part
};
using ConfigEntries = std::vector<ConfigEntry>;

// Parses the sweep config text format (docs/SWEEP.md): one `key = value` per line, `#` comments,
// blank lines, an optional `[sweep]` header line and `[sweep.PART]` sections (grids of their own,
// each with the common keys above them); a value may be written as a TOML string ("x") or array
// ([1, 2, 4], ["a", "b"]). Never throws: malformed lines become entries with a problem.
ConfigEntries ParseConfigText(std::string_view text, std::string_view origin);

// One sweep key, defined once: its config name, its command-line flag, its default (the canonical
// text; empty: none) and its help. SweepKeys() lists them in canonical order.
struct SweepKeyInfo {
  std::string_view name;
  std::string_view flag;
  std::string default_value;
  std::string_view help;
};
const std::vector<SweepKeyInfo>& SweepKeys();

// Limits checked before anything is expanded or run, each named in its error message.
inline constexpr std::int64_t kMaxGridCells = 100'000;  // cells in one sweep
inline constexpr std::int64_t kMaxBatch = 65'536;
// kMaxConcurrency and kMaxRateHz: the load generator's own (load_generator.h).

// A value list axis: "1,2,4", "1-64*2" (1, 2, 4, ..., 64: geometric), "1-4" (1, 2, 3, 4), or a
// mix ("1,8-32*2"), every value in [1, max]. The number of values is computed before any is
// generated and may not exceed kMaxGridCells. Throws Error(kInvalidArgument) naming `key` and the
// bad item.
std::vector<std::int64_t> ParseIntAxis(std::string_view text, std::string_view key,
                                       std::int64_t max = kMaxGridCells);
std::vector<double> ParseRateAxis(std::string_view text, std::string_view key);  // (0, kMaxRateHz]

// A validated sweep: the grid's axes and the per-cell measurement rules.
// How remote cells reach the service. With no server address each remote cell starts the
// embedded default: its own server on a free loopback port, with the cell's backend, model and
// precision, stopped when the cell ends.
// Defaults are those of SweepKeys(), the one place that defines them.
struct RemoteSettings {
  // "host:port" of running KServe v2 servers, comma-separated; empty: embedded.
  std::string server;
  std::vector<std::string> servers;   // the same, split
  ServerPolicy policy{};              // how requests are spread over `servers`
  int instances{};                    // embedded server: model instances (Executables)
  std::int64_t max_queue_delay_us{};  // embedded server, dynamic batching on
  std::int64_t max_batch{};           // embedded server's max batch; 0: batch x concurrency, <= 64
  int channels{};                     // client gRPC connections
  // The servers' Prometheus endpoint: "auto" (the embedded server's own; none for others),
  // "none", or an http:// URL (e.g. a Triton server's http://host:8002/metrics).
  std::string metrics_url;
  int metrics_interval_ms{};  // gauges scraped this often during a cell
};

struct SweepConfig {
  std::vector<TargetKind> targets;
  std::vector<std::string> links;      // remote cells: none, edge, cloud, rtt_ms=...
  std::vector<bool> dynamic_batching;  // remote cells: the embedded server's batcher off, on
  RemoteSettings remote;
  std::vector<std::string> backends;
  std::vector<std::string> models;
  std::vector<Precision> precisions;
  std::vector<std::int64_t> batches;
  std::vector<LoadMode> modes;
  std::vector<std::int64_t> concurrencies;
  std::vector<double> rates_hz;  // open-loop cells only
  // Client workflow (closed loop): one cell per work and client mode; empty: no workflow.
  std::vector<EventWork> event_works;  // spread applied to each
  std::vector<ClientMode> client_modes;
  int requests_per_event{};
  // mode = search (docs/SWEEP.md "Latency-bound search"): the plan every search of the grid runs
  // and the bound its cells are judged against; none for a grid of plain cells.
  std::optional<SearchPlan> search;
  double latency_bound_ms{};
  double latency_percentile{};
  std::pair<double, double> search_range;  // as given; (0, 0): the default of search_over
  std::int64_t repeats{};
  std::int64_t threads{};       // backend threads per executable; 0: usable CPUs / concurrency
  std::string device;           // CompileOptions::device of every backend; empty: the first
  std::string backend_options;  // CompileOptions::backend_options of every backend
  std::string inputs;           // "random", a dataset or a raw float32 file (OpenInputSource)
  // int8 calibration: "auto" (the inputs file, or random inputs when inputs = random), "random"
  // or a dataset or raw float32 file; CalibrationOf resolves it.
  std::string calibration;
  // accuracy = on: each cell's physics measurement (docs/SWEEP.md "Accuracy") on the first
  // accuracy_samples of its inputs, signal scored by output column signal_class.
  bool accuracy{};
  std::int64_t accuracy_samples{};
  std::int64_t signal_class{};
  std::uint64_t seed{};
  // Mode, concurrency and rate are set per cell. The load keys' defaults are LoadSettings' own.
  LoadSettings load;
  // The configuration in canonical form (every key, defaults included): stored in the results
  // file and read back by --resume, so that it reproduces exactly this grid.
  std::string canonical_text;
  // A config with [sweep.PART] sections: each part's grid, in the order of the sections; the grid
  // is their cells one part after the other. The fields above are then the first part's, except
  // `backends` (every part's), `search` (set when a part searches) and canonical_text (all).
  std::vector<SweepConfig> parts;
  std::vector<std::string> part_names;
};

// Validates every entry before anything runs and throws Error(kInvalidArgument) listing all the
// problems found, each with its origin and in the user's key names: malformed lines, unknown or
// repeated keys, bad values, unknown backends (naming the compiled-in ones), models or precisions,
// inconsistent modes and rates, settings that no cell would use (link on local cells only), and a
// grid larger than kMaxGridCells.
SweepConfig BuildSweepConfig(const ConfigEntries& entries);

// What int8 cells of `config` calibrate on: its `calibration` file, or with "auto" its `inputs`
// file; "random" (seeded random inputs, RandomCalibrationWarning) when neither names a file.
std::string CalibrationOf(const SweepConfig& config);

// A cell's physics measurement: how many of its labelled inputs, and which output scores signal.
struct AccuracySpec {
  std::int64_t max_samples = 0;
  std::int64_t signal_class = 1;
};

// One cell to run: what is recorded, and how it is driven.
struct SweepCell {
  CellSettings settings;
  LoadSettings load;
  RemoteSettings remote;                 // remote cells only
  std::string device;                    // CompileOptions::device, as the config gave it
  std::string backend_options;           // CompileOptions::backend_options, as the config gave it
  std::string calibration;               // int8 calibration: "random" or a file (CalibrationOf)
  std::optional<AccuracySpec> accuracy;  // accuracy = on; measured after the cell's load
  // A latency-bound search (mode = search): the sweep runs its probes and a confirmation, each
  // stored as a cell; `settings` and `load` are its first probe's.
  std::optional<SearchPlan> search;
};

// The grid in run order: target, link, batching, backend, model, precision, batch, mode, event
// work, client mode, concurrency, rate, repeat (the last varies fastest). Open-loop cells take
// every rate; others have rate 0. Without a workflow, event work and client mode are one empty
// value each.
std::vector<SweepCell> ExpandCells(const SweepConfig& config);

// The models of `cells` that some int8 cell compiles on a backend of ours (not null, not an
// external server) calibrated on seeded random inputs, each once, in cell order: what the sweep
// warns about (RandomCalibrationWarning) before it runs.
std::vector<std::string> RandomlyCalibratedModels(const std::vector<SweepCell>& cells);

}  // namespace sonic
