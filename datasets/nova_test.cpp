#include "datasets/nova.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "core/error.h"

namespace sonic {
namespace {

// Planes between the first and the last with at least 3 MeV in either view.
std::int64_t LongitudinalExtent(const NovaEvent& event) {
  std::int64_t first = -1, last = -1;
  for (std::int64_t plane = 0; plane < kNovaPlanes; ++plane) {
    float sum = 0;
    for (std::int64_t cell = 0; cell < kNovaCells; ++cell) {
      sum =
          std::max({sum, event.xz[plane * kNovaCells + cell], event.yz[plane * kNovaCells + cell]});
    }
    if (sum >= 3.0f) {
      if (first < 0) first = plane;
      last = plane;
    }
  }
  return first < 0 ? 0 : last - first;
}

std::int64_t Hits(const NovaEvent& event) {
  return std::count_if(event.xz.begin(), event.xz.end(), [](float e) { return e > 0.5f; }) +
         std::count_if(event.yz.begin(), event.yz.end(), [](float e) { return e > 0.5f; });
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

TEST(NovaTest, TopologiesDifferAsThePhysicsSays) {
  NovaGenerator generator(5);
  std::vector<double> extent[3], hits[3];
  for (int i = 0; i < 300; ++i) {
    for (int c = 0; c < 3; ++c) {
      const NovaEvent event = generator.Next(static_cast<NovaClass>(c));
      ASSERT_EQ(event.xz.size(), static_cast<std::size_t>(kNovaPlanes * kNovaCells));
      extent[c].push_back(static_cast<double>(LongitudinalExtent(event)));
      hits[c].push_back(static_cast<double>(Hits(event)));
    }
  }
  const double numu = Median(extent[0]), nue = Median(extent[1]), nc = Median(extent[2]);
  // A muon track crosses most of the detector; a shower is shorter; NC activity shortest.
  EXPECT_GT(numu, 60);
  EXPECT_GT(numu, nue);
  EXPECT_GT(nue, nc);
  // A shower lights up many more cells than a track of similar length.
  EXPECT_GT(Median(hits[1]), 1.2 * Median(hits[0]));
}

TEST(NovaTest, FileRoundTripAndImageMapping) {
  const auto path = (std::filesystem::temp_directory_path() /
                     ("sonic_nova_" + std::to_string(::getpid()) + ".h5"))
                        .string();
  const auto events = GenerateNovaEvents(7, 3);
  WriteNovaFile(path, events);
  const auto back = ReadNovaFile(path, 2, 3);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].label, NovaClass::kNC);  // classes cycle, event 2 is NC
  EXPECT_EQ(back[1].xz, events[3].xz);
  EXPECT_EQ(back[2].yz, events[4].yz);
  std::filesystem::remove(path);

  const Shape shape = {3, 224, 224};
  std::vector<float> image(std::size_t{3} * 224 * 224);
  NovaToImage(events[0], shape, image);
  const std::size_t plane = std::size_t{224} * 224;
  const float peak = *std::max_element(image.begin(), image.end());
  EXPECT_LE(peak, 1.0f + 1e-6f);
  EXPECT_GT(peak, 0.2f);
  for (std::size_t i = 0; i < plane; ++i) {
    // Bilinear interpolation is linear: the mean channel is the mean of the resized views.
    ASSERT_NEAR(image[2 * plane + i], 0.5f * (image[i] + image[plane + i]), 1e-6f);
  }
  std::vector<float> one(std::size_t{224} * 224);
  NovaToImage(events[0], {1, 224, 224}, one);
  EXPECT_TRUE(std::equal(one.begin(), one.end(), image.begin() + 2 * plane));
  EXPECT_THROW(NovaToImage(events[0], {2, 224, 224}, image), Error);
}

}  // namespace
}  // namespace sonic
