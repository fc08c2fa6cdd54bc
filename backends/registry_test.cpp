// The registry: the names it lists are the backends it makes, and backend-specific tools are
// there exactly when their backend was compiled in.
#include "backends/registry.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "backends/opencl/opencl_backend.h"
#include "core/error.h"

namespace sonic {
namespace {

bool Compiled(const std::string& name) {
  const std::vector<std::string> names = CompiledBackendNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(Registry, MakesEveryListedBackendUnderItsName) {
  for (const std::string& name : CompiledBackendNames()) {
    EXPECT_EQ(MakeBackend(name)->name(), name);
  }
  EXPECT_TRUE(Compiled("reference"));
  EXPECT_THROW(MakeBackend("no-such-backend"), Error);
}

TEST(Registry, OpenClToolsExistExactlyWhenTheBackendDoes) {
  const OpenClTools* tools = FindOpenClTools();
  EXPECT_EQ(tools != nullptr, Compiled("opencl"));
  if (tools == nullptr) return;
  EXPECT_NE(tools->kernel_source().find("__kernel"), std::string_view::npos);
  EXPECT_NE(tools->build_options().find("-DTM="), std::string::npos);
}

}  // namespace
}  // namespace sonic
