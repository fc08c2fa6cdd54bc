#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/fleet/fleet.h"
#include "bench/fleet/fleet_merge.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/parse.h"
#include "results/results_file.h"
#include "service/server.h"

namespace sonic {
namespace {

// The first byte of every message says what it is.
enum Message : char {
  kConfig = 'F',   // rank 0 -> all: 'F' ok/error flag, then the config text or the error
  kCommand = 'C',  // rank 0 -> all: the next cell (index, or -1: done), server address, error
  kPing = 'P',     // rank 0 -> r: clock offset probe
  kPong = 'Q',     // r -> rank 0: its monotonic clock (int64 ns)
  kReady = 'R',    // r -> rank 0: prepared, at the start barrier
  kGo = 'G',       // rank 0 -> r: start at this time of the rank's own clock (int64 ns)
  kAbandon = 'A',  // rank 0 -> r: a rank failed before the start; the reason follows
  kResult = 'X',   // r -> rank 0: its RankResult
};
constexpr int kPingPongs = 8;  // the best (shortest) round trip of these gives the offset
// The start is scheduled this far after rank 0 sends the first "go", plus a round trip per rank,
// so that every rank has its message before the start time.
constexpr std::int64_t kStartMarginNs = 2'000'000;

std::string Tagged(char type, std::string_view body) {
  std::string message(1, type);
  message += body;
  return message;
}

char TypeOf(const std::string& message, int from) {
  if (message.empty()) Throw(ErrorKind::kInternal, "fleet: empty message from rank {}", from);
  return message[0];
}

template <typename T>
std::string Pod(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof value);
}
template <typename T>
T FromPod(std::string_view bytes) {
  T value{};
  if (bytes.size() < sizeof value) Throw(ErrorKind::kInternal, "fleet: short message");
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

// Whether rank 0 is inside a cell, and the lock its writes to the results file hold, so that the
// SIGTERM watcher never ends the process in the middle of one. Heap-allocated and never freed, so
// that the detached watcher thread can never see it destroyed.
struct TermState {
  std::mutex mutex;
  bool in_cell = false;
};
TermState& Term() {
  static TermState* state = new TermState;
  return *state;
}

// The failed row rank 0 appends before each cell and replaces with the result: a job killed during
// the cell (a rank died, the launcher ended the job) leaves this in the file.
CellResult Placeholder() {
  return FailedCell(ErrorKind::kUnavailable,
                    "fleet: the job ended during this cell: launchers end every rank when one "
                    "exits (see its error on stderr), or when the job is interrupted or cancelled");
}

// SIGTERM is blocked in every thread (JoinFleet); this thread takes it. Launchers (mpirun, srun)
// send it to every rank when one exits or the job is cancelled, then SIGKILL (mpirun: within
// milliseconds). The cell in progress is already recorded as failed (Placeholder): the watcher
// only waits for a write in progress to finish, says so and exits.
void StartTermWatcher(int rank) {
  std::thread([rank] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    int signal = 0;
    while (sigwait(&set, &signal) != 0) {
    }
    TermState& state = Term();
    std::lock_guard lock(state.mutex);
    fmt::print(stderr, "sonicbench: rank {}: terminated by SIGTERM{}\n", rank,
               rank == 0 && state.in_cell ? "; the interrupted cell is recorded as failed" : "");
    std::fflush(stderr);
    _exit(1);
  }).detach();
}

// A cell as one rank runs it: its share of the clients, the rate and the raw records, a fixed
// window, the start barrier, and the shared server.
SweepCell RankCell(const SweepCell& cell, int rank, int ranks, const std::string& server,
                   std::function<void()> barrier) {
  SweepCell mine = cell;
  const int share = ConcurrencyShare(cell.settings.concurrency, ranks, rank);
  mine.load.concurrency = share;
  mine.load.rate_hz = cell.load.rate_hz * share / static_cast<double>(cell.settings.concurrency);
  // Independent arrival streams: a superposition of Poisson streams is Poisson.
  mine.load.arrival_seed = cell.load.arrival_seed + 1'000'003ULL * static_cast<unsigned>(rank);
  mine.load.raw_record_cap = cell.load.raw_record_cap / static_cast<std::size_t>(ranks);
  mine.load.fixed_window = true;
  mine.load.start_barrier = std::move(barrier);
  if (!server.empty()) {
    mine.remote.server = server;
    mine.remote.servers = {server};
  }
  return mine;
}

// Test-only: SONIC_FLEET_TEST_EXIT_RANK=r (and SONIC_FLEET_TEST_EXIT_CELL=i, default 0) makes
// rank r exit in the middle of cell i's window, to test what the survivors do.
void MaybeDieForTest(int rank, int cell_index, double window_s) {
  const char* exit_rank = std::getenv("SONIC_FLEET_TEST_EXIT_RANK");
  const char* exit_cell = std::getenv("SONIC_FLEET_TEST_EXIT_CELL");
  if (exit_rank == nullptr || ParseInt(exit_rank, "SONIC_FLEET_TEST_EXIT_RANK") != rank) return;
  if ((exit_cell != nullptr ? ParseInt(exit_cell, "SONIC_FLEET_TEST_EXIT_CELL") : 0) !=
      cell_index) {
    return;
  }
  std::thread([rank, cell_index, window_s] {
    std::this_thread::sleep_for(std::chrono::duration<double>(window_s / 2));
    fmt::print(stderr, "sonicbench: rank {}: exiting in the middle of cell {} (test hook)\n", rank,
               cell_index);
    std::fflush(stderr);
    _exit(3);
  }).detach();
}

std::int64_t WindowAndWarmupS(const SweepCell& cell) {
  return static_cast<std::int64_t>(cell.load.warmup_s + cell.load.min_duration_s + 1);
}

// Ranks other than 0 wait for rank 0 this much longer than rank 0 waits for any of them, so that
// when a rank is lost rank 0 notices first and records it (it receives results in rank order: a
// rank may wait for rank 0 while rank 0 waits for a lower rank).
constexpr double kPatienceFactor = 3;

void RunOtherRank(FleetComm& comm, const std::vector<SweepCell>& cells,
                  const FleetOptions& options) {
  const int rank = comm.rank();
  FleetOptions fleet = options;
  fleet.timeout_s *= kPatienceFactor;
  for (;;) {
    const std::string command = comm.Receive(0, fleet.timeout_s);
    if (TypeOf(command, 0) != kCommand) {
      Throw(ErrorKind::kInternal, "fleet: rank {} expected a command, got '{}'", rank, command[0]);
    }
    const auto index = FromPod<std::int32_t>(std::string_view{command}.substr(1));
    if (index < 0) return;
    const std::string rest = command.substr(1 + sizeof index);
    const std::size_t split = rest.find('\0');
    const std::string server = rest.substr(0, split);
    if (split != std::string::npos) continue;  // rank 0 could not start the cell: it records why
    for (int k = 0; k < kPingPongs; ++k) {
      const std::string ping = comm.Receive(0, fleet.timeout_s);
      if (TypeOf(ping, 0) != kPing) Throw(ErrorKind::kInternal, "fleet: expected a ping");
      comm.Send(0, Tagged(kPong, Pod(MonotonicNs())), fleet.timeout_s);
    }
    const SweepCell& cell = cells.at(static_cast<std::size_t>(index));
    RankResult mine;
    mine.rank = rank;
    mine.host = comm.host();
    mine.concurrency = ConcurrencyShare(cell.settings.concurrency, comm.size(), rank);
    auto barrier = [&] {
      comm.Send(0, Tagged(kReady, ""), fleet.timeout_s);
      const std::string reply = comm.Receive(0, fleet.timeout_s);
      if (TypeOf(reply, 0) == kAbandon) {
        Throw(ErrorKind::kUnavailable, "fleet: cell abandoned before the start: {}",
              reply.substr(1));
      }
      SleepUntilNs(FromPod<std::int64_t>(std::string_view{reply}.substr(1)));
      mine.barrier_exit_ns = MonotonicNs();
      MaybeDieForTest(rank, index, cell.load.min_duration_s);
    };
    const SweepCell run = RankCell(cell, rank, comm.size(), server, barrier);
    if (mine.concurrency == 0) {
      try {
        barrier();
      } catch (const Error& error) {
        mine.result = FailedCell(error.kind(), error.what());
      }
    } else {
      std::optional<CellResult> result = RunSweepCell(run, nullptr, {});
      mine.result = std::move(*result);  // no cancel flag: never nullopt
    }
    comm.Send(0, Tagged(kResult, EncodeRankResult(mine)),
              fleet.timeout_s + kPatienceFactor * static_cast<double>(WindowAndWarmupS(cell)));
  }
}

// Rank 0's side of one cell's protocol.
class CellCoordinator {
 public:
  CellCoordinator(FleetComm& comm, const FleetOptions& fleet) : comm_(comm), fleet_(fleet) {}

