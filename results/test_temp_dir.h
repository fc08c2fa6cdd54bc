#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
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

}  // namespace sonic::testing
