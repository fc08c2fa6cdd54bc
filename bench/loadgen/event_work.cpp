#include "bench/loadgen/event_work.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/clock.h"
#include "core/error.h"
#include "core/parse.h"

namespace sonic {
namespace {

constexpr double kMaxWorkMs = 1e6;
constexpr double kMaxCv = 10;

// One step of a dependent chain the compiler can neither vectorise nor remove: the work is its
// length, whatever the core's width.
double Chain(std::int64_t steps) {
  double x = 1.0;
  for (std::int64_t i = 0; i < steps; ++i) {
    x = x * 0.999999 + 1e-6;
    asm volatile("" : "+x"(x));
  }
  return x;
}

// Steps of Chain per ns of this thread's CPU time: the best of several short runs, so that an
// interruption during calibration does not shorten every later event's work.
double MeasureStepsPerNs() {
  constexpr std::int64_t kSteps = 1 << 20;
  double best = 0;
  for (int run = 0; run < 12; ++run) {
    const std::int64_t start = ThreadCpuNs();
    Chain(kSteps);
    const std::int64_t spent = std::max<std::int64_t>(1, ThreadCpuNs() - start);
    best = std::max(best, static_cast<double>(kSteps) / static_cast<double>(spent));
  }
  return best;
}

double StepsPerNs() {
  static const double steps_per_ns = MeasureStepsPerNs();
  return steps_per_ns;
}

}  // namespace

EventWork ParseEventWork(std::string_view text) {
  text = Trim(text);
  EventWork work;
  if (text == "none") return work;
  const std::size_t colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  if (colon != std::string_view::npos && (kind == "cpu" || kind == "elsewhere")) {
    const std::optional<double> ms = TryParseDouble(text.substr(colon + 1));
    if (ms && *ms >= 0 && *ms <= kMaxWorkMs) {
      work.kind = kind == "cpu" ? EventWork::Kind::kCpu : EventWork::Kind::kElsewhere;
      work.mean_ms = *ms;
      return work;
    }
  }
  Throw(ErrorKind::kInvalidArgument,
        "event_work '{}': expected none, cpu:MS (this machine's CPU) or elsewhere:MS (wall time "
        "without this machine's CPU), MS in ms from 0 to {:g}, e.g. elsewhere:20",
        text, kMaxWorkMs);
}

void ParseEventWorkSpread(std::string_view text, EventWork& work) {
  text = Trim(text);
  if (text == "fixed") {
    work.spread = EventWork::Spread::kFixed;
    return;
  }
  if (text == "exponential") {
    work.spread = EventWork::Spread::kExponential;
    return;
  }
  if (text.starts_with("lognormal:")) {
    const std::optional<double> cv = TryParseDouble(text.substr(10));
    if (cv && *cv > 0 && *cv <= kMaxCv) {
      work.spread = EventWork::Spread::kLognormal;
      work.cv = *cv;
      return;
    }
  }
  Throw(ErrorKind::kInvalidArgument,
        "event_work_spread '{}': expected fixed, exponential or lognormal:CV (the coefficient of "
        "variation, more than 0 and at most {:g}), e.g. lognormal:0.5",
        text, kMaxCv);
}

std::string EventWorkName(const EventWork& work) {
  switch (work.kind) {
    case EventWork::Kind::kCpu:
      return fmt::format("cpu:{:g}", work.mean_ms);
    case EventWork::Kind::kElsewhere:
      return fmt::format("elsewhere:{:g}", work.mean_ms);
    case EventWork::Kind::kNone:
      break;
  }
  return "none";
}

std::string EventWorkSpreadName(const EventWork& work) {
  switch (work.spread) {
    case EventWork::Spread::kExponential:
      return "exponential";
    case EventWork::Spread::kLognormal:
      return fmt::format("lognormal:{:g}", work.cv);
    case EventWork::Spread::kFixed:
      break;
  }
  return "fixed";
}

WorkSampler::WorkSampler(const EventWork& work, std::uint64_t seed) : work_(work), random_(seed) {
  if (work_.spread == EventWork::Spread::kLognormal) {
    // Mean m and coefficient of variation c: sigma^2 = ln(1 + c^2), mu = ln(m) - sigma^2 / 2.
    const double variance = std::log1p(work_.cv * work_.cv);
    sigma_ = std::sqrt(variance);
    mu_ = std::log(std::max(work_.mean_ms * 1e6, 1.0)) - variance / 2;
  }
}

std::int64_t WorkSampler::NextNs() {
  if (work_.kind == EventWork::Kind::kNone || work_.mean_ms <= 0) return 0;
  const double mean_ns = work_.mean_ms * 1e6;
  double ns = mean_ns;
  switch (work_.spread) {
    case EventWork::Spread::kExponential:
      ns = random_.Exponential(1.0 / mean_ns);
      break;
    case EventWork::Spread::kLognormal:
      ns = std::exp(mu_ + sigma_ * random_.Normal());
      break;
    case EventWork::Spread::kFixed:
      break;
  }
  return std::llround(std::min(ns, kMaxWorkMs * 1e6 * 100));
}

void BurnCpu(std::int64_t ns) {
  if (ns <= 0) return;
  Chain(std::llround(static_cast<double>(ns) * StepsPerNs()));
}

void CalibrateCpuWork() { StepsPerNs(); }

}  // namespace sonic
