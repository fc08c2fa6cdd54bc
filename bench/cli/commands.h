#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "backends/backend.h"

namespace sonic::cli {

// Exit codes of the `sonicbench` command (documented in docs/CLI.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // the run failed (backend error, I/O, a failed check)
inline constexpr int kExitUsage = 2;        // bad command line or config: nothing was run
inline constexpr int kExitRegression = 3;   // `compare`/`nightly`: a regression beyond noise
inline constexpr int kExitUnavailable = 4;  // a backend, device or server is not available

// The backend's --device and --backend-options (CompileOptions::device and ::backend_options)
// of infer and serve; the sweep's keys of the same names.
void AddBackendChoiceOptions(CLI::App& cmd, std::string& device, std::string& backend_options);

// Each subcommand lives in bench/cli/cmd_<name>.cpp and registers itself here: it adds its
// CLI::App subcommand with options and a callback. Callbacks report failure by throwing
// sonic::Error (mapped to an exit code in main.cpp) or CLI::RuntimeError(code).
void RegisterBackendsCommand(CLI::App& app);
void RegisterModelsCommand(CLI::App& app);
void RegisterServeCommand(CLI::App& app);
void RegisterInferCommand(CLI::App& app);
void RegisterSysinfoCommand(CLI::App& app);
void RegisterReportCommand(CLI::App& app);    // report FILE (cmd_report.cpp)
void RegisterCompareCommand(CLI::App& app);   // compare BASE NEW (cmd_report.cpp)
void RegisterSweepCommand(CLI::App& app);     // sweep (cmd_sweep.cpp)
void RegisterDatasetCommand(CLI::App& app);   // dataset generate|images|info (cmd_dataset.cpp)
void RegisterOpenClCommand(CLI::App& app);    // opencl-devices, opencl-compile (cmd_opencl.cpp)
void RegisterPlotCommand(CLI::App& app);      // plot FILE --out DIR (cmd_plot.cpp)
void RegisterAccuracyCommand(CLI::App& app);  // accuracy (cmd_accuracy.cpp)

}  // namespace sonic::cli