  // Everything that failed talking to a rank ends up here: the fleet cannot go on without it.
  template <typename F>
  auto Talk(F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const Error& error) {
      if (lost_.empty()) lost_ = error.what();
      throw;
    }
  }
  const std::string& lost() const { return lost_; }

  void Begin(int index, const std::string& server, const std::string& error) {
    barrier_ran_ = false;
    early_.assign(static_cast<std::size_t>(comm_.size()), std::nullopt);
    ready_.assign(static_cast<std::size_t>(comm_.size()), false);
    std::string body = Pod(static_cast<std::int32_t>(index)) + server;
    if (!error.empty()) body += std::string(1, '\0') + error;
    for (int r = 1; r < comm_.size(); ++r) {
      Talk([&] { comm_.Send(r, Tagged(kCommand, body), fleet_.timeout_s); });
    }
  }

  void End() {
    const std::string body = Pod(std::int32_t{-1});
    for (int r = 1; r < comm_.size(); ++r) {
      Talk([&] { comm_.Send(r, Tagged(kCommand, body), fleet_.timeout_s); });
    }
  }

  std::vector<ClockOffset> MeasureOffsets() {
    std::vector<ClockOffset>& offsets = offsets_;
    offsets.assign(static_cast<std::size_t>(comm_.size()), ClockOffset{});
    for (int r = 1; r < comm_.size(); ++r) {
      ClockOffset best{0, std::numeric_limits<std::int64_t>::max()};
      for (int k = 0; k < kPingPongs; ++k) {
        const std::int64_t t0 = MonotonicNs();
        Talk([&] { comm_.Send(r, Tagged(kPing, ""), fleet_.timeout_s); });
        const std::string pong = Talk([&] { return comm_.Receive(r, fleet_.timeout_s); });
        const std::int64_t t2 = MonotonicNs();
        const ClockOffset offset =
            OffsetFromPingPong(t0, FromPod<std::int64_t>(std::string_view{pong}.substr(1)), t2);
        if (offset.uncertainty_ns < best.uncertainty_ns) best = offset;
      }
      offsets[static_cast<std::size_t>(r)] = best;
    }
    return offsets;
  }

