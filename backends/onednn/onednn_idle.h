#pragma once

// The onednn backend's idle policy: what its OpenMP threads do between parallel regions, and so
// between requests (issue 22 §7, docs/PERFORMANCE.md "Latency after idle"). Pure functions; safe
// from any thread.
//
// Debian's libdnnl runs on GNU OpenMP (libgomp). After each parallel region libgomp's threads spin
// GOMP_SPINCOUNT times (default 300,000: libgomp's estimate is 100,000 spins per ms, so ~3 ms;
// 100 when threads outnumber the CPUs), then sleep on a futex. A request after a longer gap wakes
// sleeping workers, which on a VM costs milliseconds; a spinning worker costs a CPU while the
// process waits and, on a shared core, time the neighbour needed. libgomp reads OMP_WAIT_POLICY
// and GOMP_SPINCOUNT once, when it is loaded, before main: the policy is the environment the
// process started with, and the backend option `idle=` states which one a run needs.

#include <cstdint>
#include <string>
#include <string_view>

namespace sonic {

struct OmpIdlePolicy {
  enum class Kind {
    kDefault,  // neither variable set: libgomp's 300,000 spins (~3 ms), then sleep
    kPassive,  // sleep at once (OMP_WAIT_POLICY=passive or GOMP_SPINCOUNT=0)
    kSpin,     // spin `spin_us` (GOMP_SPINCOUNT = 100 per µs), then sleep
    kActive,   // spin without end (OMP_WAIT_POLICY=active or GOMP_SPINCOUNT=infinite)
  };
  Kind kind = Kind::kDefault;
  std::int64_t spin_us = 0;  // kSpin only, > 0
  bool operator==(const OmpIdlePolicy&) const = default;
};

// libgomp's own estimate, used both ways between a duration and GOMP_SPINCOUNT.
inline constexpr std::int64_t kGompSpinsPerMicrosecond = 100;

// Parses the value of `idle=`: "default", "passive", "active" or "spin:<duration>" with a unit
// (us, ms or s, e.g. spin:500us, spin:20ms). Throws Error(kInvalidArgument) naming the forms.
OmpIdlePolicy ParseOmpIdlePolicy(std::string_view text);

// The policy libgomp took from these environment values (null: unset), by libgomp's rules:
// GOMP_SPINCOUNT (a count with an optional k/M/G/T suffix, or "infinite") overrides
// OMP_WAIT_POLICY ("active" or "passive", any case). Values libgomp ignores give kDefault.
OmpIdlePolicy OmpIdlePolicyFromEnvironment(const char* omp_wait_policy, const char* gomp_spincount);

// The canonical text of a policy, as ParseOmpIdlePolicy reads it: "default", "passive",
// "active", "spin:20ms", "spin:500us". What a sweep cell records.
std::string OmpIdlePolicyName(const OmpIdlePolicy& policy);

// The environment that gives `policy` to a process started with it, e.g. "GOMP_SPINCOUNT=2000000"
// or "OMP_WAIT_POLICY=passive"; "" for kDefault (neither variable set).
std::string OmpIdleEnvironment(const OmpIdlePolicy& policy);

}  // namespace sonic
