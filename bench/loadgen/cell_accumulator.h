#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "results/cell.h"

namespace sonic {

// Sums the additive parts of cell results into one: latency and send-lag histograms (exact
// merges), request, warm-up and inference counts, bytes, client CPU, errors by kind, raw records
// (shifted onto a common clock and worker numbering), per-server shares (summed by address), the
// first server statistics, and the generator-behind and truncation flags. The load generator adds
// its workers' tallies with it, a fleet its ranks' results. What is not additive (duration,
// throughput, convergence, status) is the caller's. Not thread-safe; add from one thread.
class CellAccumulator {
 public:
  // `clock_offset_ns` is subtracted from the part's record times (a rank's clock - rank 0's);
  // `worker_base` is added to its record worker indices.
  void Add(const CellResult& part, std::int64_t clock_offset_ns = 0, int worker_base = 0);

  // Sorts the raw records by scheduled time and hands the sum over.
  CellResult Finish();

 private:
  CellResult total_;
  std::map<std::string, std::size_t> server_index_;  // address -> index in total_.servers
};

}  // namespace sonic