  // The start barrier: every rank reports ready (or its early failure), then all are told to
  // start at one instant of rank 0's clock, converted to each rank's clock with its offset (so
  // that the start does not depend on when each message arrives), or to abandon the cell.
  // `own_failure` is rank 0's when it failed first.
  void Barrier(const std::string& own_failure = "") {
    barrier_ran_ = true;
    std::string failures = own_failure.empty() ? "" : "rank 0: " + own_failure;
    for (int r = 1; r < comm_.size(); ++r) {
      const std::string message = Talk([&] { return comm_.Receive(r, fleet_.timeout_s); });
      if (TypeOf(message, r) == kReady) {
        ready_[static_cast<std::size_t>(r)] = true;
        continue;
      }
      RankResult early = DecodeRankResult(std::string_view{message}.substr(1));
      failures +=
          fmt::format("{}rank {}: {}", failures.empty() ? "" : "; ", r, early.result.error_message);
      early_[static_cast<std::size_t>(r)] = std::move(early);
    }
    std::int64_t round_trips_ns = 0;
    for (const ClockOffset& offset : offsets_) round_trips_ns += 2 * offset.uncertainty_ns;
    const std::int64_t start_ns = MonotonicNs() + kStartMarginNs + round_trips_ns;
    for (int r = 1; r < comm_.size(); ++r) {
      if (!ready_[static_cast<std::size_t>(r)]) continue;
      const std::int64_t local_start_ns =
          start_ns + offsets_[static_cast<std::size_t>(r)].offset_ns;
      const std::string reply =
          failures.empty() ? Tagged(kGo, Pod(local_start_ns)) : Tagged(kAbandon, failures);
      Talk([&] { comm_.Send(r, reply, fleet_.timeout_s); });
    }
    if (failures.empty()) SleepUntilNs(start_ns);
    barrier_exit_ns_ = MonotonicNs();
    if (!failures.empty()) {
      Throw(ErrorKind::kUnavailable, "fleet: cell abandoned before the start: {}", failures);
    }
  }
  bool barrier_ran() const { return barrier_ran_; }
  std::int64_t barrier_exit_ns() const { return barrier_exit_ns_; }

