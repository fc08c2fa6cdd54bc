#include <fmt/format.h>

#include "bench/cli/commands.h"
#include "models/zoo.h"

namespace sonic::cli {

void RegisterModelsCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "List the built-in models");
  cmd->callback([] {
    fmt::print("{:<10} {:<14} {:>8}  {}\n", "model", "input", "classes", "description");
    for (const ModelInfo& info : BuiltinModels()) {
      fmt::print("{:<10} {:<14} {:>8}  {}\n", info.name, ShapeToString(info.input_shape),
                 info.default_classes, info.description);
    }
  });
}

}  // namespace sonic::cli
