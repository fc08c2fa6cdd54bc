#include "core/tensor.h"

#include <array>
#include <utility>

#include "core/error.h"

namespace sonic {
namespace {

constexpr std::array<std::pair<DataType, std::string_view>, 7> kDataTypeNames{{
    {DataType::kFloat32, "FP32"},
    {DataType::kFloat16, "FP16"},
    {DataType::kBFloat16, "BF16"},
    {DataType::kInt8, "INT8"},
    {DataType::kUInt8, "UINT8"},
    {DataType::kInt32, "INT32"},
    {DataType::kInt64, "INT64"},
}};

constexpr std::array<std::pair<Precision, std::string_view>, 6> kPrecisionNames{{
    {Precision::kFp32, "fp32"},
    {Precision::kTf32, "tf32"},
    {Precision::kFp16, "fp16"},
    {Precision::kBf16, "bf16"},
    {Precision::kInt8, "int8"},
    {Precision::kBfp8, "bfp8"},
}};

template <typename Enum, std::size_t N>
std::string JoinNames(const std::array<std::pair<Enum, std::string_view>, N>& names) {
  std::string joined;
  for (const auto& [value, name] : names) {
    if (!joined.empty()) joined += ", ";
    joined += name;
  }
  return joined;
}

}  // namespace

std::string_view DataTypeName(DataType type) {
  for (const auto& [value, name] : kDataTypeNames) {
    if (value == type) return name;
  }
  return "UNKNOWN";
}

std::size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFloat32:
    case DataType::kInt32:
      return 4;
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return 2;
    case DataType::kInt8:
    case DataType::kUInt8:
      return 1;
    case DataType::kInt64:
      return 8;
  }
  return 0;
}

DataType ParseDataType(std::string_view text) {
  for (const auto& [value, name] : kDataTypeNames) {
    if (name == text) return value;
  }
  Throw(ErrorKind::kInvalidArgument, "unknown datatype '{}': expected one of {}", text,
        JoinNames(kDataTypeNames));
}

std::string_view PrecisionName(Precision precision) {
  for (const auto& [value, name] : kPrecisionNames) {
    if (value == precision) return name;
  }
  return "unknown";
}

Precision ParsePrecision(std::string_view text) {
  for (const auto& [value, name] : kPrecisionNames) {
    if (name == text) return value;
  }
  Throw(ErrorKind::kInvalidArgument, "unknown precision '{}': expected one of {}", text,
        JoinNames(kPrecisionNames));
}

std::int64_t NumElements(std::span<const std::int64_t> shape) {
  std::int64_t count = 1;
  for (std::int64_t dim : shape) count *= dim;
  return count;
}

std::string ShapeToString(std::span<const std::int64_t> shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace sonic
