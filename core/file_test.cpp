// The one file reader against files the test writes and the kernel's own.
#include "core/file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"

namespace sonic {
namespace {

std::filesystem::path TempPath(const std::string& name) {
  return std::filesystem::path(testing::TempDir()) /
         ("file_test_" + std::to_string(getpid()) + "_" + name);
}

TEST(ReadWholeFile, ReturnsEveryByteOfARegularFile) {
  const auto path = TempPath("bytes.bin");
  std::string bytes = "line one\n";
  bytes += '\0';
  bytes += "\xff after a zero byte";
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_EQ(ReadWholeFile(path, "test file"), bytes);
  EXPECT_EQ(TryReadWholeFile(path), bytes);
  std::ofstream truncated(path, std::ios::binary | std::ios::trunc);
  truncated.close();  // the file is now empty
  EXPECT_EQ(ReadWholeFile(path, "test file"), "");
  std::filesystem::remove(path);
}

TEST(ReadWholeFile, ReadsKernelFilesWhoseSizeIsZero) {
  ASSERT_EQ(std::filesystem::file_size("/proc/self/status"), 0u);
  const std::string status = ReadWholeFile("/proc/self/status", "process status");
  EXPECT_NE(status.find("Pid:\t" + std::to_string(getpid()) + "\n"), std::string::npos) << status;
}

TEST(ReadWholeFile, AMissingFileOrADirectoryIsNamed) {
  for (const std::string& path : {std::string("/nonexistent/dir/x.conf"), testing::TempDir()}) {
    try {
      ReadWholeFile(path, "sweep config");
      ADD_FAILURE() << path << " was read";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kNotFound) << path;
      EXPECT_NE(std::string(error.what()).find("cannot open sweep config '" + path + "'"),
                std::string::npos)
          << error.what();
    }
    EXPECT_EQ(TryReadWholeFile(path), std::nullopt) << path;
  }
}

}  // namespace
}  // namespace sonic
