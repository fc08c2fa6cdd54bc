#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

}  // namespace sonic
