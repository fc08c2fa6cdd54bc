#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sonic {

// The one place where user text becomes numbers: config values, flags, link and device options,
// environment variables. Every parser takes the whole text (surrounding blanks allowed, nothing
// else): "12abc", "", "1e999" and "nan" are errors. `what` names the value in the message, as the
// user wrote it ("batch", "--port", "rtt_ms"). Throws Error(kInvalidArgument). Pure functions.
std::int64_t ParseInt(std::string_view text, std::string_view what);
std::uint64_t ParseUnsigned(std::string_view text, std::string_view what);
double ParseDouble(std::string_view text, std::string_view what);  // finite

// The same rules without an error: nullopt unless `text` is one whole (finite) number.
std::optional<std::int64_t> TryParseInt(std::string_view text);
std::optional<double> TryParseDouble(std::string_view text);

// ParseInt, then checked against [min, max] inclusive, the message naming the range.
std::int64_t ParseIntInRange(std::string_view text, std::string_view what, std::int64_t min,
                             std::int64_t max);

// Blanks (space, tab, CR, LF) removed from both ends.
std::string_view Trim(std::string_view text);

// Splits on `separator`, trimming each item; an empty item is an error naming `what`.
std::vector<std::string> SplitList(std::string_view text, std::string_view what,
                                   char separator = ',');

// The names of an enum's values: the one table its Name and Parse functions read, so that
// configs, flags and the results file spell each value one way.
template <typename E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

// The name of `value`; "unknown" for a value the table lacks (a bug: tables are complete).
template <typename E, std::size_t N>
constexpr std::string_view NameIn(const NameTable<E, N>& names, E value) {
  for (const auto& [entry, name] : names) {
    if (entry == value) return name;
  }
  return "unknown";
}

// Throws Error(kInvalidArgument): "unknown <what> '<text>': expected a, b or c".
[[noreturn]] void ThrowUnknownName(std::string_view what, std::string_view text,
                                   std::span<const std::string_view> names);

// The value named `text` (whole, case-sensitive); throws as ThrowUnknownName.
template <typename E, std::size_t N>
E ParseNameIn(const NameTable<E, N>& names, std::string_view text, std::string_view what) {
  std::array<std::string_view, N> spelled;
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i].second == text) return names[i].first;
    spelled[i] = names[i].second;
  }
  ThrowUnknownName(what, text, spelled);
}

// A switch spelled as configs and files spell it: "off" | "on".
inline constexpr NameTable<bool, 2> kOnOffNames{{{false, "off"}, {true, "on"}}};

}  // namespace sonic
