#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sonic {

// Element types that travel on the wire or live inside backends.
enum class DataType : std::uint8_t { kFloat32, kFloat16, kBFloat16, kInt8, kUInt8, kInt32, kInt64 };

std::string_view DataTypeName(DataType type);  // KServe v2 names: "FP32", "BF16", "INT8", ...
std::size_t DataTypeSize(DataType type);       // bytes per element
// Parses a KServe v2 datatype name; throws Error(kInvalidArgument) naming the accepted ones.
DataType ParseDataType(std::string_view name);

// The arithmetic a backend uses inside an Executable. Inputs and outputs at the Executable seam
// are always float32; precision is how the backend computes in between.
enum class Precision : std::uint8_t {
  kFp32,
  kTf32,  // fp32 storage, tensor-float-32 math (GPU only)
  kFp16,
  kBf16,
  kInt8,
  kBfp8,  // block floating point: shared exponent per block, 8-bit mantissas (FPGA-style)
};

std::string_view PrecisionName(Precision precision);  // "fp32", "bf16", "int8", ...
// Parses a precision name; throws Error(kInvalidArgument) naming the accepted ones.
Precision ParsePrecision(std::string_view name);

// A tensor shape. In the graph IR shapes are per sample (no batch dimension); at the Executable
// seam and on the wire the batch dimension comes first.
using Shape = std::vector<std::int64_t>;

std::int64_t NumElements(std::span<const std::int64_t> shape);   // product; 1 for a scalar
std::string ShapeToString(std::span<const std::int64_t> shape);  // "[3, 224, 224]"

}  // namespace sonic
