// Opens files written by ResultsWriter with Debian's Python and h5py (results/check_schema.py):
// the schema is what SCHEMA.md says, and the stored percentiles agree with the raw records.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "results/results_file.h"
#include "results/test_cells.h"
#include "results/test_temp_dir.h"

namespace sonic {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

// Runs check_schema.py on `path`; returns its exit status.
int CheckSchema(const std::string& path) {
  const std::string command = fmt::format("{} {} '{}'", kPython, SONIC_CHECK_SCHEMA_PY, path);
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HavePythonH5py() {
  const std::string command = fmt::format("{} -c 'import h5py, numpy' 2>/dev/null", kPython);
  return std::filesystem::exists(kPython) && std::system(command.c_str()) == 0;
}

TEST(CheckSchemaTest, PythonReadsTheFileAndAgreesWithTheRawRecords) {
  if (!HavePythonH5py()) GTEST_SKIP() << kPython << " with h5py and numpy is not installed";
  const std::string path = testing::TempPath("schema.h5");
  {
    auto writer = ResultsWriter::Open(path, testing::SampleRunInfo("first"), /*append=*/false);
    // Wide and narrow distributions, enough requests for every percentile to be a distinct rank,
    // and more than 1024 records so that the raw records are stored compressed.
    writer->AppendCell(testing::SampleSettings(1, 1), testing::SampleResult(1, 20'000, 3e4, 5e4));
    writer->AppendCell(testing::SampleSettings(2, 2), testing::SampleResult(2, 5'000, 2.5e8, 8));
    // Schema v2's optional datasets: several servers and a fleet of client processes.
    CellSettings fleet_settings = testing::SampleSettings(1, 5);
    fleet_settings.target = "remote";
    CellResult fleet = testing::SampleResult(4, 2'000, 1e6, 1000);
    testing::AddServersAndRanks(fleet, fleet_settings.concurrency, 3);
    writer->AppendCell(fleet_settings, fleet);
    CellResult failed;
    failed.status = CellStatus::kFailed;
    failed.error_message = "backend error";
    writer->AppendCell(testing::SampleSettings(64, 1), failed);
    writer->Close();
  }
  {
    auto writer = ResultsWriter::Open(path, testing::SampleRunInfo("second"), /*append=*/true);
    CellSettings open_loop = testing::SampleSettings(1, 1);
    open_loop.mode = "open";
    open_loop.rate_hz = 1000;
    writer->AppendCell(open_loop, testing::SampleResult(3, 3'000, 1e6, 1000, /*raw_cap=*/500));
    writer->Close();
  }
  EXPECT_EQ(CheckSchema(path), 0);

  // A rank whose count does not add up to the merged cell's is caught, and so is it undone.
  const auto shift_rank_count = [&](int delta) {
    return fmt::format(
        "{} -c \"import h5py\n"
        "with h5py.File('{}', 'r+') as f:\n"
        "    t = f['runs/first/cell/2/ranks']\n"
        "    row = t[1]\n"
        "    row['completed_requests'] += {}\n"
        "    t[1] = row\"",
        kPython, path, delta);
  };
  ASSERT_EQ(std::system(shift_rank_count(1).c_str()), 0);
  EXPECT_EQ(CheckSchema(path), 1);
  ASSERT_EQ(std::system(shift_rank_count(-1).c_str()), 0);
  EXPECT_EQ(CheckSchema(path), 0);

  // A stored p99 moved by 2% (beyond the 0.39% bound) is caught.
  const std::string tamper = fmt::format(
      "{} -c \"import h5py\n"
      "with h5py.File('{}', 'r+') as f:\n"
      "    t = f['runs/first/cells']\n"
      "    row = t[0]\n"
      "    row['latency_p99_ns'] *= 1.02\n"
      "    t[0] = row\"",
      kPython, path);
  ASSERT_EQ(std::system(tamper.c_str()), 0);
  EXPECT_EQ(CheckSchema(path), 1);
}

TEST(CheckSchemaTest, RejectsAFileThatIsNotAResultsFile) {
  if (!HavePythonH5py()) GTEST_SKIP() << kPython << " with h5py and numpy is not installed";
  const std::string path = testing::TempPath("not_results.h5");
  std::ofstream(path) << "not hdf5";
  EXPECT_EQ(CheckSchema(path), 1);
}

}  // namespace
}  // namespace sonic
