#include <fmt/format.h>

#include <string>

#include "backends/registry.h"
#include "bench/cli/commands.h"
#include "bench/cli/json.h"
#include "bench/loadgen/sweep_config.h"

namespace sonic::cli {

void RegisterBackendsCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("backends", "List the compiled-in backends, devices and versions");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print one JSON object instead of a table");
  cmd->footer(
      "Under each backend: the forms its --device selector and its --backend-options take, and\n"
      "process-wide settings in effect that change its timings (onednn: the OpenMP idle policy,\n"
      "docs/PERFORMANCE.md \"Latency after idle\").\n"
      "Examples:\n"
      "  sonicbench backends\n"
      "  sonicbench backends --json");
  cmd->callback([json] {
    JsonArray list;
    if (!*json) {
      fmt::print("{:<10} {:<5} {:<34} {:<32} {}\n", "backend", "kind", "device", "library",
                 "precisions");
    }
    for (const std::string& name : CompiledBackendNames()) {
      auto backend = MakeBackend(name);
      std::string precisions;
      JsonArray precision_list;
      for (Precision p : backend->precisions()) {
        if (!precisions.empty()) precisions += ',';
        precisions += PrecisionName(p);
        precision_list.Append(PrecisionName(p));
      }
      const std::string reason = backend->unavailable_reason();
      if (*json) {
        list.Append(JsonObject()
                        .Add("name", name)
                        .Add("device_kind", DeviceKindName(backend->device_kind()))
                        .Add("device", backend->device_name())
                        .Add("library", backend->library_version())
                        .Add("precisions", precision_list)
                        .Add("available", reason.empty())
                        .Add("unavailable_reason", reason)
                        .Add("device_forms", backend->device_forms())
                        .Add("option_forms", backend->option_forms())
                        .Add("settings", backend->settings()));
      } else {
        fmt::print("{:<10} {:<5} {:<34} {:<32} {}{}\n", name,
                   DeviceKindName(backend->device_kind()), backend->device_name(),
                   backend->library_version(), precisions,
                   reason.empty() ? "" : "  (unavailable: " + reason + ")");
        if (const std::string forms = backend->device_forms(); !forms.empty()) {
          fmt::print("{:<10} --device: {}\n", "", forms);
        }
        if (const std::string forms = backend->option_forms(); !forms.empty()) {
          fmt::print("{:<10} --backend-options: {}\n", "", forms);
        }
        if (const std::string settings = backend->settings(); !settings.empty()) {
          fmt::print("{:<10} in effect: {}\n", "", settings);
        }
      }
    }
    if (*json) fmt::print("{}\n", JsonObject().Add("backends", list).str());
  });
}

void AddBackendChoiceOptions(CLI::App& cmd, std::string& device, std::string& backend_options) {
  for (const SweepKeyInfo& key : SweepKeys()) {
    if (key.name == "device") cmd.add_option(std::string(key.flag), device, std::string(key.help));
    if (key.name == "backend_options") {
      cmd.add_option(std::string(key.flag), backend_options, std::string(key.help));
    }
  }
}

}  // namespace sonic::cli
