#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/loadgen/load_generator.h"
#include "bench/loadgen/remote_target.h"
#include "core/tensor.h"
#include "results/cell.h"

namespace sonic {

// A sweep definition as `key = value` entries, in the order given. Both the config file and the
// command-line flags become entries; later entries for a key replace earlier ones, so flags
// override the file.
struct ConfigEntry {
  std::string key;
  std::string value;
  std::string origin;  // "configs/demo.conf:3" or "--batch", for error messages
};
using ConfigEntries = std::vector<ConfigEntry>;

// Parses the sweep config text format (docs/SWEEP.md): one `key = value` per line, `#` comments,
// blank lines, an optional `[sweep]` header line; a value may be written as a TOML string ("x") or
// array ([1, 2, 4], ["a", "b"]). Throws Error(kInvalidArgument) listing every malformed line.
ConfigEntries ParseConfigText(std::string_view text, std::string_view origin);

// A value list axis: "1,2,4", "1-64*2" (1, 2, 4, ..., 64: geometric), "1-4" (1, 2, 3, 4), or a
// mix ("1,8-32*2"). Throws Error(kInvalidArgument) naming `key` and the bad item.
std::vector<std::int64_t> ParseIntAxis(std::string_view text, std::string_view key);
std::vector<double> ParseRateAxis(std::string_view text, std::string_view key);  // > 0 each

// A validated sweep: the grid's axes and the per-cell measurement rules.
// How remote cells reach the service. With no server address each remote cell starts the
// embedded default: its own server on a free loopback port, with the cell's backend, model and
// precision, stopped when the cell ends.
struct RemoteSettings {
  // "host:port" of running KServe v2 servers, comma-separated; empty: embedded.
  std::string server;
  std::vector<std::string> servers;                 // the same, split
  ServerPolicy policy = ServerPolicy::kRoundRobin;  // how requests are spread over `servers`
  int instances = 1;                      // embedded server: model instances (Executables)
  std::int64_t max_queue_delay_us = 500;  // embedded server, dynamic batching on
  std::int64_t max_batch = 0;  // embedded server's max batch; 0: batch x concurrency, <= 64
  int channels = 1;            // client gRPC connections
};

struct SweepConfig {
  std::vector<std::string> targets;
  std::vector<std::string> links;             // remote cells: none, edge, cloud, rtt_ms=...
  std::vector<std::string> dynamic_batching;  // remote cells: off, on
  RemoteSettings remote;
  std::vector<std::string> backends;
  std::vector<std::string> models;
  std::vector<Precision> precisions;
  std::vector<std::int64_t> batches;
  std::vector<LoadMode> modes;
  std::vector<std::int64_t> concurrencies;
  std::vector<double> rates_hz;  // open-loop cells only
  std::int64_t repeats = 1;
  std::int64_t threads = 0;  // backend threads per executable; 0: usable CPUs / concurrency
  std::string device;        // backend device selector (CompileOptions::device); empty: the default
  std::string inputs = "random";  // or a dataset file (datasets/sample_source.h)
  std::uint64_t seed = 1;
  LoadSettings load;  // mode, concurrency and rate are set per cell
  // The configuration in canonical form (every key, defaults included): stored in the results
  // file and read back by --resume, so that it reproduces exactly this grid.
  std::string canonical_text;
};

// Validates every entry before anything runs and throws Error(kInvalidArgument) listing all the
// problems found, each with its origin: unknown or repeated keys, bad values, unknown backends
// (naming the compiled-in ones), models or precisions, inconsistent modes and rates, targets not
// that would not run (an unknown link preset).
SweepConfig BuildSweepConfig(const ConfigEntries& entries);

// One cell to run: what is recorded, and how it is driven.
struct SweepCell {
  CellSettings settings;
  LoadSettings load;
  RemoteSettings remote;  // remote cells only
  std::string device;     // backend device selector, as the config gave it
};

// The grid in run order: target, backend, model, precision, batch, mode, concurrency, rate,
// repeat (the last varies fastest). Open-loop cells take every rate; others have rate 0.
std::vector<SweepCell> ExpandCells(const SweepConfig& config);

}  // namespace sonic
