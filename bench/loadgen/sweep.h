#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/load_generator.h"
#include "bench/loadgen/sweep_config.h"
#include "core/error.h"
#include "models/graph.h"
#include "results/cell.h"

namespace sonic {
class ResultsWriter;
namespace service {
class Server;
}  // namespace service

// A failed cell's result: status kFailed, error_message "<kind>: <message>".
CellResult FailedCell(ErrorKind kind, std::string_view message);

// The embedded servers of a sweep: consecutive remote cells that would start the same server (the
// same backend, model, precision, threads, instances, batcher, device and backend options) share
// one, as the clients of a deployment share it, instead of each compiling its own; a cell that
// needs another server replaces it. Each cell still has its own warm-up, and its statistics are
// deltas over its own window. Not thread-safe.
class EmbeddedServerPool {
 public:
  EmbeddedServerPool();
  ~EmbeddedServerPool();
  EmbeddedServerPool(const EmbeddedServerPool&) = delete;
  EmbeddedServerPool& operator=(const EmbeddedServerPool&) = delete;

  // The server for `cell`, started with `graph` unless the one kept serves the same. Throws what
  // Server::Start throws.
  service::Server& For(const SweepCell& cell, const Graph& graph);
  // Stops the server kept (after a failed cell, whose server may be what failed).
  void Reset();

 private:
  std::string key_;
  std::unique_ptr<service::Server> server_;
};

// Runs one cell: builds the backend, model, inputs and LocalTarget, then RunLoad. Every error
// (an unavailable backend, an unsupported precision, a compile error, out of memory, a failing
// device) becomes a kFailed result with the error's kind and message: the sweep goes on.
// std::nullopt when `cancel` became true during the cell (nothing about it is kept). A remote
// cell without a server address takes its server from `servers`, or starts its own when null.
std::optional<CellResult> RunSweepCell(const SweepCell& cell, const std::atomic<bool>* cancel,
                                       const std::function<void(const LoadProgress&)>& on_progress,
                                       EmbeddedServerPool* servers = nullptr);

// Starts the embedded default server of a remote cell (what RunSweepCell does for a cell without
// a server address): the cell's backend, model, precision, threads, instances and batcher on a
// free loopback port. A fleet's rank 0 starts it once and gives its address to every rank.
// Throws sonic::Error (an unavailable backend, a compile error, no port).
std::unique_ptr<service::Server> StartEmbeddedServer(const SweepCell& cell);

// The statistics of a remote cell's servers (cell.remote.servers) from construction (which
// connects and takes the first snapshot; throws sonic::Error when a server cannot be reached) to
// Delta(). A fleet's rank 0 takes them around the whole fleet's cell: a rank's own delta would
// cover only its own span. Delta is std::nullopt for a server without Triton's statistics
// extension. Not thread-safe.
class CellServerStats {
 public:
  explicit CellServerStats(const SweepCell& cell);
  ~CellServerStats();
  std::optional<ServerStats> Delta();

 private:
  std::unique_ptr<RemoteTarget> target_;
};

// The cell that probes `value` (Hz or jobs) of a latency-bound search (cell.search set) as its
// `index`-th cell in `role`: the rate or the jobs (and their automatic threads) set, the rest as
// the search's.
SweepCell SearchCell(const SweepCell& search, double value, int index, SearchRole role);

// Runs a latency-bound search: each probe NextSearchValue asks for, then a confirmation at the
// answer (none when no probe met the bound), each by `run` and judged (JudgeLatencyBound) before
// `done` gets it. False when `run` returned nullopt (cancelled): the search stops there.
bool RunSearch(const SweepCell& search,
               const std::function<std::optional<CellResult>(const SweepCell&)>& run,
               const std::function<void(const SweepCell&, const CellResult&)>& done);

// Told about each cell as the sweep goes; called on the sweep's thread.
class SweepObserver {
 public:
  virtual ~SweepObserver() = default;
  // `index` counts from 0 over all cells of the grid (cells a resume skips included); the cells of
  // a latency-bound search share its index.
  virtual void OnCellStart(int index, int total, const CellSettings& settings) = 0;
  virtual void OnCellProgress(int index, int total, const CellSettings& settings,
                              const LoadProgress& progress) = 0;
  virtual void OnCellDone(int index, int total, const CellSettings& settings,
                          const CellResult& result) = 0;
};

struct SweepOptions {
  std::string out_path;  // empty: run and report, write nothing
  bool resume = false;   // add the missing cells to the last run of out_path
  bool append = false;   // add a new run to out_path instead of replacing the file
  std::string command_line;
  bool measure_peak = true;  // run core/sysinfo's peak kernels (about 2 s) for the provenance
  // Added to the run's library_versions ("mpi" -> the MPI library, for a fleet).
  std::map<std::string, std::string> extra_library_versions;
};

struct SweepSummary {
  int total = 0;    // cells in the grid
  int skipped = 0;  // already in the file (resume)
  int ran = 0;      // finished and written this time
  int failed = 0;
  int not_converged = 0;
  bool interrupted = false;  // `cancel` stopped it; the file holds every finished cell
  std::string run_id;
};

// The configuration stored in the last run of a results file, for --resume. The whole file is
// validated first (ValidateResultsFile): a damaged one is refused, naming what is wrong, before
// its configuration is read or anything is measured.
std::string StoredConfigText(const std::string& path);
// The keys (CellSettings::Key) of the cells the last run of a results file holds, for --resume,
// and the SearchKey of each search it holds the confirmation of (a finished search).
std::map<std::string, CellStatus> StoredFinishedCells(const std::string& path);

// The results file of a sweep, as RunSweep opens it: nullptr without out_path; with `resume`, the
// file's last run, with `finished` set to the cells it holds; otherwise a new run with the
// provenance. Throws as RunSweep.
std::unique_ptr<ResultsWriter> OpenSweepResults(const SweepConfig& config,
                                                const SweepOptions& options,
                                                std::map<std::string, CellStatus>& finished);

// Runs every cell of `config` in order, appending each finished cell to the results file at once
// (so an interrupted sweep leaves a valid file). With `resume`, cells whose key is already in the
// file's last run are skipped, and searches whose confirmation is; an unfinished search runs again
// from its first probe. Provenance (command line, canonical config, seeds, host, CPU model
// and measured peak, backend versions and devices, start time) goes into the run's RunInfo.
// Throws Error(kIo) when the file cannot be written, Error(kInvalidArgument) for a resume target
// that is not a sonicbench file.
// Whether `finished` (StoredFinishedCells) holds `cell`: its key, or a search's SearchKey.
bool AlreadyFinished(const SweepCell& cell, const std::map<std::string, CellStatus>& finished);

SweepSummary RunSweep(const SweepConfig& config, const SweepOptions& options,
                      SweepObserver& observer, const std::atomic<bool>* cancel);

}  // namespace sonic
