#include "core/tensor.h"

#include <array>
#include <new>
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

std::string ShapeToString(std::span<const std::int64_t> shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::int64_t NumElements(std::span<const std::int64_t> shape, std::string_view what) {
  std::int64_t count = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) {
      Throw(ErrorKind::kInvalidArgument, "{} has shape {}: dimension {} is {}, expected 0 or more",
            what, ShapeToString(shape), d, shape[d]);
    }
    if (__builtin_mul_overflow(count, shape[d], &count)) {
      Throw(ErrorKind::kInvalidArgument,
            "{} has shape {}: its element count does not fit in 64 bits", what,
            ShapeToString(shape));
    }
  }
  return count;
}

std::int64_t CheckedMultiply(std::int64_t a, std::int64_t b, std::string_view what) {
  std::int64_t product;
  if (__builtin_mul_overflow(a, b, &product)) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} x {} does not fit in 64 bits", what, a, b);
  }
  return product;
}

std::int64_t CheckedAdd(std::int64_t a, std::int64_t b, std::string_view what) {
  std::int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} + {} does not fit in 64 bits", what, a, b);
  }
  return sum;
}

std::vector<float> AllocateFloats(std::span<const std::int64_t> sample_shape, std::int64_t batch,
                                  std::string_view what) {
  if (batch < 0) Throw(ErrorKind::kInvalidArgument, "{}: batch {} is negative", what, batch);
  const std::int64_t count = CheckedMultiply(batch, NumElements(sample_shape, what), what);
  const std::int64_t bytes = CheckedMultiply(count, sizeof(float), what);
  try {
    return std::vector<float>(static_cast<std::size_t>(count));
  } catch (const std::bad_alloc&) {
    Throw(ErrorKind::kResourceExhausted,
          "out of memory allocating {}: {} x {} FP32 is {} bytes ({:.1f} GiB)", what, batch,
          ShapeToString(sample_shape), bytes, static_cast<double>(bytes) / (1 << 30));
  }
}

}  // namespace sonic
