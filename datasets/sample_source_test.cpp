#include "datasets/sample_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "datasets/nova.h"
#include "datasets/top_tagging.h"

namespace sonic {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("sonic_source_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(DatasetInputSourceTest, JetsBecomeImagesOfTheModelShape) {
  const std::string path = TempPath("jets.h5");
  const auto jets = GenerateTopTaggingJets(10, 2);
  WriteTopTaggingFile(path, jets);
  EXPECT_EQ(DetectDatasetKind(path), "top-tagging");
  for (const Shape& shape : {Shape{3, 224, 224}, Shape{1, 40, 40}}) {
    const DatasetInputSource source(path, shape, 8);
    EXPECT_EQ(source.size(), 8);
    EXPECT_NE(source.name().find("top-tagging"), std::string::npos) << source.name();
    EXPECT_NE(source.name().find(path), std::string::npos);
    // Sample 9 wraps to sample 1: the same image as the jet made directly.
    std::vector<float> sample(NumElements(shape));
    source.Sample(9, sample);
    JetImageOptions options;
    options.channels = shape[0];
    options.height = shape[1];
    options.width = shape[2];
    JetImager imager(options);
    std::vector<float> direct(imager.image_size());
    imager.Make(jets[1].constituents, direct);
    EXPECT_EQ(sample, direct);
    EXPECT_EQ(source.label(9), 0);  // jet 1 is QCD
    std::vector<float> wrong(10);
    EXPECT_THROW(source.Sample(0, wrong), Error);
  }
  EXPECT_THROW(DatasetInputSource(path, Shape{1000}), Error);
  std::filesystem::remove(path);
}

TEST(DatasetInputSourceTest, NovaAndCachedImageSetsToo) {
  const std::string nova = TempPath("nova.h5");
  WriteNovaFile(nova, GenerateNovaEvents(4, 1));
  const DatasetInputSource events(nova, {3, 224, 224});
  EXPECT_EQ(events.size(), 4);
  EXPECT_EQ(events.label(1), 1);

  // Cache NOvA images at their native 100x80 and let the source resize them for ResNet-50.
  const std::string cached = TempPath("images.h5");
  WriteImageSet(cached, LoadImages(nova, {3, kNovaPlanes, kNovaCells}));
  EXPECT_EQ(DetectDatasetKind(cached), "images");
  const DatasetInputSource images(cached, {3, 224, 224});
  std::vector<float> from_cache(std::size_t{3} * 224 * 224), direct(std::size_t{3} * 224 * 224);
  images.Sample(2, from_cache);
  events.Sample(2, direct);
  for (std::size_t i = 0; i < direct.size(); ++i) ASSERT_NEAR(from_cache[i], direct[i], 1e-5f);
  EXPECT_NE(images.name().find("converted from [3, 100, 80]"), std::string::npos) << images.name();
  std::filesystem::remove(nova);
  std::filesystem::remove(cached);
}

}  // namespace
}  // namespace sonic
