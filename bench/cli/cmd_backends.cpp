#include <fmt/format.h>

#include "backends/registry.h"
#include "bench/cli/commands.h"

namespace sonic::cli {

void RegisterBackendsCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("backends", "List the compiled-in backends, devices and versions");
  cmd->callback([] {
    for (const std::string& name : CompiledBackendNames()) {
      auto backend = MakeBackend(name);
      std::string precisions;
      for (Precision p : backend->precisions()) {
        precisions += (precisions.empty() ? "" : ",") + std::string(PrecisionName(p));
      }
      const std::string reason = backend->unavailable_reason();
      fmt::print("{:<10} {:<5} {:<32} {:<24} {}{}\n", name, DeviceKindName(backend->device_kind()),
                 backend->device_name(), backend->library_version(), precisions,
                 reason.empty() ? "" : "  (unavailable: " + reason + ")");
    }
  });
}

}  // namespace sonic::cli
