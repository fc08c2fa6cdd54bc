#include "service/link.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace sonic::service {
namespace {

TEST(ParseLink, PresetsAndCustom) {
  EXPECT_FALSE(ParseLink("none").emulated());
  EXPECT_FALSE(ParseLink("").emulated());
  const LinkProfile edge = ParseLink("edge");
  EXPECT_EQ(edge.rtt_ns, 1'000'000);
  EXPECT_DOUBLE_EQ(edge.bandwidth_bps, 10e9);
  const LinkProfile cloud = ParseLink("cloud");
  EXPECT_EQ(cloud.rtt_ns, 10'000'000);
  EXPECT_DOUBLE_EQ(cloud.bandwidth_bps, 1e9);
  EXPECT_EQ(cloud.ToString(), "cloud (rtt 10 ms, 1 Gbit/s)");
  const LinkProfile custom = ParseLink("rtt_ms=2.5,bandwidth_gbps=0.1");
  EXPECT_EQ(custom.name, "custom");
  EXPECT_EQ(custom.rtt_ns, 2'500'000);
  EXPECT_DOUBLE_EQ(custom.bandwidth_bps, 1e8);
  EXPECT_EQ(ParseLink("rtt_ms=3").bandwidth_bps, 0);
}

TEST(ParseLink, ErrorsNameTheAcceptedForms) {
  for (const char* bad : {"lan", "rtt_ms=x", "rtt_ms=-1", "delay=3", "rtt_ms=1,,"}) {
    try {
      ParseLink(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(error.what()).find("accepted: none, edge, cloud"), std::string::npos)
          << error.what();
    }
  }
}

TEST(LinkShaper, SerialisationQueuesAndHalfTheRoundTripEachWay) {
  LinkShaper link(ParseLink("rtt_ms=10,bandwidth_gbps=1"));
  const std::int64_t now = 1'000'000'000;
  // 1.25 MB at 1 Gbit/s is 10 ms on the wire, then 5 ms of propagation.
  EXPECT_EQ(link.UplinkArrivalNs(now, 1'250'000), now + 15'000'000);
  // A second message sent at the same moment waits for the first to leave the link.
  EXPECT_EQ(link.UplinkArrivalNs(now, 1'250'000), now + 25'000'000);
  // The other direction is independent.
  EXPECT_EQ(link.DownlinkArrivalNs(now, 0), now + 5'000'000);
}

TEST(DelayQueue, RunsInDueOrderWithoutHoldingBackEarlierOnes) {
  std::mutex mutex;
  std::vector<int> order;
  std::vector<std::int64_t> lateness_ns(2);
  {
    DelayQueue queue;
    const std::int64_t start = MonotonicNs();
    queue.Schedule(start + 200'000'000, [&] {
      std::lock_guard lock(mutex);
      order.push_back(1);
      lateness_ns[1] = MonotonicNs() - (start + 200'000'000);
    });
    // Scheduled later but due sooner: must not wait behind the 200 ms entry.
    queue.Schedule(start + 20'000'000, [&] {
      std::lock_guard lock(mutex);
      order.push_back(0);
      lateness_ns[0] = MonotonicNs() - (start + 20'000'000);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1}));
  for (const std::int64_t late : lateness_ns) {
    EXPECT_GE(late, 0);
    EXPECT_LT(late, 100'000'000);  // generous: shared CI cores
  }
}

TEST(DelayQueue, DestructorRunsWhatIsLeft) {
  std::atomic<int> ran{0};
  {
    DelayQueue queue;
    queue.Schedule(MonotonicNs() + 60'000'000'000, [&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace sonic::service
