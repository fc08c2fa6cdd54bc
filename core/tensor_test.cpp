#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

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

// Asserts that `call` throws Error(kind) whose message holds every fragment.
template <typename Call>
void ExpectError(Call call, ErrorKind kind, const std::vector<std::string>& fragments) {
  try {
    call();
    FAIL() << "no error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(error.kind(), kind) << message;
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' in " << message;
    }
  }
}

TEST(Shape, ElementCountOverflowNamesTheTensor) {
  // 2^40 x 2^30 = 2^70: an unchecked product is undefined behaviour (UBSan stops the asan build).
  const Shape shape{std::int64_t{1} << 40, std::int64_t{1} << 30, 1};
  ExpectError([&] { NumElements(shape, "input 'x'"); }, ErrorKind::kInvalidArgument,
              {"input 'x'", "[1099511627776, 1073741824, 1]", "64 bits"});
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(NumElements(Shape{max, 1}), max);
  EXPECT_THROW(NumElements(Shape{max, 2}), Error);
  EXPECT_EQ(NumElements(Shape{max, 0}), 0);
}

TEST(Shape, NegativeDimensionNamesTheTensorAndTheDimension) {
  ExpectError(
      [] {
        NumElements(Shape{3, -5, 4}, "value 'conv1'");
      },
      ErrorKind::kInvalidArgument, {"value 'conv1'", "[3, -5, 4]", "dimension 1 is -5"});
}

TEST(Shape, CheckedArithmetic) {
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(CheckedMultiply(-3, 4, "x"), -12);
  EXPECT_EQ(CheckedAdd(max - 1, 1, "x"), max);
  ExpectError([&] { CheckedMultiply(max / 2 + 1, 2, "bytes of 'y'"); }, ErrorKind::kInvalidArgument,
              {"bytes of 'y'", "64 bits"});
  ExpectError([&] { CheckedAdd(max, 1, "padded height"); }, ErrorKind::kInvalidArgument,
              {"padded height", "64 bits"});
  ExpectError([&] { CheckedAdd(-max, -2, "padded height"); }, ErrorKind::kInvalidArgument,
              {"padded height"});
}

TEST(AllocateFloats, SizesTheBufferAndChecksTheBytes) {
  EXPECT_EQ(AllocateFloats(Shape{3, 2, 2}, 5, "input 'x'"), std::vector<float>(60, 0.0f));
  // 2^62 floats are 2^64 bytes.
  ExpectError(
      [] {
        AllocateFloats(Shape{std::int64_t{1} << 31, std::int64_t{1} << 31}, 1, "t");
      },
      ErrorKind::kInvalidArgument, {"t", "64 bits"});
  ExpectError([] { AllocateFloats(Shape{2}, -1, "t"); }, ErrorKind::kInvalidArgument, {"batch -1"});
}

TEST(AllocateFloats, OutOfMemoryNamesTheTensorAndTheBytes) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer ends the process on a failed allocation instead of throwing";
#endif
  // 2^49 floats, 2 PiB: more than any address space holds, so the allocation fails everywhere.
  const Shape shape{std::int64_t{1} << 24, std::int64_t{1} << 25};
  ExpectError([&] { AllocateFloats(shape, 1, "input 'x'"); }, ErrorKind::kResourceExhausted,
              {"out of memory", "input 'x'", "[16777216, 33554432]", "2251799813685248 bytes"});
}

}  // namespace
}  // namespace sonic
