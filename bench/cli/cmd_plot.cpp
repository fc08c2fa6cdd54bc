#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/cli/commands.h"
#include "core/error.h"
#include "results/results_file.h"

namespace sonic::cli {
namespace {

// The figures are Python (matplotlib, h5py) and read only the results file. Debian's interpreter
// has those packages; the python3 first on PATH may not. Both locations can be overridden.
std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

int RunPlots(const std::string& results, const std::string& out_dir, bool trend) {
  const std::string python = EnvOr("SONIC_PYTHON", "/usr/bin/python3");
  const std::filesystem::path script =
      std::filesystem::path(EnvOr("SONIC_PLOTS_DIR", SONIC_PLOTS_DIR)) / "plot_all.py";
  if (!std::filesystem::exists(results)) {
    Throw(ErrorKind::kInvalidArgument, "results file '{}' does not exist", results);
  }
  // The figures' reader (h5py) trusts the file; ours checks every byte of it first, so that a
  // damaged file gives one line and exit 2 like `report` rather than a Python traceback.
  ValidateResultsFile(results);
  if (!std::filesystem::exists(script)) {
    Throw(ErrorKind::kNotFound,
          "plot script '{}' not found: set SONIC_PLOTS_DIR to the plots/ "
          "folder of the sonicbench sources",
          script.string());
  }
  std::vector<std::string> args{python, script.string(), results, "--out", out_dir};
  if (trend) args.push_back("--trend");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t child = fork();
  if (child < 0) Throw(ErrorKind::kInternal, "fork failed while starting {}", python);
  if (child == 0) {
    execv(python.c_str(), argv.data());
    fmt::print(stderr, "sonicbench plot: cannot run {}: {}\n", python, std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Throw(ErrorKind::kIo, "drawing the figures of '{}' failed ({} exited with status {})", results,
          script.string(), WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return kExitOk;
}

}  // namespace

void RegisterPlotCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "plot", "Draw every figure a results file supports, and a Markdown report beside them");
  auto results = std::make_shared<std::string>();
  auto out_dir = std::make_shared<std::string>("figures");
  auto trend = std::make_shared<bool>(false);
  cmd->add_option("results", *results, "Results file (HDF5)")->required();
  cmd->add_option("--out", *out_dir, "Folder for the figures (PNG and SVG) and report.md");
  cmd->add_flag("--trend", *trend, "Also draw each cell's trend across the file's runs (nightly)");
  cmd->footer(
      "Examples:\n"
      "  sonicbench plot demo.h5 --out figures/\n"
      "  sonicbench plot history.h5 --out trend/ --trend\n"
      "Runs /usr/bin/python3 plots/plot_all.py (override with SONIC_PYTHON, SONIC_PLOTS_DIR).");
  cmd->callback([=] { RunPlots(*results, *out_dir, *trend); });
}

}  // namespace sonic::cli
