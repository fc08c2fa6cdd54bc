#include "results/results_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "results/test_cells.h"
#include "results/test_temp_dir.h"

namespace sonic {
namespace {

using testing::SampleResult;
using testing::SampleRunInfo;
using testing::SampleSettings;
using testing::TempPath;

void ExpectSameCell(const CellSettings& settings, const CellResult& expected,
                    const CellRecord& actual, bool with_raw_records = true) {
  EXPECT_EQ(actual.settings, settings);
  const CellResult& r = actual.result;
  EXPECT_EQ(r.status, expected.status);
  EXPECT_EQ(r.error_message, expected.error_message);
  EXPECT_EQ(r.converged, expected.converged);
  EXPECT_EQ(r.convergence_reason, expected.convergence_reason);
  EXPECT_EQ(r.backend_settings, expected.backend_settings);
  EXPECT_EQ(r.within_bound_requests, expected.within_bound_requests);
  EXPECT_EQ(r.bound_met, expected.bound_met);
  EXPECT_EQ(r.bound_verdict_reason, expected.bound_verdict_reason);
  EXPECT_EQ(r.warmup_duration_s, expected.warmup_duration_s);
  EXPECT_EQ(r.warmup_requests, expected.warmup_requests);
  EXPECT_EQ(r.duration_s, expected.duration_s);
  EXPECT_EQ(r.completed_requests, expected.completed_requests);
  EXPECT_EQ(r.completed_inferences, expected.completed_inferences);
  EXPECT_EQ(r.throughput_inferences_per_s, expected.throughput_inferences_per_s);
  EXPECT_EQ(r.throughput_inferences_per_s_ci95, expected.throughput_inferences_per_s_ci95);
  EXPECT_EQ(r.throughput_requests_per_s, expected.throughput_requests_per_s);
  EXPECT_EQ(r.throughput_requests_per_s_ci95, expected.throughput_requests_per_s_ci95);
  EXPECT_EQ(r.latency, expected.latency);
  EXPECT_EQ(r.send_lag, expected.send_lag);
  EXPECT_EQ(r.generator_behind, expected.generator_behind);
  EXPECT_EQ(r.client_cpu_user_s, expected.client_cpu_user_s);
  EXPECT_EQ(r.client_cpu_sys_s, expected.client_cpu_sys_s);
  EXPECT_EQ(r.errors, expected.errors);
  EXPECT_EQ(r.bytes_sent, expected.bytes_sent);
  EXPECT_EQ(r.bytes_received, expected.bytes_received);
  EXPECT_EQ(r.server, expected.server);
  EXPECT_EQ(r.servers, expected.servers);
  EXPECT_EQ(r.fleet, expected.fleet);
  EXPECT_EQ(r.accuracy, expected.accuracy);
  EXPECT_EQ(r.raw_records_truncated, expected.raw_records_truncated);
  if (with_raw_records) {
    EXPECT_EQ(r.raw_records, expected.raw_records);
  } else {
    EXPECT_TRUE(r.raw_records.empty());
  }
}

TEST(ResultsFileTest, ReplaceLastCellOverwritesItsRowAndGroup) {
  const std::string path = TempPath("replace.h5");
  const CellSettings first = SampleSettings(1, 1);
  const CellSettings second = SampleSettings(2, 4);
  CellResult placeholder;
  placeholder.status = CellStatus::kFailed;
  placeholder.error_message = "the job ended during this cell";
  CellResult measured = SampleResult(3, 500, 1e6, 100.0);
  testing::AddServersAndRanks(measured, second.concurrency, 2);
  {
    auto writer = ResultsWriter::Open(path, SampleRunInfo("r"), /*append=*/false);
    EXPECT_THROW(writer->ReplaceLastCell(first, placeholder), Error);
    writer->AppendCell(first, SampleResult(1, 100, 1e6, 50.0));
    writer->AppendCell(second, placeholder);
    writer->ReplaceLastCell(second, measured);
    EXPECT_EQ(writer->cell_count(), 2);
    writer->Close();
  }
  const ResultsReader reader(path);
  const std::vector<CellRecord> cells = reader.ReadCells("r");
  ASSERT_EQ(cells.size(), 2u);
  ExpectSameCell(first, SampleResult(1, 100, 1e6, 50.0), cells[0]);
  ExpectSameCell(second, measured, cells[1]);
  EXPECT_EQ(reader.FinishedCells("r").at(second.Key()), CellStatus::kOk);
}

TEST(ResultsFileTest, WriteThenReadRoundTripsEveryField) {
  const std::string path = TempPath("round_trip.h5");
  const RunInfo info = SampleRunInfo("nightly-1");

  const CellSettings ok_settings = SampleSettings(1, 2);
  CellResult ok = SampleResult(1, 5000, 2e5, 1000.0);
  ok.backend_settings = "idle=spin:20ms";
  CellAccuracy& physics = ok.accuracy.emplace();
  physics.dataset = "jets/test_images.h5";
  physics.signal_class = 1;
  physics.score = ScoreTagger(std::vector<float>{0.9f, 0.8f, 0.75f, 0.6f}, 1, 0,
                              std::vector<std::int32_t>{1, 0, 1, 0},
                              std::vector<float>{0.9f, 0.7f, 0.75f, 0.6f});
  ASSERT_TRUE(std::isinf(physics.score.rejection[0]));  // +inf survives the file

  CellSettings remote_settings = SampleSettings(4, 8);
  remote_settings.target = TargetKind::kRemote;
  remote_settings.link = "edge";
  remote_settings.mode = LoadMode::kOpen;
  remote_settings.rate_hz = 2500.5;
  remote_settings.arrival = ArrivalProcess::kPoisson;
  remote_settings.server_address = "127.0.0.1:8001";
  remote_settings.dynamic_batching = true;
  remote_settings.search_over = SearchOver::kRate;
  remote_settings.latency_bound_ms = 12.5;
  remote_settings.latency_percentile = 99.9;
  remote_settings.search_role = SearchRole::kConfirmation;
  remote_settings.search_probe = 7;
  CellResult remote = SampleResult(2, 3000, 6e7, 250.0, /*raw_cap=*/1000);
  remote.within_bound_requests = 2990;
  remote.bound_met = false;
  remote.bound_verdict_reason = "p99.9 13 ms > 12.5 ms";
  remote.status = CellStatus::kNotConverged;
  remote.converged = false;
  remote.convergence_reason = "max duration 60 s: ci 7.5% > 5%";
  remote.generator_behind = true;
  remote.accuracy = CellAccuracy{.dataset = "jets.h5",
                                 .signal_class = 0,
                                 .error = "internal: the server answered 3 outputs for 2 samples",
                                 .score = {}};
  remote.server =
      ServerStats{3000, 12000, 700, 123456789, 1111, 987654321, 2222, {{1, 100}, {4, 600}}};
  testing::AddServersAndRanks(remote, remote_settings.concurrency, 3);

  CellSettings failed_settings = SampleSettings(64, 1);
  failed_settings.precision = "int8";
  CellResult failed;
  failed.status = CellStatus::kFailed;
  failed.error_message = "onednn: dnnl_primitive_create failed: out of memory (ünïcode ok)";

  std::string run_id;
  {
    auto writer = ResultsWriter::Open(path, info, /*append=*/false);
    run_id = writer->run_id();
    EXPECT_EQ(writer->AppendCell(ok_settings, ok), 0);
    EXPECT_EQ(writer->AppendCell(remote_settings, remote), 1);
    EXPECT_EQ(writer->AppendCell(failed_settings, failed), 2);
    EXPECT_EQ(writer->cell_count(), 3);
    writer->Close();
  }
  EXPECT_EQ(run_id, "nightly-1");

  const ResultsReader reader(path);
  EXPECT_EQ(reader.schema_version(), kResultsSchemaVersion);
  EXPECT_EQ(reader.ListRuns(), std::vector<std::string>{"nightly-1"});
  RunInfo expected_info = info;
  expected_info.complete = true;
  EXPECT_EQ(reader.ReadRunInfo(run_id), expected_info);

  const auto cells = reader.ReadCells(run_id);
  ASSERT_EQ(cells.size(), 3u);
  for (std::int64_t i = 0; i < 3; ++i) EXPECT_EQ(cells[i].index, i);
  ExpectSameCell(ok_settings, ok, cells[0]);
  ExpectSameCell(remote_settings, remote, cells[1]);
  ExpectSameCell(failed_settings, failed, cells[2]);
  EXPECT_EQ(cells[1].result.raw_records.size(), 1000u);

  const auto light = reader.ReadCells(run_id, /*with_raw_records=*/false);
  ExpectSameCell(ok_settings, ok, light[0], /*with_raw_records=*/false);

  const auto finished = reader.FinishedCells(run_id);
  EXPECT_EQ(finished.size(), 3u);
  EXPECT_EQ(finished.at(ok_settings.Key()), CellStatus::kOk);
  EXPECT_EQ(finished.at(remote_settings.Key()), CellStatus::kNotConverged);
  EXPECT_EQ(finished.at(failed_settings.Key()), CellStatus::kFailed);
}

TEST(ResultsFileTest, AppendedRunsAreToldApartAndListedInOrder) {
  const std::string path = TempPath("history.h5");
  RunInfo first = SampleRunInfo("");
  first.start_time_utc = "2026-11-24T10:30:22Z";
  {
    auto writer = ResultsWriter::Open(path, first, /*append=*/false);
    EXPECT_EQ(writer->run_id(), "20261124T103022Z");
    writer->AppendCell(SampleSettings(1, 1), SampleResult(1, 100, 1e5, 10));
    writer->AppendCell(SampleSettings(2, 1), SampleResult(2, 100, 1e5, 20));
    writer->Close();
  }
  RunInfo second = first;  // the same start second: the id gets a suffix
  second.git_commit = "abcdef123456";
  {
    auto writer = ResultsWriter::Open(path, second, /*append=*/true);
    EXPECT_EQ(writer->run_id(), "20261124T103022Z-2");
    writer->AppendCell(SampleSettings(1, 1), SampleResult(3, 100, 1e5, 30));
    writer->Close();
  }
  const ResultsReader reader(path);
  const auto runs = reader.ListRuns();
  ASSERT_EQ(runs, (std::vector<std::string>{"20261124T103022Z", "20261124T103022Z-2"}));
  EXPECT_EQ(reader.ReadCells(runs[0]).size(), 2u);
  EXPECT_EQ(reader.ReadCells(runs[1]).size(), 1u);
  EXPECT_EQ(reader.ReadRunInfo(runs[1]).git_commit, "abcdef123456");
  EXPECT_EQ(reader.ReadCells(runs[1])[0].result.throughput_inferences_per_s, 30);
}

// A sweep killed after its third cell (no Close, no destructors) leaves a file that reads back
// with those three cells, and --resume can add the rest.
void KilledWriterKeepsFinishedCells(bool abort_child) {
  const std::string path = TempPath(abort_child ? "aborted.h5" : "exited.h5");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto writer = ResultsWriter::Open(path, SampleRunInfo("killed"), /*append=*/false);
    for (int i = 0; i < 3; ++i) {
      writer->AppendCell(SampleSettings(1 << i, 1), SampleResult(i, 2000, 1e6, 100.0 * (i + 1)));
    }
    if (abort_child) std::abort();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  if (abort_child) {
    ASSERT_TRUE(WIFSIGNALED(status));
  } else {
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  {
    const ResultsReader reader(path);
    EXPECT_FALSE(reader.ReadRunInfo("killed").complete);
    const auto cells = reader.ReadCells("killed");
    ASSERT_EQ(cells.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(cells[i].settings.batch, 1 << i);
      EXPECT_EQ(cells[i].result.throughput_inferences_per_s, 100.0 * (i + 1));
      EXPECT_EQ(cells[i].result.latency, SampleResult(i, 2000, 1e6, 0).latency);
    }
    EXPECT_EQ(reader.FinishedCells("killed").size(), 3u);
  }
  {
    auto writer = ResultsWriter::Resume(path, "killed");
    EXPECT_EQ(writer->cell_count(), 3);
    EXPECT_EQ(writer->AppendCell(SampleSettings(8, 1), SampleResult(3, 10, 1e6, 1)), 3);
    writer->Close();
  }
  const ResultsReader reader(path);
  EXPECT_TRUE(reader.ReadRunInfo("killed").complete);
  EXPECT_EQ(reader.ReadCells("killed").size(), 4u);
}

TEST(ResultsFileTest, WriterThatExitsWithoutClosingLeavesAValidFile) {
  KilledWriterKeepsFinishedCells(/*abort_child=*/false);
}

TEST(ResultsFileTest, WriterThatAbortsLeavesAValidFile) {
  KilledWriterKeepsFinishedCells(/*abort_child=*/true);
}

TEST(ResultsFileTest, ErrorsNameTheFileAndWhatIsWrongWithIt) {
  EXPECT_THROW(ResultsReader(TempPath("does_not_exist.h5")), Error);
  const std::string not_hdf5 = TempPath("not_hdf5.h5");
  std::ofstream(not_hdf5) << "hello";
  try {
    const ResultsReader reader(not_hdf5);
    FAIL() << "opened a text file";
  } catch (const Error& error) {
    // An unreadable input file is bad input (exit 2 in docs/CLI.md), not a failed run.
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find(not_hdf5), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("not an HDF5 file"), std::string::npos)
        << error.what();
  }
  const std::string path = TempPath("one_run.h5");
  ResultsWriter::Open(path, SampleRunInfo("a"), false)->Close();
  const ResultsReader reader(path);
  try {
    reader.ReadCells("b");
    FAIL() << "read an unknown run";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kNotFound);
  }
  EXPECT_THROW(ResultsWriter::Open(path, SampleRunInfo("a/b"), true), Error);
}

// results/testdata/schema_v2.h5 was written by the schema 2 writer (variable-length strings, the
// earliest HDF5 format) at commit 7373e2d, from these cells and this provenance.
RunInfo SchemaTwoRunInfo() {
  RunInfo info = SampleRunInfo("v2-run");
  info.host = "oldhost";
  info.cpu_model = "Old CPU @ 2.0GHz";
  info.start_time_utc = "2026-01-02T03:04:05Z";
  info.sonicbench_version = "0.1.0";
  info.git_commit = "0123456789ab";
  info.library_versions = {{"hdf5", "1.10.8"}, {"onednn", "2.6.3"}};
  info.complete = true;
  // The AMX peaks were added to the host record after schema 2: such files read them as 0.
  info.system.amx_bf16_peak_gflops = 0.0;
  info.system.amx_int8_peak_gops = 0.0;
  return info;
}

struct SchemaTwoCell {
  CellSettings settings;
  CellResult result;
};

std::vector<SchemaTwoCell> SchemaTwoCells() {
  std::vector<SchemaTwoCell> cells;
  cells.push_back({SampleSettings(1, 1), SampleResult(1, 40, 1e6, 1000)});
  CellSettings remote = SampleSettings(2, 3);
  remote.target = TargetKind::kRemote;
  remote.server_address = "10.0.0.1:8001";
  CellResult fleet = SampleResult(2, 30, 2e6, 500);
  testing::AddServersAndRanks(fleet, 3, 2);
  fleet.server = ServerStats{30, 60, 20, 1000, 2000, 3000, 4000, {{1, 10}, {2, 10}}};
  cells.push_back({remote, fleet});
  CellResult failed;
  failed.status = CellStatus::kFailed;
  failed.error_message = "onednn: out of memory (ünïcode)";
  cells.push_back({SampleSettings(4, 1), failed});
  return cells;
}

TEST(ResultsFileTest, ReadsSchemaTwoFilesOfTheOldWriterAndAppendsToThem) {
  const std::string old_file = std::string(SONIC_RESULTS_TESTDATA) + "/schema_v2.h5";
  const auto expect_old_run = [](const ResultsReader& reader) {
    EXPECT_EQ(reader.ReadRunInfo("v2-run"), SchemaTwoRunInfo());
    const std::vector<CellRecord> cells = reader.ReadCells("v2-run");
    const std::vector<SchemaTwoCell> expected = SchemaTwoCells();
    ASSERT_EQ(cells.size(), expected.size());
    for (std::size_t i = 0; i < cells.size(); ++i) {
      ExpectSameCell(expected[i].settings, expected[i].result, cells[i]);
    }
    EXPECT_EQ(reader.FinishedCells("v2-run").at(expected[2].settings.Key()), CellStatus::kFailed);
  };
  {
    const ResultsReader reader(old_file);
    EXPECT_EQ(reader.schema_version(), 2);
    EXPECT_EQ(reader.ListRuns(), std::vector<std::string>{"v2-run"});
    expect_old_run(reader);
  }
  EXPECT_NO_THROW(ValidateResultsFile(old_file));

  // A nightly history of schema 2 takes tonight's run; older readers are told it is newer.
  const std::string history = TempPath("history_v2.h5");
  std::filesystem::copy_file(old_file, history);
  {
    auto writer = ResultsWriter::Open(history, SampleRunInfo("tonight"), /*append=*/true);
    writer->AppendCell(SampleSettings(1, 1), SampleResult(5, 100, 1e6, 1100));
    writer->Close();
  }
  {
    const ResultsReader reader(history);
    EXPECT_EQ(reader.schema_version(), kResultsSchemaVersion);
    EXPECT_EQ(reader.ListRuns(), (std::vector<std::string>{"v2-run", "tonight"}));
    expect_old_run(reader);
    ExpectSameCell(SampleSettings(1, 1), SampleResult(5, 100, 1e6, 1100),
                   reader.ReadCells("tonight").at(0));
  }
  // A schema 2 run cannot be continued (its strings are variable-length).
  try {
    ResultsWriter::Resume(history, "v2-run");
    FAIL() << "resumed a schema 2 run";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("schema 2"), std::string::npos) << error.what();
  }
}

