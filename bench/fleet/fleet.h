#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "bench/loadgen/sweep.h"
#include "bench/loadgen/sweep_config.h"

namespace sonic {

// Messages between the client processes of a fleet (one per MPI rank). Every call blocks until
// done or until `timeout_s` passes, then throws Error(kUnavailable) naming the peer, so that a
// dead or stuck rank fails a cell instead of hanging it. Messages between two ranks arrive in
// the order they were sent. Not thread-safe: call from one thread (the sweep's).
class FleetComm {
 public:
  virtual ~FleetComm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string host() const = 0;     // this process's node name
  virtual std::string library() const = 0;  // the MPI library's version, for the provenance
  virtual void Send(int to, std::string_view bytes, double timeout_s) = 0;
  virtual std::string Receive(int from, double timeout_s) = 0;
  // Ends every process of the job (after rank 0 has written what it could).
  [[noreturn]] virtual void Abort(int exit_code) = 0;
};

// Whether this build has MPI fleets (SONIC_MPI).
bool FleetCompiledIn();
// The ranks a launcher's environment announces (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
// SLURM_STEP_NUM_TASKS); 1 without a launcher.
int LauncherRanks();

// The fleet this process was started in by mpirun or srun, or nullptr when it was started alone
// (no launcher, or a launcher with one rank: everything runs as without MPI, and MPI is never
// initialised). Throws Error(kUnsupported) when a launcher started several ranks but the build
// has no MPI (they would each run the whole sweep). Call once, before any thread starts: it
// blocks SIGTERM in this thread (and so in the threads started later) so that rank 0 can record
// the cell a launcher's termination interrupts (see RunFleetSweep).
std::unique_ptr<FleetComm> JoinFleet();

struct FleetOptions {
  // Longest wait for another rank at any step (setup of a cell, the start barrier, a result).
  double timeout_s = 300;
};

// Sends the sweep configuration text from rank 0 to every rank, so that all ranks run the same
// grid even when only rank 0 can read the results file (--resume). Rank 0 passes its canonical
// text (or, when its configuration is invalid, an empty text and the error, which every rank then
// throws as Error(kInvalidArgument)); the others pass nothing and get rank 0's text.
std::string ShareConfigText(FleetComm& comm, const std::string& text, const std::string& error,
                            const FleetOptions& options);

// RunSweep across the fleet. Rank 0 owns the results file and tells every rank which cell to run;
// for each cell the ranks estimate their clock offsets to rank 0 (ping-pong), split the cell's
// concurrency (ConcurrencyShare), the open-loop rate in proportion, and the raw-record cap evenly,
// start together after a barrier (at one instant of rank 0's clock, converted to each rank's
// clock with its offset), measure a fixed window of min_duration_s each with its own
// monotonic clock, and send their results to rank 0, which merges them exactly
// (MergeRankResults) and appends one cell with per-rank summaries and the alignment estimate.
// A remote cell without a server address uses one embedded server, started by rank 0, whose
// address every rank receives. A rank that fails (or is not heard from within timeout_s) fails
// the cell with a message naming it; after a rank is lost the fleet cannot go on: rank 0 writes
// the failed cell, leaves the run incomplete and aborts the job. Rank 0 appends each cell as a
// failed placeholder before running it and replaces it with the result, so that when the
// launcher kills the job (SIGTERM then SIGKILL: mpirun does this soon after a rank exits) the
// interrupted cell is in the file as failed. `observer` and the summary are rank 0's; other ranks
// return an empty summary.
SweepSummary RunFleetSweep(FleetComm& comm, const SweepConfig& config, const SweepOptions& options,
                           const FleetOptions& fleet, SweepObserver& observer,
                           const std::atomic<bool>* cancel);

}  // namespace sonic