  // The other ranks' results, by rank (slot 0 is left for rank 0's own).
  std::vector<RankResult> Collect(double timeout_s) {
    std::vector<RankResult> results(static_cast<std::size_t>(comm_.size()));
    for (int r = 1; r < comm_.size(); ++r) {
      auto& early = early_[static_cast<std::size_t>(r)];
      if (early) {
        results[static_cast<std::size_t>(r)] = std::move(*early);
        continue;
      }
      const std::string message = Talk([&] { return comm_.Receive(r, timeout_s); });
      if (TypeOf(message, r) != kResult) {
        Throw(ErrorKind::kInternal, "fleet: rank {} sent '{}' instead of its result", r,
              message[0]);
      }
      results[static_cast<std::size_t>(r)] = DecodeRankResult(std::string_view{message}.substr(1));
    }
    return results;
  }

 private:
  FleetComm& comm_;
  const FleetOptions& fleet_;
  std::string lost_;
  bool barrier_ran_ = false;
  std::int64_t barrier_exit_ns_ = 0;
  std::vector<ClockOffset> offsets_;  // by rank, from MeasureOffsets
  std::vector<std::optional<RankResult>> early_;
  std::vector<bool> ready_;
};

}  // namespace

int LauncherRanks() {
  // Open MPI's mpirun, then PMI (MPICH, srun --mpi=pmi2), then a Slurm job step (srun).
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
    if (const char* value = std::getenv(name); value != nullptr) {
      return static_cast<int>(ParseIntInRange(value, name, 1, std::numeric_limits<int>::max()));
    }
  }
  return 1;
}

std::string ShareConfigText(FleetComm& comm, const std::string& text, const std::string& error,
                            const FleetOptions& options) {
  if (comm.rank() == 0) {
    const std::string message =
        Tagged(kConfig, (error.empty() ? "1" : "0") + (error.empty() ? text : error));
    for (int r = 1; r < comm.size(); ++r) comm.Send(r, message, options.timeout_s);
    if (!error.empty()) Throw(ErrorKind::kInvalidArgument, "{}", error);
    return text;
  }
  const std::string message = comm.Receive(0, options.timeout_s);
  if (TypeOf(message, 0) != kConfig || message.size() < 2) {
    Throw(ErrorKind::kInternal, "fleet: rank {} expected the configuration", comm.rank());
  }
  if (message[1] != '1') {
    Throw(ErrorKind::kInvalidArgument, "rank 0 rejected the configuration: {}", message.substr(2));
  }
  return message.substr(2);
}