TEST(ResultsFileTest, LongStringsWidenTheCellsTableWithoutLosingRows) {
  const std::string path = TempPath("wide.h5");
  CellSettings long_model = SampleSettings(2, 1);
  long_model.model = std::string(300, 'm');
  CellResult failed;
  failed.status = CellStatus::kFailed;
  failed.error_message = std::string(5000, 'e');
  {
    auto writer = ResultsWriter::Open(path, SampleRunInfo("r"), /*append=*/false);
    writer->AppendCell(SampleSettings(1, 1), SampleResult(1, 100, 1e6, 50.0));
    writer->AppendCell(long_model, SampleResult(2, 100, 1e6, 60.0));
    writer->AppendCell(SampleSettings(4, 1), failed);
    writer->Close();
  }
  {
    auto writer = ResultsWriter::Resume(path, "r");
    writer->AppendCell(SampleSettings(8, 1), SampleResult(3, 100, 1e6, 70.0));
    writer->Close();
  }
  const std::vector<CellRecord> cells = ResultsReader(path).ReadCells("r");
  ASSERT_EQ(cells.size(), 4u);
  ExpectSameCell(SampleSettings(1, 1), SampleResult(1, 100, 1e6, 50.0), cells[0]);
  ExpectSameCell(long_model, SampleResult(2, 100, 1e6, 60.0), cells[1]);
  ExpectSameCell(SampleSettings(4, 1), failed, cells[2]);
  ExpectSameCell(SampleSettings(8, 1), SampleResult(3, 100, 1e6, 70.0), cells[3]);
}

TEST(ResultsFileTest, ResumeAndAppendRefuseADamagedFileAndLeaveItAlone) {
  const std::string path = TempPath("damaged.h5");
  {
    auto writer = ResultsWriter::Open(path, SampleRunInfo("r"), /*append=*/false);
    writer->AppendCell(SampleSettings(1, 1), SampleResult(1, 100, 1e6, 50.0));
  }
  const std::string bytes = testing::DamageAHistogramHeader(path);
  EXPECT_EQ(ResultsReader(path).FinishedCells("r").size(), 1u);

  for (const bool resume : {true, false}) {
    try {
      if (resume) {
        ResultsWriter::Resume(path, "r");
      } else {
        ResultsWriter::Open(path, SampleRunInfo("more"), /*append=*/true);
      }
      FAIL() << (resume ? "resumed" : "appended to") << " a damaged file";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
      EXPECT_EQ(std::string(error.what()).rfind(path, 0), 0u) << error.what();
    }
    EXPECT_EQ(testing::FileBytes(path), bytes);
  }
}

}  // namespace
}  // namespace sonic
