// The registry: the names it lists are the backends it makes, and backend-specific tools are
// there exactly when their backend was compiled in.
#include "backends/registry.h"

#include <fmt/format.h>
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

// Each backend's own precisions() and unavailable_reason() decide, and the error names the
// precisions it has or why it cannot run.
TEST(Registry, UsableBackendsHaveThePrecisionAndCanRunHere) {
  for (const std::string& name : CompiledBackendNames()) {
    const auto backend = MakeBackend(name);
    const std::string reason = backend->unavailable_reason();
    for (Precision precision : {Precision::kFp32, Precision::kTf32, Precision::kFp16,
                                Precision::kBf16, Precision::kInt8, Precision::kBfp8}) {
      const std::string what = fmt::format("{} at {}", name, PrecisionName(precision));
      try {
        EXPECT_EQ(MakeUsableBackend(name, precision)->name(), name) << what;
        EXPECT_TRUE(backend->Supports(precision) && reason.empty()) << what;
      } catch (const Error& error) {
        const std::string message = error.what();
        if (!backend->Supports(precision)) {
          EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument) << what;
          EXPECT_NE(message.find(fmt::format("does not support precision {}: it has {}",
                                             PrecisionName(precision),
                                             PrecisionName(backend->precisions().front()))),
                    std::string::npos)
              << message;
        } else {
          EXPECT_EQ(error.kind(), ErrorKind::kUnavailable) << what;
          EXPECT_FALSE(reason.empty()) << what;
          EXPECT_NE(message.find(reason), std::string::npos) << message;
        }
      }
    }
  }
  EXPECT_EQ(MakeUsableBackend("reference")->name(), "reference");
  EXPECT_THROW(MakeUsableBackend("reference", Precision::kInt8), Error);
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
