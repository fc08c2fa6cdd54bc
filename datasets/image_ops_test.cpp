#include "datasets/image_ops.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"

namespace sonic {
namespace {

TEST(ResizeBilinearTest, ConstantStaysConstantAndSameSizeCopies) {
  std::vector<float> src(std::size_t{100} * 80, 0.25f);
  std::vector<float> dst(std::size_t{224} * 224);
  ResizeBilinear(src, 100, 80, dst, 224, 224);
  for (float v : dst) ASSERT_FLOAT_EQ(v, 0.25f);
  std::vector<float> ramp(6);
  for (int i = 0; i < 6; ++i) ramp[i] = static_cast<float>(i);
  std::vector<float> same(6);
  ResizeBilinear(ramp, 2, 3, same, 2, 3);
  EXPECT_EQ(same, ramp);
}

TEST(ResizeBilinearTest, UpsamplingALinearRampStaysLinearInside) {
  // Half-pixel centres: doubling a ramp 0..3 gives -0.25 steps clamped at the edges.
  const std::vector<float> src = {0, 1, 2, 3};
  std::vector<float> dst(8);
  ResizeBilinear(src, 1, 4, dst, 1, 8);
  const std::vector<float> expected = {0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3};
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(dst[i], expected[i]);
}

TEST(ConvertImageTest, ChannelsReplicateAverageOrFail) {
  const std::vector<float> one = {1, 2, 3, 4};
  std::vector<float> three(12);
  ConvertImage(one, {1, 2, 2}, three, {3, 2, 2});
  EXPECT_EQ(std::vector<float>(three.begin() + 8, three.end()), one);
  std::vector<float> back(4);
  ConvertImage(three, {3, 2, 2}, back, {1, 2, 2});
  EXPECT_EQ(back, one);
  std::vector<float> two(8);
  EXPECT_THROW(ConvertImage(three, {3, 2, 2}, two, {2, 2, 2}), Error);
  EXPECT_THROW(ConvertImage(one, {4}, back, {4}), Error);
}

}  // namespace
}  // namespace sonic
