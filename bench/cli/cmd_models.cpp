#include <fmt/format.h>

#include "bench/cli/commands.h"
#include "bench/cli/json.h"
#include "models/zoo.h"

namespace sonic::cli {

void RegisterModelsCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "List the built-in models");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print one JSON object instead of a table");
  cmd->footer(
      "Examples:\n"
      "  sonicbench models\n"
      "  sonicbench models --json\n"
      "Any model can also be loaded from ONNX: sonicbench infer --onnx model.onnx ...");
  cmd->callback([json] {
    if (*json) {
      JsonArray list;
      for (const ModelInfo& info : BuiltinModels()) {
        JsonArray shape;
        for (std::int64_t dim : info.input_shape) shape.Append(dim);
        list.Append(JsonObject()
                        .Add("name", info.name)
                        .Add("description", info.description)
                        .Add("input_shape", shape)
                        .Add("default_classes", info.default_classes));
      }
      fmt::print("{}\n", JsonObject().Add("models", list).str());
      return;
    }
    fmt::print("{:<10} {:<14} {:>8}  {}\n", "model", "input", "classes", "description");
    for (const ModelInfo& info : BuiltinModels()) {
      fmt::print("{:<10} {:<14} {:>8}  {}\n", info.name, ShapeToString(info.input_shape),
                 info.default_classes, info.description);
    }
  });
}

}  // namespace sonic::cli
