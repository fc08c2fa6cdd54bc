#include "datasets/pandas_table.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "datasets/image_set.h"
#include "datasets/top_tagging.h"

namespace sonic {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("sonic_pandas_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::string ErrorOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "no error";
}

TEST(PandasTableTest, WriterAndReaderAgree) {
  const std::string path = TempPath("roundtrip.h5");
  {
    PandasTableWriter writer(path, "table", {"a", "b", "c"});
    writer.Append(std::vector<double>{1, 2, 3, 4, 5, 6});
    writer.Append(std::vector<double>{7, 8, 9});
    writer.Close();
    EXPECT_EQ(writer.rows(), 3);
  }
  const PandasTableReader reader(path);
  EXPECT_EQ(reader.rows(), 3);
  EXPECT_EQ(reader.columns(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(reader.FindColumn("c"), 2u);
  EXPECT_FALSE(reader.FindColumn("d"));
  std::vector<double> rows(6);
  reader.Read(1, 2, rows);
  EXPECT_EQ(rows, (std::vector<double>{4, 5, 6, 7, 8, 9}));
  EXPECT_THROW(reader.Read(2, 2, rows), Error);
  std::filesystem::remove(path);
}

TEST(PandasTableTest, NotAnHdf5FileIsNamed) {
  const std::string path = TempPath("text.h5");
  std::ofstream(path) << "E_0,PX_0\n1,2\n";
  const std::string message = ErrorOf([&] { ReadTopTaggingFile(path); });
  EXPECT_NE(message.find("not an HDF5 file"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(ErrorOf([] { ReadTopTaggingFile("/nonexistent/jets.h5"); }).find("no such file"),
            std::string::npos);
  std::filesystem::remove(path);
}

TEST(PandasTableTest, TruncatedFileGetsAClearError) {
  const std::string path = TempPath("full.h5");
  const std::string truncated = TempPath("truncated.h5");
  WriteTopTaggingFile(path, GenerateTopTaggingJets(200, 1));
  for (const double fraction : {0.5, 0.95}) {
    const auto size = static_cast<std::size_t>(std::filesystem::file_size(path) * fraction);
    std::filesystem::copy_file(path, truncated, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(truncated, size);
    const std::string message = ErrorOf([&] { ReadTopTaggingFile(truncated); });
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
    EXPECT_NE(message.find(truncated), std::string::npos) << message;
  }
  std::filesystem::remove(path);
  std::filesystem::remove(truncated);
}

TEST(PandasTableTest, MissingKeyAndWrongColumnsAreNamed) {
  const std::string images = TempPath("images.h5");
  ImageSet set;
  set.sample_shape = {1, 2, 2};
  set.images = {0, 0, 0, 0};
  set.labels = {1};
  WriteImageSet(images, set);
  const std::string no_table = ErrorOf([&] { ReadTopTaggingFile(images); });
  EXPECT_NE(no_table.find("no pandas table under key 'table'"), std::string::npos) << no_table;

  const std::string other = TempPath("other.h5");
  {
    PandasTableWriter writer(other, "table", {"pt", "eta", "phi", "is_signal_new"});
    writer.Append(std::vector<double>{600, 0.1, 0.2, 1});
  }
  const std::string wrong = ErrorOf([&] { ReadTopTaggingFile(other); });
  EXPECT_NE(wrong.find("no column 'E_0'"), std::string::npos) << wrong;

  // A mislabelled jet: is_signal_new must be 0 or 1.
  std::vector<std::string> columns = {"E_0", "PX_0", "PY_0", "PZ_0", "is_signal_new"};
  {
    PandasTableWriter writer(other, "table", columns);
    writer.Append(std::vector<double>{100, 60, 0, 80, 1, 100, 60, 0, 80, 2});
  }
  const std::string label = ErrorOf([&] { ReadTopTaggingFile(other); });
  EXPECT_NE(label.find("jet 1 has is_signal_new = 2"), std::string::npos) << label;
  std::filesystem::remove(images);
  std::filesystem::remove(other);
}

}  // namespace
}  // namespace sonic
