// Flips bytes of a real results file (written by ResultsWriter, schema 3) and runs what `report`,
// `compare` and `sweep --resume` do on each damaged copy, through the library: every copy must
// either read back exactly as the original (the byte was unused) or be refused with
// Error(kInvalidArgument) naming the file; nothing may crash, leak (the ASan build runs this: it
// is labelled unit) or return different numbers. A seeded sample of byte positions keeps it
// short (about 10 s; 100 positions, a minute, under ASan); SONIC_FUZZ_EVERY_BYTE=1 flips every byte
// (about half an hour).

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "results/report.h"
#include "results/results_file.h"
#include "results/test_cells.h"
#include "results/test_temp_dir.h"

#ifdef __SANITIZE_ADDRESS__
// HDF5 1.10's metadata cache leaks the object header it was decoding when the header's checksum
// fails (inside H5C_protect), a leak of the library's error path that no caller can free. It is
// suppressed by that frame alone, which needs full (slow) allocation stacks, HDF5 being built
// without frame pointers, and HDF5's free lists off, so that a leaked block's stack is the one
// that leaked it rather than the one that first allocated it. Every other leak is reported.
extern "C" const char* __asan_default_options() { return "fast_unwind_on_malloc=0"; }
extern "C" const char* __lsan_default_suppressions() { return "leak:H5C_protect\n"; }
const herr_t kNoFreeLists = H5set_free_list_limits(0, 0, 0, 0, 0, 0);
constexpr int kSampledPositions = 100;  // allocations are slow with full stacks
#else
constexpr int kSampledPositions = 1200;
#endif

namespace sonic {
namespace {

using testing::SampleResult;
using testing::SampleSettings;

// Two runs, so that compare has a base and a new run: small and large raw records (compact and
// chunked, compressed datasets), servers and ranks, a failed cell with a long error message.
std::string WriteOriginal() {
  const std::string path = testing::TempPath("fuzz_original.h5");
  {
    auto writer = ResultsWriter::Open(path, testing::SampleRunInfo("base"), /*append=*/false);
    writer->AppendCell(SampleSettings(1, 1), SampleResult(1, 60, 1e6, 1000));
    CellSettings remote = SampleSettings(2, 3);
    remote.target = TargetKind::kRemote;
    CellResult fleet = SampleResult(2, 1100, 2e6, 800);
    testing::AddServersAndRanks(fleet, remote.concurrency, 2);
    writer->AppendCell(remote, fleet);
    CellResult failed;
    failed.status = CellStatus::kFailed;
    failed.error_message = std::string(100, 'x') + ": backend error";
    writer->AppendCell(SampleSettings(4, 1), failed);
    writer->Close();
  }
  {
    auto writer = ResultsWriter::Open(path, testing::SampleRunInfo("new"), /*append=*/true);
    writer->AppendCell(SampleSettings(1, 1), SampleResult(3, 60, 1.1e6, 950));
    writer->Close();
  }
  return path;
}

// Everything the readers give back: the texts of report and compare, the histograms and records.
struct Snapshot {
  std::string text;
  std::vector<LatencyHistogram> histograms;
  std::vector<std::vector<RequestRecord>> raw_records;
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

Snapshot ReadEverything(const std::string& path) {
  const ResultsReader reader(path);
  Snapshot snapshot;
  const std::vector<std::string> runs = reader.ListRuns();
  std::vector<std::vector<CellRecord>> cells;
  for (const std::string& run : runs) {
    const RunInfo info = reader.ReadRunInfo(run);
    cells.push_back(reader.ReadCells(run));
    snapshot.text += FormatReport(info, cells.back()) + FormatCsv(cells.back());
    snapshot.text += info.config_text + info.command_line + info.git_commit;
    for (const auto& [key, status] : reader.FinishedCells(run)) {
      snapshot.text += key + std::string(CellStatusName(status)) + "\n";
    }
    for (const CellRecord& cell : cells.back()) {
      snapshot.raw_records.push_back(cell.result.raw_records);
      snapshot.histograms.push_back(cell.result.latency);
      snapshot.histograms.push_back(cell.result.send_lag);
      for (const ServerShare& server : cell.result.servers) {
        snapshot.text += server.address + "\n";
        snapshot.histograms.push_back(server.latency);
      }
    }
  }
  if (cells.size() == 2) snapshot.text += FormatComparison(Compare(cells[0], cells[1], 0.05), 0.05);
  return snapshot;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The error of `read`, or nullopt when it succeeded.
template <typename Read>
std::optional<Error> ErrorOf(Read&& read) {
  try {
    read();
    return std::nullopt;
  } catch (const Error& error) {
    return error;
  }
}

TEST(ResultsFuzzTest, EveryFlippedByteReadsTheSameOrIsRefusedWithAClearError) {
  const std::string original_path = WriteOriginal();
  const Snapshot original = ReadEverything(original_path);
  const std::string bytes = testing::FileBytes(original_path);

  std::vector<std::size_t> positions;
  if (const char* every = std::getenv("SONIC_FUZZ_EVERY_BYTE"); every && *every == '1') {
    for (std::size_t i = 0; i < bytes.size(); ++i) positions.push_back(i);
  } else {
    std::mt19937_64 random(20261124);
    std::uniform_int_distribution<std::size_t> position(0, bytes.size() - 1);
    for (int i = 0; i < kSampledPositions; ++i) positions.push_back(position(random));
  }
  std::mt19937_64 random(7);
  std::uniform_int_distribution<int> mask(1, 255);
  const std::string path = testing::TempPath("fuzz_damaged.h5");
  int refused = 0;
  for (const std::size_t position : positions) {
    std::string damaged = bytes;
    damaged[position] = static_cast<char>(damaged[position] ^ mask(random));
    WriteBytes(path, damaged);
    SCOPED_TRACE(::testing::Message() << "byte " << position << " of " << bytes.size());

    std::optional<Snapshot> read;
    const std::optional<Error> read_error = ErrorOf([&] { read = ReadEverything(path); });
    if (read_error) {
      ++refused;
      EXPECT_EQ(read_error->kind(), ErrorKind::kInvalidArgument) << read_error->what();
      EXPECT_EQ(std::string(read_error->what()).rfind(path, 0), 0u) << read_error->what();
    } else {
      EXPECT_TRUE(*read == original) << "a damaged file read back different content";
    }
    // Validation (what --resume and --append run first) agrees with the readers, and a refused
    // resume leaves the file as it was.
    const std::optional<Error> validate_error = ErrorOf([&] { ValidateResultsFile(path); });
    EXPECT_EQ(validate_error.has_value(), read_error.has_value())
        << (validate_error ? validate_error->what() : "validation passed");
    const std::optional<Error> resume_error = ErrorOf([&] { ResultsWriter::Resume(path, "new"); });
    if (read_error) {
      EXPECT_TRUE(resume_error.has_value());
      EXPECT_TRUE(testing::FileBytes(path) == damaged) << "a refused resume changed the file";
    } else {
      EXPECT_FALSE(resume_error.has_value()) << resume_error->what();
    }
    if (::testing::Test::HasFailure()) break;  // one damaged copy tells the story
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace sonic
