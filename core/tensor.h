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
DataType ParseDataType(std::string_view text);

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
Precision ParsePrecision(std::string_view text);

// A tensor shape. In the graph IR shapes are per sample (no batch dimension); at the Executable
// seam and on the wire the batch dimension comes first.
using Shape = std::vector<std::int64_t>;

std::string ShapeToString(std::span<const std::int64_t> shape);  // "[3, 224, 224]"

// Shape arithmetic is checked: a model file can declare any dimensions, and a product that
// overflows int64 would be undefined behaviour followed by a wrong message. Each function names
// `what` (e.g. "input 'x'") in its error.

// The product of the dimensions; 1 for a scalar. Throws Error(kInvalidArgument) naming `what` and
// the shape when a dimension is negative or the product does not fit in int64.
std::int64_t NumElements(std::span<const std::int64_t> shape, std::string_view what = "a tensor");
// a × b and a + b; throw Error(kInvalidArgument) naming `what` when the result does not fit in
// int64.
std::int64_t CheckedMultiply(std::int64_t a, std::int64_t b, std::string_view what);
std::int64_t CheckedAdd(std::int64_t a, std::int64_t b, std::string_view what);

// A zero-filled float32 buffer of `batch` samples of `sample_shape` for the tensor `what`. Throws
// Error(kInvalidArgument) when its size overflows, and Error(kResourceExhausted) naming the tensor
// and the bytes asked for when memory runs out (rather than a bare std::bad_alloc).
std::vector<float> AllocateFloats(std::span<const std::int64_t> sample_shape, std::int64_t batch,
                                  std::string_view what);

}  // namespace sonic
