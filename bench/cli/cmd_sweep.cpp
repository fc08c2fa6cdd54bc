#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "bench/cli/commands.h"
#include "bench/fleet/fleet.h"
#include "bench/loadgen/sweep.h"
#include "bench/loadgen/sweep_config.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/file.h"
#include "datasets/sample_source.h"

namespace sonic::cli {
namespace {

// Set by SIGINT or SIGTERM; read by the load generator's controller between sub-windows and by
// every wait of a cell's setup.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

// The first ^C or SIGTERM (a batch system's "stop") finishes cleanly: the current cell is
// abandoned and not stored, every finished one is already in the file. SA_RESETHAND makes a
// second signal kill the process at once.
void InstallInterruptHandlers() {
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

std::string CommandLine() {
  const std::string raw = TryReadWholeFile("/proc/self/cmdline").value_or("");
  std::string line;
  for (char c : raw) line += c == '\0' ? ' ' : c;
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string Minutes(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const std::int64_t s = std::llround(seconds);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// A latency in the unit that keeps 3 significant digits readable: 40 ns, 12.5 us, 27.1 ms, 1.75 s.
std::string FormatNs(double ns) {
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.3g} us", ns * 1e-3);
  if (ns < 1e9) return fmt::format("{:.3g} ms", ns * 1e-6);
  return fmt::format("{:.3g} s", ns * 1e-9);
}

std::string Describe(const CellSettings& s) {
  std::string load = s.mode == LoadMode::kOpen
                         ? fmt::format("open {:g} Hz {} c{}", s.rate_hz,
                                       ArrivalProcessName(s.arrival), s.concurrency)
                         : fmt::format("{} c{}", LoadModeName(s.mode), s.concurrency);
  const std::string where =
      s.remote() ? fmt::format("remote/{}{}", s.link, s.batched() ? " +batching" : "")
                 : std::string(TargetKindName(s.target));
  const std::string search =
      s.search_role ? fmt::format(" search {} {}", SearchRoleName(*s.search_role), s.search_probe)
                    : "";
  return fmt::format("{} {} {} {} batch {} {} t{}{}{}", where, s.backend, s.model, s.precision,
                     s.batch, load, s.threads, s.repeat > 0 ? fmt::format(" #{}", s.repeat) : "",
                     search);
}

// Cell i of N, elapsed, ETA and the current throughput: rewritten in place on a terminal; one
// plain line per finished cell otherwise (logs, pipes, CI).
class ProgressPrinter final : public SweepObserver {
 public:
  ProgressPrinter() : tty_(isatty(STDOUT_FILENO) == 1), start_ns_(MonotonicNs()) {}

  void OnCellStart(int index, int total, const CellSettings& settings) override {
    cell_start_ns_ = MonotonicNs();
    if (tty_) Status(index, total, settings, "starting");
  }

  void OnCellProgress(int index, int total, const CellSettings& settings,
                      const LoadProgress& progress) override {
    if (!tty_) return;
    std::string state =
        progress.measuring ? "measuring" : fmt::format("warm-up {:.1f} s", progress.elapsed_s);
    if (progress.measuring && progress.requests_per_s > 0) {
      state += fmt::format(" {:.4g} inf/s", progress.requests_per_s * settings.batch);
      if (std::isfinite(progress.relative_ci95)) {
        state += fmt::format(" ±{:.1f}%", 100 * progress.relative_ci95);
      }
      state += fmt::format(" ({:.0f} requests in {:.1f} s)", progress.requests, progress.window_s);
    }
    Status(index, total, settings, state);
  }

  void OnCellDone(int index, int total, const CellSettings& settings,
                  const CellResult& r) override {
    ++done_;
    done_s_ += (MonotonicNs() - cell_start_ns_) * 1e-9;
    std::string outcome;
    if (r.status == CellStatus::kFailed) {
      outcome = "FAILED " + r.error_message;
    } else {
      outcome =
          fmt::format("{:.4g} inf/s ±{:.1f}%  p50 {}  p99 {}  client cpu {:.2f} cores  {}",
                      r.throughput_inferences_per_s,
                      r.throughput_inferences_per_s > 0
                          ? 100 * r.throughput_inferences_per_s_ci95 / r.throughput_inferences_per_s
                          : 0.0,
                      FormatNs(r.latency.Percentile(0.5)), FormatNs(r.latency.Percentile(0.99)),
                      r.ClientCpuUtilisation(),
                      r.converged ? "converged" : "NOT CONVERGED: " + r.convergence_reason);
    }
    if (r.bound_met) {
      outcome += fmt::format("  {}: {}; goodput {:.4g}/s", *r.bound_met ? "VALID" : "INVALID",
                             r.bound_verdict_reason, r.GoodputPerS());
    }
    if (r.accuracy) {
      const TaggerScore& t = r.accuracy->score;
      outcome += r.accuracy->error.empty()
                     ? fmt::format("  AUC {:.5f} accuracy {:.4f} max|d| {:.3g}", t.roc_auc,
                                   t.accuracy, t.max_abs_deviation)
                     : "  accuracy not measured: " + r.accuracy->error;
    }
    fmt::print("{}[{}/{}] {}: {}\n", tty_ ? "\r\033[K" : "", index + 1, total, Describe(settings),
               outcome);
    std::fflush(stdout);
    if (r.generator_behind) {
      fmt::print(stderr, "warning: cell {}: the load generator could not keep the schedule ({})\n",
                 index + 1, r.convergence_reason);
    }
  }

  void Finish() {
    if (tty_) fmt::print("\r\033[K");
  }

 private:
  void Status(int index, int total, const CellSettings& settings, const std::string& state) {
    const double elapsed_s = (MonotonicNs() - start_ns_) * 1e-9;
    const double eta_s =
        done_ > 0 ? done_s_ / done_ * (total - index) - (MonotonicNs() - cell_start_ns_) * 1e-9
                  : NAN;
    fmt::print("\r\033[Kcell {}/{} {} | {} | elapsed {} ETA {}", index + 1, total,
               Describe(settings), state, Minutes(elapsed_s), Minutes(std::max(0.0, eta_s)));
    std::fflush(stdout);
  }

  bool tty_;
  std::int64_t start_ns_;
  std::int64_t cell_start_ns_ = 0;
  int done_ = 0;
  double done_s_ = 0;
};

struct SweepFlags {
  std::string config_path;
  std::map<std::string, std::string> values;  // key -> value, for the flags given
  std::string out_path;
  std::string resume_path;
  bool append = false;
  bool dry_run = false;
  bool no_peak = false;
  FleetOptions fleet;
};

// The grid from the flags and the config file (or, with --resume, from the file's stored config).
SweepConfig ConfigFromFlags(const SweepFlags& flags,
                            const std::map<std::string, CLI::Option*>& given,
                            std::string& out_path) {
  ConfigEntries entries;
  out_path = flags.out_path;
  if (!flags.resume_path.empty()) {
    if (!flags.config_path.empty() || !flags.values.empty() || !flags.out_path.empty()) {
      Throw(ErrorKind::kInvalidArgument,
            "--resume takes the grid and the file from {}: give no --config, --out or grid flags",
            flags.resume_path);
    }
    out_path = flags.resume_path;
    entries = ParseConfigText(StoredConfigText(out_path), out_path + " (stored config)");
  } else {
    if (!flags.config_path.empty()) {
      entries =
          ParseConfigText(ReadWholeFile(flags.config_path, "sweep config"), flags.config_path);
    }
    for (const auto& [key, value] : flags.values) {
      entries.push_back({key, value, given.at(key)->get_name(), "", ""});
    }
  }
  return BuildSweepConfig(entries);
}

void RunSweepCommand(const SweepFlags& flags, const std::map<std::string, CLI::Option*>& given) {
  const bool resume = !flags.resume_path.empty();
  // Under mpirun or srun every rank is a client process; rank 0 reads the configuration (it may
  // be the only one that can read a --resume file) and hands it to the others.
  const std::unique_ptr<FleetComm> fleet = flags.dry_run ? nullptr : JoinFleet();
  std::string out_path;
  SweepConfig config;
  if (fleet && fleet->rank() != 0) {
    config = BuildSweepConfig(
        ParseConfigText(ShareConfigText(*fleet, "", "", flags.fleet), "rank 0's configuration"));
  } else {
    try {
      config = ConfigFromFlags(flags, given, out_path);
    } catch (const Error& error) {
      if (fleet) ShareConfigText(*fleet, "", error.what(), flags.fleet);
      throw;
    }
    if (fleet) ShareConfigText(*fleet, config.canonical_text, "", flags.fleet);
  }
  const std::vector<SweepCell> cells = ExpandCells(config);

  if (flags.dry_run) {
    // With --resume, only the cells that a resume would run.
    const std::map<std::string, CellStatus> finished =
        resume ? StoredFinishedCells(out_path) : std::map<std::string, CellStatus>{};
    std::size_t listed = 0;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (AlreadyFinished(cells[i], finished)) continue;
      ++listed;
      fmt::print("[{}/{}] {}\n", i + 1, cells.size(), Describe(cells[i].settings));
    }
    fmt::print("{} cells{}; each: warm-up {} s, window {}-{} s until the throughput CI is ±{}%\n",
               listed,
               resume ? fmt::format(" to run ({} of {} already in {})", cells.size() - listed,
                                    cells.size(), out_path)
                      : "",
               config.load.warmup_s, config.load.min_duration_s, config.load.max_duration_s,
               100 * config.load.ci_fraction);
    return;
  }

  if (!fleet || fleet->rank() == 0) {
    for (const std::string& model : RandomlyCalibratedModels(cells)) {
      fmt::print(stderr, "{}\n", RandomCalibrationWarning(model));
    }
  }
  InstallInterruptHandlers();
  SweepOptions options;
  options.out_path = out_path;
  options.resume = resume;
  options.append = flags.append;
  options.command_line = CommandLine();
  options.measure_peak = !flags.no_peak;
  ProgressPrinter printer;
  const SweepSummary summary =
      fleet ? RunFleetSweep(*fleet, config, options, flags.fleet, printer, &g_interrupted)
            : RunSweep(config, options, printer, &g_interrupted);
  if (fleet && fleet->rank() != 0) return;  // rank 0 reports for the fleet
  printer.Finish();
  fmt::print(
      "{} {} cells run ({} already in the file), {} failed, {} not converged{}\n", summary.ran,
      config.search ? fmt::format("search cells for the grid's {}", summary.total)
                    : fmt::format("of {}", summary.total),
      summary.skipped, summary.failed, summary.not_converged,
      out_path.empty() ? "" : fmt::format("; results in {} (run {})", out_path, summary.run_id));
  if (summary.interrupted) {
    if (out_path.empty()) {
      fmt::print(stderr, "sonicbench: interrupted after {} of {} cells (no --out: nothing kept)\n",
                 summary.ran, summary.total);
    } else {
      fmt::print(stderr,
                 "sonicbench: interrupted: {} of {} cells are in {}; continue with: sonicbench "
                 "sweep --resume {}\n",
                 summary.skipped + summary.ran, summary.total, out_path, out_path);
    }
    throw CLI::RuntimeError(kExitFailure);
  }
  if (summary.failed > 0) {
    fmt::print(stderr, "sonicbench: {} cell(s) failed; their errors are recorded\n",
               summary.failed);
    throw CLI::RuntimeError(kExitFailure);
  }
}

}  // namespace

void RegisterSweepCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sweep", "Measure a grid of cells (backend x model x precision x batch x load) to HDF5");
  auto flags = std::make_shared<SweepFlags>();
  auto given = std::make_shared<std::map<std::string, CLI::Option*>>();
  auto raw = std::make_shared<std::map<std::string, std::string>>();
  cmd->add_option("--config", flags->config_path, "Sweep config file (key = value lines)")
      ->check(CLI::ExistingFile);
  for (const SweepKeyInfo& key : SweepKeys()) {
    const std::string name(key.name);
    (*given)[name] = cmd->add_option(
        std::string(key.flag), (*raw)[name],
        key.default_value.empty() ? std::string(key.help)
                                  : fmt::format("{} (default {})", key.help, key.default_value));
  }
  cmd->add_option("--out", flags->out_path, "Results file (HDF5) to write");
  auto* append =
      cmd->add_flag("--append", flags->append, "Add a new run to --out instead of replacing it");
  cmd->add_option("--resume", flags->resume_path,
                  "Continue an interrupted sweep: run the cells missing from this file")
      ->check(CLI::ExistingFile)
      ->excludes(append);
  cmd->add_flag("--dry-run", flags->dry_run, "List the cells and exit");
  cmd->add_flag("--no-peak", flags->no_peak,
                "Skip measuring the CPU peaks (fp32, int8, bf16, memory) for the provenance");
  cmd->add_option("--fleet-timeout-s", flags->fleet.timeout_s,
                  "Under MPI: longest wait for another rank before its cell fails")
      ->check(CLI::PositiveNumber);
  cmd->footer(
      "Examples:\n"
      "  sonicbench sweep --config configs/demo.conf --out demo.h5\n"
      "  sonicbench sweep --backend onednn --model resnet50 --batch 1-8*2 --concurrency 1,2 "
      "--out r.h5\n"
      "  sonicbench sweep --resume r.h5\n"
      "  mpirun -n 4 sonicbench sweep --config c.conf --target remote --out fleet.h5\n"
      "See docs/SWEEP.md for the config format and the stop rule, docs/FLEET.md for MPI.");
  cmd->callback([flags, given, raw] {
    flags->values.clear();
    for (const auto& [key, option] : *given) {
      if (option->count() > 0) flags->values[key] = (*raw)[key];
    }
    RunSweepCommand(*flags, *given);
  });
}

}  // namespace sonic::cli
