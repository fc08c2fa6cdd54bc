#pragma once

#include <CLI/CLI.hpp>

namespace sonic::cli {

// Exit codes of the `sonicbench` command (documented in docs/CLI.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // the run failed (backend error, I/O, a failed check)
inline constexpr int kExitUsage = 2;        // bad command line or config: nothing was run
inline constexpr int kExitRegression = 3;   // `compare`/`nightly`: a regression beyond noise
inline constexpr int kExitUnavailable = 4;  // a backend, device or server is not available

// Each subcommand lives in bench/cli/cmd_<name>.cpp and registers itself here: it adds its
// CLI::App subcommand with options and a callback. Callbacks report failure by throwing
// sonic::Error (mapped to an exit code in main.cpp) or CLI::RuntimeError(code).
void RegisterBackendsCommand(CLI::App& app);
void RegisterModelsCommand(CLI::App& app);

}  // namespace sonic::cli
