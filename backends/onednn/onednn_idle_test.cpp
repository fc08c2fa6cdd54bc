// The idle policy's text, its environment and libgomp's reading of that environment.
#include "backends/onednn/onednn_idle.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace sonic {
namespace {

using Kind = OmpIdlePolicy::Kind;

TEST(OmpIdlePolicy, ParsesEveryForm) {
  EXPECT_EQ(ParseOmpIdlePolicy("default"), (OmpIdlePolicy{Kind::kDefault, 0}));
  EXPECT_EQ(ParseOmpIdlePolicy("passive"), (OmpIdlePolicy{Kind::kPassive, 0}));
  EXPECT_EQ(ParseOmpIdlePolicy("active"), (OmpIdlePolicy{Kind::kActive, 0}));
  EXPECT_EQ(ParseOmpIdlePolicy("spin:500us"), (OmpIdlePolicy{Kind::kSpin, 500}));
  EXPECT_EQ(ParseOmpIdlePolicy("spin:20ms"), (OmpIdlePolicy{Kind::kSpin, 20000}));
  EXPECT_EQ(ParseOmpIdlePolicy("spin:2s"), (OmpIdlePolicy{Kind::kSpin, 2000000}));
}

TEST(OmpIdlePolicy, BadValuesNameTheExpectedForms) {
  for (const char* bad : {"", "sleep", "spin", "spin:", "spin:20", "spin:ms", "spin:-5ms",
                          "spin:0ms", "spin:1.5ms", "spin:20min", "Passive"}) {
    try {
      ParseOmpIdlePolicy(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument) << bad;
      EXPECT_NE(std::string(error.what()).find("idle=spin:<duration>"), std::string::npos)
          << error.what();
    }
  }
}

TEST(OmpIdlePolicy, NamesReadBack) {
  for (const char* text : {"default", "passive", "active", "spin:500us", "spin:20ms", "spin:2s"}) {
    EXPECT_EQ(OmpIdlePolicyName(ParseOmpIdlePolicy(text)), text);
  }
  EXPECT_EQ(OmpIdlePolicyName({Kind::kSpin, 1500}), "spin:1500us");
}

// libgomp's rules (libgomp/env.c): GOMP_SPINCOUNT wins over OMP_WAIT_POLICY.
TEST(OmpIdlePolicy, ReadsTheEnvironmentAsLibgompDoes) {
  EXPECT_EQ(OmpIdlePolicyFromEnvironment(nullptr, nullptr).kind, Kind::kDefault);
  EXPECT_EQ(OmpIdlePolicyFromEnvironment("ACTIVE", nullptr).kind, Kind::kActive);
  EXPECT_EQ(OmpIdlePolicyFromEnvironment("passive", nullptr).kind, Kind::kPassive);
  EXPECT_EQ(OmpIdlePolicyFromEnvironment("sometimes", nullptr).kind, Kind::kDefault);
  EXPECT_EQ(OmpIdlePolicyFromEnvironment("passive", "2M"), (OmpIdlePolicy{Kind::kSpin, 20000}));
  EXPECT_EQ(OmpIdlePolicyFromEnvironment(nullptr, "300000"), (OmpIdlePolicy{Kind::kSpin, 3000}));
  EXPECT_EQ(OmpIdlePolicyFromEnvironment(nullptr, "50k"), (OmpIdlePolicy{Kind::kSpin, 500}));
  EXPECT_EQ(OmpIdlePolicyFromEnvironment("active", "0").kind, Kind::kPassive);
  EXPECT_EQ(OmpIdlePolicyFromEnvironment(nullptr, "infinite").kind, Kind::kActive);
  EXPECT_EQ(OmpIdlePolicyFromEnvironment("active", "lots").kind, Kind::kActive);
}

// What a process started with OmpIdleEnvironment(p) reads back is p.
TEST(OmpIdlePolicy, TheEnvironmentGivesThePolicy) {
  for (const char* text : {"default", "passive", "active", "spin:500us", "spin:20ms"}) {
    const OmpIdlePolicy policy = ParseOmpIdlePolicy(text);
    const std::string env = OmpIdleEnvironment(policy);
    const std::string value = env.substr(env.find('=') + 1);
    const OmpIdlePolicy read = env.empty() ? OmpIdlePolicyFromEnvironment(nullptr, nullptr)
                               : env.starts_with("OMP_WAIT_POLICY=")
                                   ? OmpIdlePolicyFromEnvironment(value.c_str(), nullptr)
                                   : OmpIdlePolicyFromEnvironment(nullptr, value.c_str());
    EXPECT_EQ(read, policy) << text << " -> " << env;
  }
  EXPECT_EQ(OmpIdleEnvironment(ParseOmpIdlePolicy("spin:20ms")), "GOMP_SPINCOUNT=2000000");
}

}  // namespace
}  // namespace sonic
