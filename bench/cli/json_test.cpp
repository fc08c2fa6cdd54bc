#include "bench/cli/json.h"

#include <gtest/gtest.h>

#include <limits>

namespace sonic::cli {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("line\nnext\ttab\r"), "\"line\\nnext\\ttab\\r\"");
  EXPECT_EQ(JsonQuote(std::string_view("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 passes through
}

TEST(JsonObject, WritesEachTypeAndNests) {
  JsonArray shape;
  shape.Append(std::int64_t{3}).Append(std::int64_t{224});
  JsonObject inner;
  inner.Add("ok", true).Add("none", false);
  JsonObject object;
  object.Add("name", "resnet50")
      .Add("count", 7)
      .Add("macs", std::int64_t{4'089'184'256})
      .Add("ratio", 0.25)
      .Add("shape", shape)
      .Add("inner", inner)
      .AddNull("missing");
  EXPECT_EQ(object.str(),
            "{\"name\":\"resnet50\",\"count\":7,\"macs\":4089184256,\"ratio\":0.25,"
            "\"shape\":[3,224],\"inner\":{\"ok\":true,\"none\":false},\"missing\":null}");
}

TEST(JsonObject, NonFiniteNumbersBecomeNull) {
  JsonObject object;
  object.Add("nan", std::numeric_limits<double>::quiet_NaN())
      .Add("inf", std::numeric_limits<double>::infinity());
  EXPECT_EQ(object.str(), "{\"nan\":null,\"inf\":null}");
  JsonArray array;
  array.Append(std::numeric_limits<double>::infinity()).Append("x");
  EXPECT_EQ(array.str(), "[null,\"x\"]");
}

TEST(JsonObject, EmptyContainers) {
  EXPECT_EQ(JsonObject().str(), "{}");
  EXPECT_EQ(JsonArray().str(), "[]");
}

}  // namespace
}  // namespace sonic::cli
