#include "bench/loadgen/cpu_set.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "core/error.h"

namespace sonic {
namespace {

TEST(CpuList, ParsesLinuxCpuLists) {
  EXPECT_EQ(ParseCpuList("0"), CpuList({0}));
  if (sysconf(_SC_NPROCESSORS_CONF) >= 2) {
    EXPECT_EQ(ParseCpuList("1,0"), CpuList({0, 1}));
    EXPECT_EQ(ParseCpuList("0-1"), CpuList({0, 1}));
    EXPECT_EQ(CpuListToString(ParseCpuList("0,1")), "0-1");
  }
  EXPECT_EQ(CpuListToString({0, 2, 3, 5}), "0,2-3,5");
}

TEST(CpuList, RejectsBadLists) {
  EXPECT_THROW(ParseCpuList(""), Error);
  EXPECT_THROW(ParseCpuList("a"), Error);
  EXPECT_THROW(ParseCpuList("1-0"), Error);
  EXPECT_THROW(ParseCpuList("0,"), Error);
  EXPECT_THROW(ParseCpuList("4096"), Error);
}

TEST(CpuList, PinsTheCallingThreadOnly) {
  const CpuList before = CurrentThreadCpus();
  std::thread([] {
    PinCurrentThread({0});
    EXPECT_EQ(CurrentThreadCpus(), CpuList({0}));
  }).join();
  EXPECT_EQ(CurrentThreadCpus(), before);
}

}  // namespace
}  // namespace sonic