namespace {

// Rank 0's part of one cell once every rank has its command: the clock offsets, its own share
// of the clients (or only the start barrier when it has none), then the other ranks' results
// merged with its own. nullopt: `cancel` interrupted rank 0's own share.
std::optional<CellResult> RunCellWithFleet(
    FleetComm& comm, const FleetOptions& fleet, CellCoordinator& coordinator, const SweepCell& cell,
    const std::string& address, const std::atomic<bool>* cancel,
    const std::function<void(const LoadProgress&)>& on_progress) {
  const std::vector<ClockOffset> offsets = coordinator.MeasureOffsets();
  const SweepCell run = RankCell(cell, 0, comm.size(), address, [&] { coordinator.Barrier(); });
  std::unique_ptr<CellServerStats> server_stats;
  if (cell.settings.remote()) {
    try {
      server_stats = std::make_unique<CellServerStats>(run);
    } catch (const Error&) {
      // The ranks' own connections will fail the cell with the reason.
    }
  }
  RankResult mine;
  mine.host = comm.host();
  mine.concurrency = ConcurrencyShare(cell.settings.concurrency, comm.size(), 0);
  if (mine.concurrency == 0) {
    try {
      coordinator.Barrier();
    } catch (const Error& error) {
      if (!coordinator.lost().empty()) throw;
      mine.result = FailedCell(error.kind(), error.what());
    }
  } else {
    std::optional<CellResult> own = RunSweepCell(run, cancel, on_progress);
    if (!coordinator.lost().empty()) Throw(ErrorKind::kUnavailable, "{}", coordinator.lost());
    if (!own) return std::nullopt;
    mine.result = std::move(*own);
  }
  if (!coordinator.barrier_ran()) {
    try {
      coordinator.Barrier(mine.result.error_message);
    } catch (const Error&) {
      if (!coordinator.lost().empty()) throw;
    }
  }
  mine.barrier_exit_ns = coordinator.barrier_exit_ns();
  std::vector<RankResult> results =
      coordinator.Collect(fleet.timeout_s + static_cast<double>(WindowAndWarmupS(cell)));
  results[0] = std::move(mine);
  CellResult merged =
      MergeRankResults(results, offsets, run.load, static_cast<int>(cell.settings.batch));
  // Every rank's requests have completed: the servers' counters cover the whole fleet.
  if (server_stats && merged.status != CellStatus::kFailed) merged.server = server_stats->Delta();
  return merged;
}

SweepSummary RunRankZero(FleetComm& comm, const SweepConfig& config,
                         const std::vector<SweepCell>& cells, const SweepOptions& options,
                         const FleetOptions& fleet, CellCoordinator& coordinator,
                         SweepObserver& observer, const std::atomic<bool>* cancel) {
  SweepSummary summary;
  summary.total = static_cast<int>(cells.size());
  std::map<std::string, CellStatus> finished;
  SweepOptions with_mpi = options;
  with_mpi.extra_library_versions["mpi"] = comm.library();
  std::unique_ptr<ResultsWriter> writer = OpenSweepResults(config, with_mpi, finished);
  if (writer) summary.run_id = writer->run_id();
  TermState& term = Term();
  auto lose_fleet = [&](const CellSettings& settings, const std::string& message) {
    std::lock_guard lock(term.mutex);
    if (writer) writer->ReplaceLastCell(settings, FailedCell(ErrorKind::kUnavailable, message));
    term.in_cell = false;
    writer.reset();  // the run stays incomplete: sweep --resume continues it
    fmt::print(stderr, "sonicbench: {}; the run is left incomplete; aborting the job\n", message);
    std::fflush(stderr);
    comm.Abort(1);
  };

  for (int i = 0; i < summary.total; ++i) {
    const SweepCell& cell = cells[static_cast<std::size_t>(i)];
    if (finished.contains(cell.settings.Key())) {
      ++summary.skipped;
      continue;
    }
    observer.OnCellStart(i, summary.total, cell.settings);
    {
      std::lock_guard lock(term.mutex);
      if (writer) writer->AppendCell(cell.settings, Placeholder());
      term.in_cell = true;
    }
    std::unique_ptr<service::Server> server;
    std::string server_error;
    if (cell.settings.remote() && cell.remote.servers.empty()) {
      try {
        server = StartEmbeddedServer(cell);
      } catch (const Error& error) {
        server_error = fmt::format("{}: {}", ErrorKindName(error.kind()), error.what());
      }
    }
    const std::string address = server ? server->address() : "";
    std::optional<CellResult> merged;
    try {
      coordinator.Begin(i, address, server_error);
      if (!server_error.empty()) {
        merged = CellResult{};
        merged->status = CellStatus::kFailed;
        merged->error_message = "embedded server: " + server_error;
      } else {
        merged = RunCellWithFleet(
            comm, fleet, coordinator, cell, address, cancel, [&](const LoadProgress& progress) {
              observer.OnCellProgress(i, summary.total, cell.settings, progress);
            });
        if (!merged) {
          summary.interrupted = true;
          lose_fleet(cell.settings, "fleet: interrupted");
        }
      }
    } catch (const Error& error) {
      if (coordinator.lost().empty()) throw;
      if (server) server->Shutdown(std::chrono::seconds(5));
      lose_fleet(cell.settings, fmt::format("fleet: a rank was lost during cell {} of {}: {}",
                                            i + 1, summary.total, coordinator.lost()));
    }
    if (server) server->Shutdown(std::chrono::seconds(5));
    {
      std::lock_guard lock(term.mutex);
      if (writer) writer->ReplaceLastCell(cell.settings, *merged);
      term.in_cell = false;
    }
    ++summary.ran;
    summary.failed += merged->status == CellStatus::kFailed;
    summary.not_converged += merged->status == CellStatus::kNotConverged;
    observer.OnCellDone(i, summary.total, cell.settings, *merged);
  }
  coordinator.End();
  std::lock_guard lock(term.mutex);
  if (writer) writer->Close();
  return summary;
}

}  // namespace

