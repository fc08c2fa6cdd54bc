#include "core/parse.h"

#include <charconv>
#include <cmath>
#include <system_error>
#include <type_traits>

#include "core/error.h"

namespace sonic {
namespace {

enum class Parsed { kOk, kInvalid, kOutOfRange };

template <typename T>
Parsed ParseWholeInto(std::string_view text, T& value) {
  const std::string_view trimmed = Trim(text);
  const char* begin = trimmed.data();
  const char* end = trimmed.data() + trimmed.size();
  // from_chars rejects a leading '+', which users write ("+5"); a sign is only allowed once.
  if (trimmed.size() > 1 && trimmed.front() == '+' && trimmed[1] != '-') ++begin;
  const auto [stop, error] = std::from_chars(begin, end, value);
  if (trimmed.empty() || error == std::errc::invalid_argument || stop != end) {
    return Parsed::kInvalid;
  }
  if (error == std::errc::result_out_of_range) return Parsed::kOutOfRange;
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) return Parsed::kOutOfRange;
  }
  return Parsed::kOk;
}

template <typename T>
T ParseWhole(std::string_view text, std::string_view what, std::string_view expected) {
  T value{};
  switch (ParseWholeInto(text, value)) {
    case Parsed::kOk:
      return value;
    case Parsed::kInvalid:
      Throw(ErrorKind::kInvalidArgument, "{}: '{}' is not {}", what, text, expected);
    case Parsed::kOutOfRange:
      break;
  }
  Throw(ErrorKind::kInvalidArgument, "{}: '{}' is out of range for {}", what, text, expected);
}

template <typename T>
std::optional<T> TryParseWhole(std::string_view text) {
  T value{};
  if (ParseWholeInto(text, value) != Parsed::kOk) return std::nullopt;
  return value;
}

}  // namespace

std::int64_t ParseInt(std::string_view text, std::string_view what) {
  return ParseWhole<std::int64_t>(text, what, "an integer");
}

std::uint64_t ParseUnsigned(std::string_view text, std::string_view what) {
  if (Trim(text).starts_with('-')) {
    Throw(ErrorKind::kInvalidArgument, "{}: '{}' is not a non-negative integer", what, text);
  }
  return ParseWhole<std::uint64_t>(text, what, "a non-negative integer");
}

double ParseDouble(std::string_view text, std::string_view what) {
  return ParseWhole<double>(text, what, "a finite number");
}

std::optional<std::int64_t> TryParseInt(std::string_view text) {
  return TryParseWhole<std::int64_t>(text);
}

std::optional<double> TryParseDouble(std::string_view text) { return TryParseWhole<double>(text); }

std::int64_t ParseIntInRange(std::string_view text, std::string_view what, std::int64_t min,
                             std::int64_t max) {
  const std::int64_t value = ParseInt(text, what);
  if (value < min || value > max) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} is out of range: expected {} to {}", what, value,
          min, max);
  }
  return value;
}

std::string_view Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::vector<std::string> SplitList(std::string_view text, std::string_view what, char separator) {
  std::vector<std::string> items;
  for (std::size_t begin = 0; begin <= text.size();) {
    std::size_t end = text.find(separator, begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = Trim(text.substr(begin, end - begin));
    if (item.empty()) Throw(ErrorKind::kInvalidArgument, "{}: empty item in '{}'", what, text);
    items.emplace_back(item);
    begin = end + 1;
  }
  return items;
}

void ThrowUnknownName(std::string_view what, std::string_view text,
                      std::span<const std::string_view> names) {
  std::string expected;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) expected += i + 1 == names.size() ? " or " : ", ";
    expected += names[i];
  }
  Throw(ErrorKind::kInvalidArgument, "unknown {} '{}': expected {}", what, text, expected);
}

}  // namespace sonic
