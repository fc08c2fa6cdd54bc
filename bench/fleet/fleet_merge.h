#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/load_generator.h"
#include "results/cell.h"

namespace sonic {

// The pure parts of a client fleet (no communication): how a cell's load is split between the
// ranks, how a rank's result travels, and how rank 0 merges them. Plain functions, thread-safe.

// Client workers of `rank` when `concurrency` clients are spread over `ranks` processes: every
// rank gets concurrency / ranks, and the first concurrency % ranks ranks one more (so shares
// differ by at most one, and ranks past the concurrency get none and run no load).
int ConcurrencyShare(std::int64_t concurrency, int ranks, int rank);
// The first global worker index of `rank` (the sum of the shares of the ranks before it).
int FirstWorker(std::int64_t concurrency, int ranks, int rank);

// One rank's part of a cell, as rank 0 receives it. Clock values are the rank's own monotonic
// clock (ns).
struct RankResult {
  std::int32_t rank = 0;
  std::string host;
  std::int64_t concurrency = 0;      // its client workers (0: it ran no load)
  std::int64_t barrier_exit_ns = 0;  // when it left the start barrier; 0 when it never did
  CellResult result;
};

// A compact binary encoding (native byte order: every rank runs the same build) of everything
// a merge needs, raw records and histograms included. Decode throws Error(kInternal) on a
// truncated or malformed message.
std::string EncodeRankResult(const RankResult& rank);
RankResult DecodeRankResult(std::string_view bytes);

// Rank 0's estimate of a rank's clock: offset_ns = rank's clock - rank 0's clock, within
// uncertainty_ns (half the round trip of the best ping-pong).
struct ClockOffset {
  std::int64_t offset_ns = 0;
  std::int64_t uncertainty_ns = 0;
};
// The offset from one ping-pong: rank 0 sent at t0_ns, the rank answered with its clock at
// remote_ns, rank 0 got the answer at t2_ns (NTP's midpoint rule).
ClockOffset OffsetFromPingPong(std::int64_t t0_ns, std::int64_t remote_ns, std::int64_t t2_ns);

// Merges the ranks' results (by rank, offsets[r] for rank r) into the fleet's cell exactly:
// histograms merged, counts, bytes, errors, CPU times and per-server shares summed, throughput
// summed over the ranks' windows, raw records concatenated (timestamps moved onto rank 0's
// clock, workers numbered globally) and sorted by schedule. The merged window's convergence is
// judged on the summed sub-window progress (JudgeFixedWindow with `load`). Any failed rank fails
// the cell, naming the rank and its error. Server statistics are those of the lowest rank that
// has them (each covers its own span only: RunFleetSweep replaces them). Fills CellResult::fleet
// with per-rank summaries and the alignment estimate.
CellResult MergeRankResults(std::span<const RankResult> ranks, std::span<const ClockOffset> offsets,
                            const LoadSettings& load, int batch);

}  // namespace sonic
