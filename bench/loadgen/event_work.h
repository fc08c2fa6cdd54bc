#pragma once

// A client job's workflow (issue 17 §2, docs/SWEEP.md "Client workflows"): per event the job does
// its own work besides inference, and sends requests_per_event requests, either after the work
// (sync) or at its start, collecting them at its end (async, as CMSSW's ExternalWork does).
// Parsing and sampling are pure and single-threaded; BurnCpu runs on the calling thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/random.h"
#include "results/cell.h"

namespace sonic {

struct EventWork {
  enum class Kind {
    kNone,       // no work: the event is its requests
    kCpu,        // a fixed amount of computation on the job's thread, calibrated to take mean_ms
                 // on an idle core: N jobs contend for this machine's cores as real jobs do
    kElsewhere,  // mean_ms of wall time without this machine's CPU (work on other nodes): one
                 // machine then emulates many jobs
  };
  enum class Spread {
    kFixed,        // every event takes mean_ms
    kExponential,  // exponential of mean mean_ms (coefficient of variation 1)
    kLognormal,    // lognormal of mean mean_ms and coefficient of variation cv
  };
  Kind kind = Kind::kNone;
  double mean_ms = 0;
  Spread spread = Spread::kFixed;
  double cv = 0;  // kLognormal only, > 0

  bool operator==(const EventWork&) const = default;
};

// "none", "cpu:MS" or "elsewhere:MS" (MS in ms, 0 to 1e6). Throws Error(kInvalidArgument) naming
// the forms.
EventWork ParseEventWork(std::string_view text);
// "fixed", "exponential" or "lognormal:CV" (CV > 0, at most 10), applied to `work`.
void ParseEventWorkSpread(std::string_view text, EventWork& work);
// The canonical texts, as the parsers read them and the results file records them: "cpu:5",
// "elsewhere:20", "none"; "fixed", "exponential", "lognormal:0.5".
std::string EventWorkName(const EventWork& work);
std::string EventWorkSpreadName(const EventWork& work);

// The whole workflow of a cell's jobs.
struct EventWorkflow {
  EventWork work;
  int requests_per_event = 1;  // 1 to kMaxRequestsPerEvent
  ClientMode mode = ClientMode::kSync;
  bool operator==(const EventWorkflow&) const = default;
};
inline constexpr int kMaxRequestsPerEvent = 64;

// The durations of one job's events' work, in ns, reproducible from `seed`. Not thread-safe: one
// per job.
class WorkSampler {
 public:
  WorkSampler(const EventWork& work, std::uint64_t seed);
  std::int64_t NextNs();

 private:
  EventWork work_;
  double mu_ = 0, sigma_ = 0;  // lognormal: of the underlying normal, for mean_ms in ns
  Random random_;
};

// Runs the calibrated computation worth `ns` on an idle core of this machine (on a busy or shared
// core it takes longer, as real work would). The first call calibrates (about 50 ms); call
// CalibrateCpuWork() from untimed setup to keep it out of a measurement. Thread-safe.
void BurnCpu(std::int64_t ns);
void CalibrateCpuWork();

}  // namespace sonic
