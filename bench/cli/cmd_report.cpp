// `sonicbench report FILE` and `sonicbench compare BASE NEW`: read results files (results/), print
// a run's table or the per-cell changes between two runs (the nightly regression check).

#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/cli/commands.h"
#include "core/error.h"
#include "core/parse.h"
#include "results/report.h"
#include "results/results_file.h"

namespace sonic::cli {
namespace {

// The run to read: `run_id` when given, else the file's latest.
std::string PickRun(const ResultsReader& reader, const std::string& path,
                    const std::string& run_id) {
  const std::vector<std::string> runs = reader.ListRuns();
  if (runs.empty()) Throw(ErrorKind::kNotFound, "{}: the file holds no runs", path);
  if (run_id.empty()) return runs.back();
  for (const std::string& run : runs) {
    if (run == run_id) return run;
  }
  std::string known;
  for (const std::string& run : runs) known += (known.empty() ? "" : ", ") + run;
  Throw(ErrorKind::kNotFound, "{}: no run '{}'; the file holds {}", path, run_id, known);
}

// "5%" -> 0.05; "0.05" -> 0.05. A bare number above 1 is refused: "5" is ambiguous.
double ParseThreshold(const std::string& text) {
  const bool percent = !text.empty() && text.back() == '%';
  const std::string number = percent ? text.substr(0, text.size() - 1) : text;
  const double value = TryParseDouble(number).value_or(-1);
  if (!(value >= 0)) {
    Throw(ErrorKind::kInvalidArgument,
          "--threshold {}: expected a percentage like 5% or a fraction like 0.05", text);
  }
  if (!percent && value > 1) {
    Throw(ErrorKind::kInvalidArgument,
          "--threshold {}: a bare number is a fraction (0.05 = 5%); write {}% for percent", text,
          text);
  }
  return percent ? value / 100 : value;
}

}  // namespace

void RegisterReportCommand(CLI::App& app) {
  struct Options {
    std::string path;
    std::string run_id;
    std::string csv_path;
    ReportOptions report;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("report", "Print the cells of a run in a results file");
  cmd->add_option("file", options->path, "Results file (HDF5) written by sonicbench sweep")
      ->required();
  cmd->add_option("--run", options->run_id, "Run id to print (default: the latest run)");
  cmd->add_option("--csv", options->csv_path,
                  "Also write the run's cells table as CSV to this file");
  cmd->add_option("--latency-budget-ms", options->report.latency_budget_ms,
                  "Saturation: the p99 request latency jobs may see (0: none)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--cores-per-job", options->report.cores_per_job,
                  "Saturation: CPU cores one client job stands for")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  sonicbench report results.h5\n"
      "  sonicbench report nightly.h5 --run 20261124T103022Z --csv cells.csv\n"
      "  sonicbench report jobs.h5 --latency-budget-ms 50 --cores-per-job 4");
  cmd->callback([options] {
    const ResultsReader reader(options->path);
    const std::string run_id = PickRun(reader, options->path, options->run_id);
    const std::vector<CellRecord> cells = reader.ReadCells(run_id, /*with_raw_records=*/false);
    const std::vector<std::string> runs = reader.ListRuns();
    if (runs.size() > 1 && options->run_id.empty()) {
      fmt::print("{} holds {} runs ({} ... {}); showing the latest (--run picks another)\n",
                 options->path, runs.size(), runs.front(), runs.back());
    }
    fmt::print("{}", FormatReport(reader.ReadRunInfo(run_id), cells, options->report));
    if (!options->csv_path.empty()) {
      WriteCsv(options->csv_path, cells);
      fmt::print("wrote {} cells to {}\n", cells.size(), options->csv_path);
    }
  });
}

void RegisterCompareCommand(CLI::App& app) {
  struct Options {
    std::string base_path;
    std::string new_path;
    std::string base_run;
    std::string new_run;
    std::string threshold = "5%";
    bool allow_missing = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "compare",
      "Compare two runs cell by cell; exit 3 when a cell regressed beyond the threshold and noise "
      "or is missing in NEW");
  cmd->add_option("base", options->base_path, "Results file of the base run")->required();
  cmd->add_option("new", options->new_path, "Results file of the new run")->required();
  cmd->add_option("--base-run", options->base_run, "Run id in BASE (default: its latest run)");
  cmd->add_option("--new-run", options->new_run, "Run id in NEW (default: its latest run)");
  cmd->add_option("--threshold", options->threshold,
                  "Smallest relative change that counts, e.g. 5% or 0.05")
      ->capture_default_str();
  cmd->add_flag("--allow-missing", options->allow_missing,
                "Pass even when cells of BASE are missing in NEW (the grid changed on purpose)");
  cmd->footer(
      "A cell regressed when its throughput fell, or its p99 latency rose, by more than the\n"
      "threshold AND by more than the combined 95% confidence intervals of both runs, or when\n"
      "it failed in NEW. Cells are matched by their settings; a cell of BASE missing in NEW\n"
      "fails the check too (exit 3) unless --allow-missing.\n"
      "Examples:\n"
      "  sonicbench compare yesterday.h5 today.h5\n"
      "  sonicbench compare nightly.h5 nightly.h5 --base-run 20261123T020000Z --threshold 3%");
  cmd->callback([options] {
    const double threshold = ParseThreshold(options->threshold);
    const ResultsReader base_reader(options->base_path);
    const ResultsReader new_reader(options->new_path);
    const std::string base_run = PickRun(base_reader, options->base_path, options->base_run);
    const std::string new_run = PickRun(new_reader, options->new_path, options->new_run);
    if (options->base_path == options->new_path && base_run == new_run) {
      Throw(ErrorKind::kInvalidArgument,
            "base and new are the same run ({}); pick one with --base-run or --new-run", base_run);
    }
    const Comparison comparison =
        Compare(base_reader.ReadCells(base_run, /*with_raw_records=*/false),
                new_reader.ReadCells(new_run, /*with_raw_records=*/false), threshold);
    fmt::print("base: {} run {}\nnew:  {} run {}\n", options->base_path, base_run,
               options->new_path, new_run);
    fmt::print("{}", FormatComparison(comparison, threshold, options->allow_missing));
    if (GateFails(comparison, options->allow_missing)) throw CLI::RuntimeError(kExitRegression);
  });
}

}  // namespace sonic::cli