SweepSummary RunFleetSweep(FleetComm& comm, const SweepConfig& config, const SweepOptions& options,
                           const FleetOptions& fleet, SweepObserver& observer,
                           const std::atomic<bool>* cancel) {
  if (config.search) {
    // Every rank has the config, so every rank stops here alike.
    Throw(ErrorKind::kInvalidArgument,
          "mode = search does not run under a fleet yet: run the search from one process (each "
          "probe is a cell), or a fleet sweep over the rates or jobs it found");
  }
  const std::vector<SweepCell> cells = ExpandCells(config);
  if (std::any_of(cells.begin(), cells.end(), [](const SweepCell& c) { return c.accuracy; })) {
    Throw(ErrorKind::kInvalidArgument,
          "accuracy = on does not run under a fleet: a cell's physics does not depend on how many "
          "processes load it; measure it from one process (sonicbench sweep without mpirun, or "
          "sonicbench accuracy)");
  }
  StartTermWatcher(comm.rank());
  if (comm.rank() != 0) {
    try {
      RunOtherRank(comm, cells, fleet);
    } catch (const Error& error) {
      fmt::print(stderr, "sonicbench: rank {}: {}; aborting the job\n", comm.rank(), error.what());
      comm.Abort(1);
    }
    return SweepSummary{};
  }

  CellCoordinator coordinator(comm, fleet);
  try {
    return RunRankZero(comm, config, cells, options, fleet, coordinator, observer, cancel);
  } catch (const Error&) {
    // Rank 0 cannot go on (the results file, a broken invariant): release the other ranks, so
    // that every process exits with rank 0's error instead of waiting for it.
    try {
      coordinator.End();
    } catch (const Error&) {
    }
    throw;
  }
}

}  // namespace sonic
