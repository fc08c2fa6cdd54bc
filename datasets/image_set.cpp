#include "datasets/image_set.h"

#include <algorithm>

#include "core/error.h"
#include "core/hdf5.h"
#include "core/version.h"

namespace sonic {

std::span<const float> ImageSet::Image(std::int64_t index) const {
  const auto floats = static_cast<std::size_t>(NumElements(sample_shape));
  return std::span<const float>(images).subspan(index * floats, floats);
}

void WriteImageSet(const std::string& path, const ImageSet& set) {
  if (set.sample_shape.size() != 3) {
    Throw(ErrorKind::kInvalidArgument, "image set shape {} is not [C, H, W]",
          ShapeToString(set.sample_shape));
  }
  const auto floats = static_cast<std::size_t>(NumElements(set.sample_shape));
  if (set.images.size() != floats * set.labels.size()) {
    Throw(ErrorKind::kInternal, "image set holds {} floats for {} labels of shape {}",
          set.images.size(), set.labels.size(), ShapeToString(set.sample_shape));
  }
  h5::Handle file = h5::CreateFile(path);
  const hid_t root = file.get();
  h5::WriteStringAttribute(root, "sonic_dataset", "images");
  h5::WriteStringAttribute(root, "kind", set.kind);
  h5::WriteStringAttribute(root, "source", set.source);
  h5::WriteStringAttribute(root, "preprocessing", set.preprocessing);
  h5::WriteStringAttribute(root, "class_names", set.class_names);
  h5::WriteStringAttribute(root, "sonicbench_version", kVersion);

  const hsize_t dims[4] = {set.labels.size(), static_cast<hsize_t>(set.sample_shape[0]),
                           static_cast<hsize_t>(set.sample_shape[1]),
                           static_cast<hsize_t>(set.sample_shape[2])};
  h5::Handle space = h5::Check(H5Screate_simple(4, dims, nullptr), "H5Screate_simple");
  h5::Handle properties = h5::Check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
  if (!set.labels.empty()) {
    // One image per chunk: a reader that wants the first images reads only those.
    const hsize_t chunk[4] = {1, dims[1], dims[2], dims[3]};
    h5::CheckStatus(H5Pset_chunk(properties.get(), 4, chunk), "H5Pset_chunk");
  }
  h5::Handle images = h5::Check(H5Dcreate2(root, "images", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                                           properties.get(), H5P_DEFAULT),
                                path + ": creating images");
  h5::CheckStatus(
      H5Dwrite(images.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, set.images.data()),
      path + ": writing images");
  h5::Handle label_space = h5::Check(H5Screate_simple(1, dims, nullptr), "H5Screate_simple");
  h5::Handle labels = h5::Check(H5Dcreate2(root, "labels", H5T_STD_I32LE, label_space.get(),
                                           H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                path + ": creating labels");
  h5::CheckStatus(
      H5Dwrite(labels.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, set.labels.data()),
      path + ": writing labels");
}

ImageSet ReadImageSet(const std::string& path, std::int64_t max_images) {
  h5::Handle file = h5::OpenFileForReading(path);
  const hid_t root = file.get();
  if (h5::ReadStringAttribute(root, "sonic_dataset").value_or("") != "images" ||
      !h5::Exists(root, "images") || !h5::Exists(root, "labels")) {
    Throw(ErrorKind::kInvalidArgument,
          "{}: not a sonicbench image set (expected datasets 'images' and 'labels' and "
          "attribute sonic_dataset = 'images')",
          path);
  }
  ImageSet set;
  set.kind = h5::ReadStringAttribute(root, "kind").value_or("");
  set.source = h5::ReadStringAttribute(root, "source").value_or("");
  set.preprocessing = h5::ReadStringAttribute(root, "preprocessing").value_or("");
  set.class_names = h5::ReadStringAttribute(root, "class_names").value_or("");
  h5::Handle images = h5::Check(H5Dopen2(root, "images", H5P_DEFAULT), path + ": images");
  h5::Handle space = h5::Check(H5Dget_space(images.get()), path + ": images");
  hsize_t dims[4] = {};
  if (H5Sget_simple_extent_ndims(space.get()) != 4) {
    Throw(ErrorKind::kInvalidArgument, "{}: images is not [N, C, H, W]", path);
  }
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  const hsize_t count =
      max_images < 0 ? dims[0] : std::min<hsize_t>(dims[0], static_cast<hsize_t>(max_images));
  set.sample_shape = {static_cast<std::int64_t>(dims[1]), static_cast<std::int64_t>(dims[2]),
                      static_cast<std::int64_t>(dims[3])};
  set.images.resize(count * dims[1] * dims[2] * dims[3]);
  set.labels.resize(count);
  if (count == 0) return set;
  const hsize_t start[4] = {0, 0, 0, 0};
  const hsize_t extent[4] = {count, dims[1], dims[2], dims[3]};
  h5::CheckStatus(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, extent, nullptr),
                  "H5Sselect_hyperslab");
  h5::Handle memory = h5::Check(H5Screate_simple(4, extent, nullptr), "H5Screate_simple");
  h5::CheckStatus(H5Dread(images.get(), H5T_NATIVE_FLOAT, memory.get(), space.get(), H5P_DEFAULT,
                          set.images.data()),
                  path + ": reading images (truncated or corrupt file?)");
  h5::Handle labels = h5::Check(H5Dopen2(root, "labels", H5P_DEFAULT), path + ": labels");
  h5::Handle label_space = h5::Check(H5Dget_space(labels.get()), path + ": labels");
  hsize_t label_count = 0;
  if (H5Sget_simple_extent_ndims(label_space.get()) != 1) {
    Throw(ErrorKind::kInvalidArgument, "{}: labels is not one-dimensional", path);
  }
  H5Sget_simple_extent_dims(label_space.get(), &label_count, nullptr);
  if (label_count != dims[0]) {
    Throw(ErrorKind::kInvalidArgument, "{}: {} labels for {} images", path, label_count, dims[0]);
  }
  h5::CheckStatus(
      H5Sselect_hyperslab(label_space.get(), H5S_SELECT_SET, start, nullptr, &count, nullptr),
      "H5Sselect_hyperslab");
  h5::Handle label_memory = h5::Check(H5Screate_simple(1, &count, nullptr), "H5Screate_simple");
  h5::CheckStatus(H5Dread(labels.get(), H5T_NATIVE_INT32, label_memory.get(), label_space.get(),
                          H5P_DEFAULT, set.labels.data()),
                  path + ": reading labels");
  return set;
}

}  // namespace sonic
