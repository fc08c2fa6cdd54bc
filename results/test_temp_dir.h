#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace sonic::testing {

// A per-process scratch directory for test files, removed when the test binary ends.
inline std::filesystem::path TempDir() {
  static const std::filesystem::path dir = [] {
    auto path =
        std::filesystem::temp_directory_path() / ("sonic_results_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(path);
    struct Remover : ::testing::Environment {
      explicit Remover(std::filesystem::path p) : path(std::move(p)) {}
      void TearDown() override { std::filesystem::remove_all(path); }
      std::filesystem::path path;
    };
    ::testing::AddGlobalTestEnvironment(new Remover(path));
    return path;
  }();
  return dir;
}

inline std::string TempPath(const std::string& name) { return (TempDir() / name).string(); }

inline std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Damages the results file at `path` where a latency histogram's header names its first field
// (a byte under a checksum that only reading the cells, not the cells table, reaches); returns
// the damaged file's bytes.
inline std::string DamageAHistogramHeader(const std::string& path) {
  std::string bytes = FileBytes(path);
  const std::size_t at = bytes.find("lower_bound_ns");
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) bytes[at] ^= 0x20;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return bytes;
}

}  // namespace sonic::testing
