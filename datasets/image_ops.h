#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace sonic {

// Bilinear resize of one [src_height, src_width] plane into [dst_height, dst_width], with
// half-pixel centres (PyTorch's align_corners=False, OpenCV's INTER_LINEAR) and edge clamping,
// so a constant image stays constant and an identical size is an exact copy.
void ResizeBilinear(std::span<const float> src, std::int64_t src_height, std::int64_t src_width,
                    std::span<float> dst, std::int64_t dst_height, std::int64_t dst_width);

// Converts a [C, H, W] image to another [C', H', W'] shape: each plane resized bilinearly;
// channels copied when C' = C, the single channel replicated when C = 1, averaged into one when
// C' = 1. Throws Error(kUnsupported) for other channel changes and for shapes that are not 3-D.
void ConvertImage(std::span<const float> src, const Shape& src_shape, std::span<float> dst,
                  const Shape& dst_shape);

}  // namespace sonic
