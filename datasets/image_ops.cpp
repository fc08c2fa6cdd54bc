#include "datasets/image_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace sonic {

void ResizeBilinear(std::span<const float> src, std::int64_t src_height, std::int64_t src_width,
                    std::span<float> dst, std::int64_t dst_height, std::int64_t dst_width) {
  if (src_height == dst_height && src_width == dst_width) {
    std::copy(src.begin(), src.begin() + src_height * src_width, dst.begin());
    return;
  }
  const double scale_y = static_cast<double>(src_height) / dst_height;
  const double scale_x = static_cast<double>(src_width) / dst_width;
  // Column weights are the same for every row: compute them once.
  std::vector<std::int64_t> x0(dst_width), x1(dst_width);
  std::vector<float> wx(dst_width);
  for (std::int64_t x = 0; x < dst_width; ++x) {
    const double source =
        std::clamp((x + 0.5) * scale_x - 0.5, 0.0, static_cast<double>(src_width - 1));
    x0[x] = static_cast<std::int64_t>(source);
    x1[x] = std::min(x0[x] + 1, src_width - 1);
    wx[x] = static_cast<float>(source - x0[x]);
  }
  for (std::int64_t y = 0; y < dst_height; ++y) {
    const double source =
        std::clamp((y + 0.5) * scale_y - 0.5, 0.0, static_cast<double>(src_height - 1));
    const auto y0 = static_cast<std::int64_t>(source);
    const std::int64_t y1 = std::min(y0 + 1, src_height - 1);
    const auto wy = static_cast<float>(source - y0);
    const float* row0 = src.data() + y0 * src_width;
    const float* row1 = src.data() + y1 * src_width;
    float* out = dst.data() + y * dst_width;
    for (std::int64_t x = 0; x < dst_width; ++x) {
      const float top = row0[x0[x]] + wx[x] * (row0[x1[x]] - row0[x0[x]]);
      const float bottom = row1[x0[x]] + wx[x] * (row1[x1[x]] - row1[x0[x]]);
      out[x] = top + wy * (bottom - top);
    }
  }
}

void ConvertImage(std::span<const float> src, const Shape& src_shape, std::span<float> dst,
                  const Shape& dst_shape) {
  if (src_shape.size() != 3 || dst_shape.size() != 3) {
    Throw(ErrorKind::kUnsupported, "image conversion needs [C, H, W] shapes, got {} -> {}",
          ShapeToString(src_shape), ShapeToString(dst_shape));
  }
  const std::int64_t src_channels = src_shape[0], dst_channels = dst_shape[0];
  const std::int64_t src_plane = src_shape[1] * src_shape[2];
  const std::int64_t dst_plane = dst_shape[1] * dst_shape[2];
  if (static_cast<std::int64_t>(src.size()) != NumElements(src_shape) ||
      static_cast<std::int64_t>(dst.size()) != NumElements(dst_shape)) {
    Throw(ErrorKind::kInternal, "ConvertImage: buffer sizes do not match the shapes");
  }
  auto resize = [&](std::span<const float> plane, std::int64_t channel) {
    ResizeBilinear(plane, src_shape[1], src_shape[2], dst.subspan(channel * dst_plane, dst_plane),
                   dst_shape[1], dst_shape[2]);
  };
  if (src_channels == dst_channels) {
    for (std::int64_t c = 0; c < src_channels; ++c)
      resize(src.subspan(c * src_plane, src_plane), c);
  } else if (src_channels == 1) {
    resize(src.first(src_plane), 0);
    for (std::int64_t c = 1; c < dst_channels; ++c) {
      std::copy(dst.begin(), dst.begin() + dst_plane, dst.begin() + c * dst_plane);
    }
  } else if (dst_channels == 1) {
    std::vector<float> mean(src_plane, 0.0f);
    for (std::int64_t c = 0; c < src_channels; ++c) {
      for (std::int64_t i = 0; i < src_plane; ++i) mean[i] += src[c * src_plane + i];
    }
    for (float& v : mean) v /= static_cast<float>(src_channels);
    resize(mean, 0);
  } else {
    Throw(ErrorKind::kUnsupported, "cannot map {} image channels onto {}", src_channels,
          dst_channels);
  }
}

}  // namespace sonic
