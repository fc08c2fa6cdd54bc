#include "datasets/pickle.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace sonic {
namespace {

// Attribute values exactly as pandas 1.5 / PyTables 3.7 wrote them for a small frame.
constexpr char kPandasInfo[] =
    "(dp0\nI1\n(dp1\nVnames\np2\n(lp3\nNasVtype\np4\nVIndex\np5\nssVindex\np6\n(dp7\nsVvalues_"
    "block_0\np8\n(dp9\nsVvalues_block_1\np10\n(dp11\ns.";
constexpr char kPandasAxes[] =
    "(lp0\n(I1\n(lp1\nVE_0\np2\naVE_1\np3\naVttv\np4\naVis_signal_new\np5\natp6\na.";

TEST(PickleTest, DecodesPandasColumnOrder) {
  const PickleValue axes = Unpickle(kPandasAxes);
  ASSERT_EQ(axes.type, PickleValue::Type::kList);
  ASSERT_EQ(axes.items.size(), 1u);
  const PickleValue& axis = axes.items[0];
  ASSERT_EQ(axis.type, PickleValue::Type::kTuple);
  EXPECT_EQ(axis.items[0].integer, 1);
  ASSERT_EQ(axis.items[1].items.size(), 4u);
  EXPECT_EQ(axis.items[1].items[3].text, "is_signal_new");
}

TEST(PickleTest, WritesWhatPandasWrites) {
  Pickler axes;
  axes.BeginList().Mark().Int(1).BeginList();
  for (const char* name : {"E_0", "E_1", "ttv", "is_signal_new"}) axes.Text(name).Append();
  axes.EndTuple().Append();
  EXPECT_EQ(axes.Finish(), kPandasAxes);

  Pickler info;
  info.BeginDict().Int(1).BeginDict().Text("names").BeginList().None().Append().SetItem();
  info.Text("type").Text("Index").SetItem().SetItem();
  info.Text("index").BeginDict().SetItem();
  info.Text("values_block_0").BeginDict().SetItem();
  info.Text("values_block_1").BeginDict().SetItem();
  EXPECT_EQ(info.Finish(), kPandasInfo);
  EXPECT_EQ(Unpickle(kPandasInfo).items.size(), 8u);  // four key/value pairs
}

TEST(PickleTest, TextRoundTripsThroughEscapes) {
  const std::vector<std::string> names = {"plain", "back\\slash", "new\nline", "caf\xc3\xa9",
                                          "\xe2\x82\xac"};  // é (Latin-1 range), € (escaped)
  const std::string pickled = PickleTextList(names);
  const PickleValue back = Unpickle(pickled);
  ASSERT_EQ(back.items.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(back.items[i].text, names[i]);
  EXPECT_NE(pickled.find("\\u20ac"), std::string::npos);
}

TEST(PickleTest, ReadsPython2Strings) {
  // Python 2's protocol 0 writes byte strings with the STRING opcode, quoted.
  const PickleValue value = Unpickle("(lp1\nS'E_0'\np2\naS'it\\'s'\np3\na.");
  ASSERT_EQ(value.items.size(), 2u);
  EXPECT_EQ(value.items[0].text, "E_0");
  EXPECT_EQ(value.items[1].text, "it's");
}

TEST(PickleTest, RejectsWhatItCannotRead) {
  EXPECT_THROW(Unpickle("(lp0\nVE_0\np1\na"), Error);  // no STOP
  EXPECT_THROW(Unpickle("\x80\x04]."), Error);         // protocol 4
  EXPECT_THROW(Unpickle("a."), Error);                 // underflow
}

}  // namespace
}  // namespace sonic
