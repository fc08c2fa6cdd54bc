#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sonic::service {

// A network link between the client and the server, emulated in the client transport (Linux
// netem is not available on the benchmark machines). A request of S bytes reaches the server
// S·8/bandwidth + rtt/2 after the link is free to send it; the reply comes back the same way.
// Each direction serialises one message at a time, so large messages queue behind each other
// as on a real link, but a message waiting never holds back the completion of another.
struct LinkProfile {
  std::string name = "none";  // "none", "edge", "cloud" or "custom"
  std::int64_t rtt_ns = 0;    // round-trip propagation delay
  double bandwidth_bps = 0;   // bits per second each way; 0: unlimited
  bool emulated() const { return rtt_ns > 0 || bandwidth_bps > 0; }
  std::string ToString() const;  // "edge (rtt 1 ms, 10 Gbit/s)"
};

// Presets (docs/SERVICE.md says why these figures):
//   none   no emulation: the real transport only
//   edge   on-premises service, a few switch hops away: rtt 1 ms, 10 Gbit/s
//   cloud  cloud region a few hundred km away: rtt 10 ms, 1 Gbit/s
// and custom "rtt_ms=R,bandwidth_gbps=B" (either key may be omitted; bandwidth 0 = unlimited).
// Throws Error(kInvalidArgument) naming the accepted forms.
LinkProfile ParseLink(std::string_view text);

// Runs callbacks at given monotonic times on one thread of its own: the delay line that the link
// emulation and the client's retry back-off use instead of sleeping in the caller.
// Contract: Schedule is thread-safe and never blocks on a callback; callbacks run in due-time
// order (ties in scheduling order) and must be short. The destructor runs every callback still
// queued, at once, then joins.
class DelayQueue {
 public:
  DelayQueue();
  ~DelayQueue();
  DelayQueue(const DelayQueue&) = delete;
  DelayQueue& operator=(const DelayQueue&) = delete;

  void Schedule(std::int64_t due_ns, std::function<void()> callback);

 private:
  struct Entry {
    std::int64_t due_ns;
    std::uint64_t sequence;
    std::function<void()> callback;
    bool operator>(const Entry& other) const {
      return due_ns != other.due_ns ? due_ns > other.due_ns : sequence > other.sequence;
    }
  };
  void Loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> entries_;
  std::uint64_t next_sequence_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// The link's state: when each direction is next free. Thread-safe.
class LinkShaper {
 public:
  explicit LinkShaper(LinkProfile profile) : profile_(std::move(profile)) {}

  // When a message of `bytes` handed to the link at `now_ns` has fully arrived at the far end.
  std::int64_t UplinkArrivalNs(std::int64_t now_ns, std::int64_t bytes);
  std::int64_t DownlinkArrivalNs(std::int64_t now_ns, std::int64_t bytes);

 private:
  std::int64_t Arrival(std::int64_t now_ns, std::int64_t bytes, std::int64_t* free_ns);

  LinkProfile profile_;
  std::mutex mutex_;
  std::int64_t uplink_free_ns_ = 0;
  std::int64_t downlink_free_ns_ = 0;
};

}  // namespace sonic::service
