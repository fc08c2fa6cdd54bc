#include "core/parse.h"

#include <gtest/gtest.h>

#include <limits>

#include "core/error.h"

namespace sonic {
namespace {

std::string MessageOf(auto&& parse) {
  try {
    parse();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
    return error.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(ParseTest, IntegersTakeTheWholeText) {
  EXPECT_EQ(ParseInt("42", "batch"), 42);
  EXPECT_EQ(ParseInt(" -7 ", "batch"), -7);
  EXPECT_EQ(ParseInt("+5", "batch"), 5);
  EXPECT_EQ(ParseInt("9223372036854775807", "x"), std::numeric_limits<std::int64_t>::max());
  for (const char* bad : {"12abc", "", " ", "1.5", "x", "1 2", "--3", "+-3", "0x10"}) {
    EXPECT_NE(MessageOf([&] {
                ParseInt(bad, "max_queue_delay_us");
              }).find(fmt::format("max_queue_delay_us: '{}' is not an integer", bad)),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(MessageOf([] { ParseInt("9223372036854775808", "batch"); }).find("out of range"),
            std::string::npos);
}

TEST(ParseTest, UnsignedRejectsASign) {
  EXPECT_EQ(ParseUnsigned("18446744073709551615", "seed"),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_NE(MessageOf([] { ParseUnsigned("-1", "seed"); }).find("non-negative"), std::string::npos);
}

TEST(ParseTest, DoublesAreFinite) {
  EXPECT_DOUBLE_EQ(ParseDouble("2.5e-3", "rtt_ms"), 2.5e-3);
  EXPECT_DOUBLE_EQ(ParseDouble("7", "rtt_ms"), 7);
  for (const char* bad : {"nan", "inf", "-inf", "1e999", "2.5ms", ""}) {
    EXPECT_FALSE(MessageOf([&] { ParseDouble(bad, "rtt_ms"); }).empty()) << bad;
  }
}

TEST(ParseTest, TryParseFollowsTheSameRulesWithoutThrowing) {
  EXPECT_EQ(TryParseInt(" 12 "), 12);
  EXPECT_EQ(TryParseInt("12abc"), std::nullopt);
  EXPECT_EQ(TryParseInt("99999999999999999999"), std::nullopt);
  EXPECT_EQ(TryParseDouble("2.5"), 2.5);
  EXPECT_EQ(TryParseDouble("nan"), std::nullopt);
  EXPECT_EQ(TryParseDouble(""), std::nullopt);
}

TEST(ParseTest, RangesNameTheBounds) {
  EXPECT_EQ(ParseIntInRange("1024", "port", 1, 65535), 1024);
  EXPECT_NE(MessageOf([] {
              ParseIntInRange("99999", "port", 1, 65535);
            }).find("port: 99999 is out of range: expected 1 to 65535"),
            std::string::npos);
}

TEST(ParseTest, ListsAreTrimmedAndHaveNoEmptyItems) {
  EXPECT_EQ(SplitList(" a, b ,c", "target"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(SplitList("a;b,c", "link", ';'), (std::vector<std::string>{"a", "b,c"}));
  EXPECT_NE(MessageOf([] { SplitList("a,,b", "target"); }).find("target: empty item"),
            std::string::npos);
  EXPECT_EQ(Trim(" \t x \r\n"), "x");
}

enum class Colour { kRed, kGreen, kBlue };
constexpr NameTable<Colour, 3> kColourNames{
    {{Colour::kRed, "red"}, {Colour::kGreen, "green"}, {Colour::kBlue, "blue"}}};

TEST(ParseTest, NamesReadBothWaysAndAnUnknownNameListsTheKnownOnes) {
  for (const auto& [colour, name] : kColourNames) {
    EXPECT_EQ(NameIn(kColourNames, colour), name);
    EXPECT_EQ(ParseNameIn(kColourNames, name, "colour"), colour);
  }
  EXPECT_EQ(MessageOf([] { ParseNameIn(kColourNames, "Red", "colour"); }),
            "unknown colour 'Red': expected red, green or blue");
  EXPECT_EQ(NameIn(kColourNames, static_cast<Colour>(7)), "unknown");
}

}  // namespace
}  // namespace sonic
