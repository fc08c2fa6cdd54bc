#include "core/tensor.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace sonic {
namespace {

TEST(DataType, NamesRoundTripAndSizesMatchKServe) {
  for (DataType type : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16,
                        DataType::kInt8, DataType::kUInt8, DataType::kInt32, DataType::kInt64}) {
    EXPECT_EQ(ParseDataType(DataTypeName(type)), type);
  }
  EXPECT_EQ(DataTypeSize(DataType::kFloat32), 4u);
  EXPECT_EQ(DataTypeSize(DataType::kBFloat16), 2u);
  EXPECT_EQ(DataTypeSize(DataType::kInt64), 8u);
}

TEST(DataType, UnknownNameListsTheAcceptedOnes) {
  try {
    ParseDataType("FLOAT");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("FLOAT"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("FP32"), std::string::npos);
  }
}

TEST(Precision, ParsesEveryNameItPrints) {
  for (Precision p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16,
                      Precision::kInt8, Precision::kBfp8}) {
    EXPECT_EQ(ParsePrecision(PrecisionName(p)), p);
  }
  EXPECT_THROW(ParsePrecision("float"), Error);
}

TEST(Shape, ElementCountAndText) {
  const Shape shape{3, 224, 224};
  EXPECT_EQ(NumElements(shape), 150528);
  EXPECT_EQ(NumElements(Shape{}), 1);
  EXPECT_EQ(ShapeToString(shape), "[3, 224, 224]");
}

}  // namespace
}  // namespace sonic
