#pragma once

#include <string>
#include <vector>

#include "results/cell.h"
#include "results/results_file.h"

namespace sonic {

// What the saturation summary is judged against (docs/SIZING.md).
struct ReportOptions {
  double latency_budget_ms = 0;  // p99 request latency the jobs may see; 0: none
  double cores_per_job = 1;      // CPU cores one client job stands for
};

// A readable table of one run: its provenance, then one line per cell with its settings,
// throughput +- 95% CI, p50 / p99 latency, client CPU and status (and for client workflows their
// events); then, for each series of cells that differ only in jobs (concurrency), its saturation:
// plateau, knee, jobs within the latency budget and the CPU cores one accelerator serves.
std::string FormatReport(const RunInfo& info, const std::vector<CellRecord>& cells,
                         const ReportOptions& options = {});

// The cells table as CSV (one header line, one row per cell: settings, summary metrics, status).
std::string FormatCsv(const std::vector<CellRecord>& cells);
// Writes FormatCsv to `path`; throws Error(kIo) naming the file.
void WriteCsv(const std::string& path, const std::vector<CellRecord>& cells);

// How one cell changed between a base run and a new run.
struct CellChange {
  enum class Kind {
    kCompared,       // measured ok in both: see the numbers
    kNewFailure,     // ok (or not converged) in base, failed in new: a regression
    kMissing,        // in base, not in new: fails the gate unless missing cells are allowed
    kAdded,          // in new, not in base
    kNotComparable,  // failed in base: nothing to compare against
  };
  Kind kind = Kind::kCompared;
  std::string key;
  CellSettings settings;
  double base_throughput = 0;  // inferences/s
  double new_throughput = 0;
  double throughput_change = 0;  // relative: (new - base) / base
  double throughput_noise = 0;   // relative: combined 95% CI half-width / base
  double base_p99_ns = 0;
  double new_p99_ns = 0;
  double p99_change = 0;  // relative
  double p99_noise = 0;   // relative: combined 95% CI half-width of p99 / base
  bool throughput_regression = false;
  bool latency_regression = false;
  bool regression = false;  // any of the above, or kNewFailure
};

struct Comparison {
  std::vector<CellChange> changes;  // base order, then cells only in new
  bool regression = false;          // any change is a regression
  int missing = 0;                  // cells of base that new lacks (kMissing)
};

// The nightly gate (`sonicbench compare` exits 3): a regression, or a cell of base missing in new
// (a run that silently lost cells) unless `allow_missing` (the sweep's grid changed on purpose).
bool GateFails(const Comparison& comparison, bool allow_missing);

// Matches cells by CellSettings::Key (the last cell of a key wins when a run has duplicates) and
// flags a regression when throughput dropped by more than `threshold` (relative, 0.05 = 5%) AND by
// more than the combined 95% CI (sqrt(ci_base^2 + ci_new^2)), or when p99 latency rose by more
// than `threshold` AND by more than the combined 95% CI of p99 (distribution-free order-statistic
// intervals from each histogram, widened by the histogram's relative error). A cell that was ok in
// base and failed in new is a regression too.
Comparison Compare(const std::vector<CellRecord>& base, const std::vector<CellRecord>& next,
                   double threshold);

// A readable table of the changes and a one-line verdict that counts regressions and missing cells.
std::string FormatComparison(const Comparison& comparison, double threshold,
                             bool allow_missing = false);

}  // namespace sonic
