// Runs `sonicbench report`, `compare`, `plot` and `sweep --resume` as a user would, on files
// written here, and checks their exit codes (0 ok, 2 usage or unreadable file, 3 regression or
// missing cells) and output.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
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

TEST(CliReportTest, CompareFailsWhenCellsAreMissingInNewUnlessAllowed) {
  const std::string base = WriteRun("full.h5", 1.0);
  const std::string partial = testing::TempPath("partial.h5");
  {
    auto writer = ResultsWriter::Open(partial, testing::SampleRunInfo("p"), /*append=*/false);
    writer->AppendCell(testing::SampleSettings(1, 1), testing::SampleResult(1, 5000, 1e6, 1000));
    writer->Close();
  }
  const CommandResult gate = Sonicbench(fmt::format("compare '{}' '{}'", base, partial));
  EXPECT_EQ(gate.exit_code, 3) << gate.output;
  EXPECT_NE(gate.output.find("MISSING: 1 of 2 cells missing in new"), std::string::npos)
      << gate.output;
  const CommandResult allowed =
      Sonicbench(fmt::format("compare '{}' '{}' --allow-missing", base, partial));
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
}

// The lines of `output`.
std::vector<std::string> ErrorLines(const std::string& output) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < output.size()) {
    const std::size_t end = std::min(output.find('\n', start), output.size());
    lines.push_back(output.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

TEST(CliReportTest, EveryReaderRefusesADamagedFileWithOneLineAndExitTwo) {
  const std::string good = WriteRun("good.h5", 1.0);
  const std::string damaged = WriteRun("damaged.h5", 1.0);
  const std::string bytes = testing::DamageAHistogramHeader(damaged);
  const std::string directory = testing::TempPath("a_directory.h5");
  std::filesystem::create_directories(directory);

  for (const std::string& file : {damaged, directory}) {
    for (const std::string& arguments :
         {fmt::format("report '{}'", file), fmt::format("compare '{}' '{}'", good, file),
          fmt::format("compare '{}' '{}'", file, good),
          fmt::format("plot '{}' --out '{}'", file, testing::TempPath("figures")),
          fmt::format("sweep --resume '{}'", file)}) {
      const CommandResult run = Sonicbench(arguments);
      EXPECT_EQ(run.exit_code, 2) << arguments << "\n" << run.output;
      const std::vector<std::string> lines = ErrorLines(run.output);
      // One message names the file (CLI11 words the --resume check of a directory itself).
      const auto naming = std::count_if(lines.begin(), lines.end(), [&](const std::string& line) {
        return line.find(file) != std::string::npos;
      });
      EXPECT_EQ(naming, 1) << arguments << "\n" << run.output;
      EXPECT_EQ(run.output.find("Traceback"), std::string::npos) << run.output;
    }
  }
  // The refused resume measured nothing and left the file as it was.
  EXPECT_EQ(testing::FileBytes(damaged), bytes);
}

}  // namespace
}  // namespace sonic
