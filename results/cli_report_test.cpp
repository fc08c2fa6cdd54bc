// Runs `sonicbench report` and `sonicbench compare` as a user would, on files written here, and
// checks their exit codes (0 ok, 2 usage, 3 regression) and output.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "results/results_file.h"
#include "results/test_cells.h"
#include "results/test_temp_dir.h"

namespace sonic {
namespace {

struct CommandResult {
  int exit_code;
  std::string output;
};

CommandResult Sonicbench(const std::string& arguments) {
  const std::string command = fmt::format("'{}' {} 2>&1", SONIC_SONICBENCH_PATH, arguments);
  FILE* pipe = popen(command.c_str(), "r");
  CommandResult run{-1, ""};
  if (pipe == nullptr) return run;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) run.output += buffer;
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// A file with one run of two cells whose throughput is 1000 * scale inferences/s (1% CI).
std::string WriteRun(const std::string& name, double scale) {
  const std::string path = testing::TempPath(name);
  auto writer = ResultsWriter::Open(path, testing::SampleRunInfo(name), /*append=*/false);
  writer->AppendCell(testing::SampleSettings(1, 1),
                     testing::SampleResult(1, 5000, 1e6, 1000 * scale));
  writer->AppendCell(testing::SampleSettings(2, 1),
                     testing::SampleResult(2, 5000, 1e6, 1000 * scale));
  writer->Close();
  return path;
}

TEST(CliReportTest, ReportPrintsTheTableAndWritesCsv) {
  const std::string path = WriteRun("report.h5", 1.0);
  const std::string csv = testing::TempPath("report.csv");
  const CommandResult run = Sonicbench(fmt::format("report '{}' --csv '{}'", path, csv));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("run report.h5 (complete), 2 cells"), std::string::npos) << run.output;
  EXPECT_TRUE(std::filesystem::exists(csv));
  EXPECT_EQ(Sonicbench(fmt::format("report '{}' --run nope", path)).exit_code, 2);
  EXPECT_EQ(Sonicbench(fmt::format("report '{}'", testing::TempPath("missing.h5"))).exit_code, 2);
}

TEST(CliReportTest, CompareExitsThreeOnARegressionOnly) {
  const std::string base = WriteRun("base.h5", 1.0);
  const CommandResult dropped =
      Sonicbench(fmt::format("compare '{}' '{}'", base, WriteRun("drop.h5", 0.8)));
  EXPECT_EQ(dropped.exit_code, 3) << dropped.output;
  EXPECT_NE(dropped.output.find("REGRESSION"), std::string::npos) << dropped.output;
  const CommandResult noise =
      Sonicbench(fmt::format("compare '{}' '{}' --threshold 5%", base, WriteRun("noise.h5", 0.99)));
  EXPECT_EQ(noise.exit_code, 0) << noise.output;
  EXPECT_EQ(Sonicbench(fmt::format("compare '{}' '{}' --threshold 5", base, base)).exit_code, 2);
}

}  // namespace
}  // namespace sonic
