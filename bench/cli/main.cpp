#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "bench/cli/commands.h"
#include "core/error.h"
#include "core/version.h"

namespace {

int ExitCodeFor(const sonic::Error& error) {
  switch (error.kind()) {
    case sonic::ErrorKind::kInvalidArgument:
    case sonic::ErrorKind::kNotFound:
      return sonic::cli::kExitUsage;
    case sonic::ErrorKind::kUnavailable:
      return sonic::cli::kExitUnavailable;
    default:
      return sonic::cli::kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sonicbench: benchmark machine-learning inference served as a service"};
  app.set_version_flag("--version",
                       fmt::format("sonicbench {} ({})", sonic::kVersion, sonic::kGitCommit));
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  sonicbench backends\n"
      "  sonicbench sysinfo\n"
      "  sonicbench infer --backend onednn --model resnet50 --batch 16 --iterations 20 --check\n"
      "  sonicbench <command> --help\n"
      "Exit codes: 0 ok, 1 run failed, 2 bad usage, 3 regression, 4 unavailable.");
  sonic::cli::RegisterBackendsCommand(app);
  sonic::cli::RegisterModelsCommand(app);
  sonic::cli::RegisterServeCommand(app);
  sonic::cli::RegisterInferCommand(app);
  sonic::cli::RegisterSysinfoCommand(app);
  sonic::cli::RegisterReportCommand(app);
  sonic::cli::RegisterCompareCommand(app);
  sonic::cli::RegisterSweepCommand(app);
  sonic::cli::RegisterDatasetCommand(app);
  sonic::cli::RegisterOpenClCommand(app);
  sonic::cli::RegisterPlotCommand(app);
  sonic::cli::RegisterAccuracyCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& error) {
    // A callback that already reported its failure and chose the exit code.
    return error.get_exit_code();
  } catch (const CLI::ParseError& error) {
    // --help and --version end here with code 0; every other parse error is a usage error.
    return app.exit(error) == 0 ? sonic::cli::kExitOk : sonic::cli::kExitUsage;
  } catch (const sonic::Error& error) {
    fmt::print(stderr, "sonicbench: error: {}\n", error.what());
    return ExitCodeFor(error);
  } catch (const std::exception& error) {
    fmt::print(stderr, "sonicbench: internal error: {}\n", error.what());
    return sonic::cli::kExitFailure;
  }
  return sonic::cli::kExitOk;
}
