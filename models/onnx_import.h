#pragma once

#include <filesystem>
#include <string_view>

#include "models/graph.h"

namespace sonic {

// Imports an ONNX model (a serialized onnx::ModelProto, parsed with Debian's libonnx) into the
// graph IR, with batch norm folded into the preceding convolutions and shapes inferred.
//
// The model must have exactly one real input (graph inputs that are initializers are skipped, as
// older exporters list them) and one output, both float32. The input's first dimension is the
// batch dimension, symbolic or not; the per-sample shape is the rest and must be fixed. A declared
// dimension (dim_value) of 0 or less is malformed, never symbolic; shape arithmetic is checked, so
// an element count that overflows int64 is an error naming the tensor.
//
// Supported ops (default domain): Conv (2-D; strides, pads, dilations, group, auto_pad, bias),
// BatchNormalization (inference), Relu, MaxPool and AveragePool (2-D; count_include_pad,
// auto_pad), GlobalAveragePool, Add (equal shapes, both operands computed; or a constant bias
// after MatMul), Flatten (axis 1), Gemm (transA 0, transB 0 or 1, alpha, beta, a bias that does
// not vary along the batch), MatMul by a constant matrix, Softmax (rank 2, feature axis),
// Identity, Dropout (inference), Reshape to [batch, -1] (a flatten), and Constant nodes feeding
// parameters or shapes. Weights are initializers or Constants of type FLOAT, in raw_data or
// float_data.
//
// Errors carry the source name. An op, attribute or attribute value outside that subset throws
// Error(kUnsupported) naming the node, its op and the attribute; a malformed model throws
// Error(kInvalidArgument); a missing file Error(kNotFound); a read failure Error(kIo).
Graph ImportOnnx(const std::filesystem::path& file);
Graph ImportOnnx(std::string_view serialized_model, std::string_view source_name);

}  // namespace sonic
