#include "backends/onednn/onednn_idle.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <limits>

#include "core/error.h"

namespace sonic {
namespace {

constexpr std::string_view kForms =
    "expected idle=default, idle=passive, idle=active or idle=spin:<duration> with a unit (us, ms "
    "or s, e.g. idle=spin:20ms)";

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A whole decimal number; false when `text` is not one or overflows.
bool ParseCount(std::string_view text, std::int64_t& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty() && value >= 0;
}

}  // namespace

OmpIdlePolicy ParseOmpIdlePolicy(std::string_view text) {
  if (text == "default") return {};
  if (text == "passive") return {OmpIdlePolicy::Kind::kPassive, 0};
  if (text == "active") return {OmpIdlePolicy::Kind::kActive, 0};
  if (text.starts_with("spin:")) {
    const std::string_view duration = text.substr(5);
    struct Unit {
      std::string_view suffix;
      std::int64_t us;
    };
    for (const Unit unit : {Unit{"us", 1}, Unit{"ms", 1000}, Unit{"s", 1000000}}) {
      if (!duration.ends_with(unit.suffix)) continue;
      std::int64_t count = 0;
      if (!ParseCount(duration.substr(0, duration.size() - unit.suffix.size()), count)) break;
      if (count == 0 ||
          count > std::numeric_limits<std::int64_t>::max() / unit.us / kGompSpinsPerMicrosecond) {
        Throw(ErrorKind::kInvalidArgument,
              "onednn: idle={}: the spin must last more than 0 and at most hours ({}; "
              "idle=passive sleeps at once)",
              text, kForms);
      }
      return {OmpIdlePolicy::Kind::kSpin, count * unit.us};
    }
  }
  Throw(ErrorKind::kInvalidArgument, "onednn: unknown idle policy 'idle={}': {}", text, kForms);
}

OmpIdlePolicy OmpIdlePolicyFromEnvironment(const char* omp_wait_policy,
                                           const char* gomp_spincount) {
  if (gomp_spincount != nullptr) {
    const std::string value = Lower(gomp_spincount);
    if (value == "infinite" || value == "infinity") return {OmpIdlePolicy::Kind::kActive, 0};
    std::string_view digits = value;
    std::int64_t scale = 1;
    if (!digits.empty()) {
      switch (digits.back()) {
        case 'k':
          scale = 1000;
          break;
        case 'm':
          scale = 1000000;
          break;
        case 'g':
          scale = 1000000000;
          break;
        case 't':
          scale = 1000000000000;
          break;
      }
      if (scale != 1) digits.remove_suffix(1);
    }
    std::int64_t count = 0;
    if (ParseCount(digits, count) && count <= std::numeric_limits<std::int64_t>::max() / scale) {
      count *= scale;
      if (count == 0) return {OmpIdlePolicy::Kind::kPassive, 0};
      return {OmpIdlePolicy::Kind::kSpin,
              std::max<std::int64_t>(1, count / kGompSpinsPerMicrosecond)};
    }
  }
  if (omp_wait_policy != nullptr) {
    const std::string value = Lower(omp_wait_policy);
    if (value == "active") return {OmpIdlePolicy::Kind::kActive, 0};
    if (value == "passive") return {OmpIdlePolicy::Kind::kPassive, 0};
  }
  return {};
}

std::string OmpIdlePolicyName(const OmpIdlePolicy& policy) {
  switch (policy.kind) {
    case OmpIdlePolicy::Kind::kDefault:
      return "default";
    case OmpIdlePolicy::Kind::kPassive:
      return "passive";
    case OmpIdlePolicy::Kind::kActive:
      return "active";
    case OmpIdlePolicy::Kind::kSpin:
      if (policy.spin_us % 1000000 == 0) return fmt::format("spin:{}s", policy.spin_us / 1000000);
      if (policy.spin_us % 1000 == 0) return fmt::format("spin:{}ms", policy.spin_us / 1000);
      return fmt::format("spin:{}us", policy.spin_us);
  }
  return "default";
}

std::string OmpIdleEnvironment(const OmpIdlePolicy& policy) {
  switch (policy.kind) {
    case OmpIdlePolicy::Kind::kDefault:
      return "";
    case OmpIdlePolicy::Kind::kPassive:
      return "OMP_WAIT_POLICY=passive";
    case OmpIdlePolicy::Kind::kActive:
      return "OMP_WAIT_POLICY=active";
    case OmpIdlePolicy::Kind::kSpin:
      return fmt::format("GOMP_SPINCOUNT={}", policy.spin_us * kGompSpinsPerMicrosecond);
  }
  return "";
}

}  // namespace sonic
