// Opens files written by ResultsWriter with Debian's Python and h5py (results/check_schema.py):
// the schema is what SCHEMA.md says, and the stored percentiles agree with the raw records.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
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

// Runs a Python snippet with h5py on `path` (bound to `f`, opened read-write); returns its status.
int WithH5py(const std::string& path, const std::string& body) {
  const std::string command = fmt::format(
      "{} -c \"import h5py\nwith h5py.File('{}', 'r+') as f:\n{}\"", kPython, path, body);
  return std::system(command.c_str());
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
    fleet_settings.target = TargetKind::kRemote;
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
    open_loop.mode = LoadMode::kOpen;
    open_loop.rate_hz = 1000;
    writer->AppendCell(open_loop, testing::SampleResult(3, 3'000, 1e6, 1000, /*raw_cap=*/500));
    // Schema v5: a probe of a latency-bound search, judged against its bound.
    CellSettings probe = open_loop;
    probe.search_over = SearchOver::kRate;
    probe.latency_bound_ms = 2;
    probe.latency_percentile = 99;
    probe.search_role = SearchRole::kProbe;
    CellResult judged = testing::SampleResult(5, 3'000, 1e6, 1000);
    judged.within_bound_requests = judged.completed_requests - 1;
    judged.bound_met = true;
    judged.bound_verdict_reason = "p99 1.9 ms <= 2 ms";
    writer->AppendCell(probe, judged);
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

TEST(CheckSchemaTest, TheHostRecordIsReadByH5pyAndOptionalForOlderFiles) {
  if (!HavePythonH5py()) GTEST_SKIP() << kPython << " with h5py and numpy is not installed";
  const std::string path = testing::TempPath("system.h5");
  const RunInfo info = testing::SampleRunInfo("run");
  {
    auto writer = ResultsWriter::Open(path, info, /*append=*/false);
    writer->AppendCell(testing::SampleSettings(1, 1), testing::SampleResult(1, 100, 3e4, 5e4));
    writer->Close();
  }
  EXPECT_EQ(CheckSchema(path), 0);
  // h5py sees what the writer was given.
  EXPECT_EQ(
      WithH5py(path, fmt::format("    s = f['runs/run/system'].attrs\n"
                                 "    assert s['cpu_cores'] == {}, s['cpu_cores']\n"
                                 "    assert s['isa'].decode() == '{}', s['isa']\n"
                                 "    assert s['int8_peak_gops'] == {}\n"
                                 "    assert s['bf16_peak_gflops'] == {}\n"
                                 "    assert s['amx_bf16_peak_gflops'] == {}\n"
                                 "    assert s['amx_int8_peak_gops'] == {}\n"
                                 "    assert s['stream_triad_gbs'] == {}",
                                 info.system.cpu_cores, info.system.isa, info.system.int8_peak_gops,
                                 info.system.bf16_peak_gflops, info.system.amx_bf16_peak_gflops,
                                 info.system.amx_int8_peak_gops, info.system.stream_triad_gbs)),
      0);
  // A file from before the AMX peaks were recorded: valid, and read with them 0.
  ASSERT_EQ(WithH5py(path,
                     "    del f['runs/run/system'].attrs['amx_bf16_peak_gflops']\n"
                     "    del f['runs/run/system'].attrs['amx_int8_peak_gops']"),
            0);
  EXPECT_EQ(CheckSchema(path), 0);
  RunSystem without_amx = info.system;
  without_amx.amx_bf16_peak_gflops = 0.0;
  without_amx.amx_int8_peak_gops = 0.0;
  EXPECT_EQ(ResultsReader(path).ReadRunInfo("run").system, without_amx);
  // Where present, an AMX peak must be a number.
  ASSERT_EQ(WithH5py(path, "    f['runs/run/system'].attrs['amx_int8_peak_gops'] = 'fast'"), 0);
  EXPECT_EQ(CheckSchema(path), 1);
  EXPECT_THROW(ResultsReader(path).ReadRunInfo("run"), Error);
  ASSERT_EQ(WithH5py(path, "    f['runs/run/system'].attrs['amx_int8_peak_gops'] = 0.0"), 0);
  // A core count stored as a float is caught.
  ASSERT_EQ(WithH5py(path, "    f['runs/run/system'].attrs['cpu_cores'] = 2.5"), 0);
  EXPECT_EQ(CheckSchema(path), 1);
  // A file from before the record: valid, and read with every host figure 0 and the rest intact.
  ASSERT_EQ(WithH5py(path, "    del f['runs/run/system']"), 0);
  EXPECT_EQ(CheckSchema(path), 0);
  const ResultsReader reader(path);
  const RunInfo read = reader.ReadRunInfo("run");
  EXPECT_EQ(read.system, RunSystem{});
  EXPECT_EQ(read.cpu_peak_gflops, info.cpu_peak_gflops);
  EXPECT_EQ(reader.ReadCells("run").size(), 1u);
}

TEST(CheckSchemaTest, RejectsAFileThatIsNotAResultsFile) {
  if (!HavePythonH5py()) GTEST_SKIP() << kPython << " with h5py and numpy is not installed";
  const std::string path = testing::TempPath("not_results.h5");
  std::ofstream(path) << "not hdf5";
  EXPECT_EQ(CheckSchema(path), 1);
}

// A cell's physics measurement as h5py reads it: the stored AUC and rejections are the ones its
// ROC curve gives, and scikit-learn's roc_auc_score (where installed) agrees on the same scores;
// a stored AUC moved by 1e-6 is caught.
TEST(CheckSchemaTest, AnAccuracyCellsFiguresAreTheOnesItsRocCurveGives) {
  if (!HavePythonH5py()) GTEST_SKIP() << kPython << " with h5py and numpy is not installed";
  const std::string path = testing::TempPath("accuracy.h5");
  std::vector<float> scores;
  std::vector<std::int32_t> labels;
  for (int i = 0; i < 200; ++i) {
    labels.push_back(i % 3 == 0 ? 1 : 0);
    scores.push_back(static_cast<float>((i * 37) % 101) / 100.0f + (labels.back() == 1 ? 0.3f : 0));
  }
  CellResult result = testing::SampleResult(1, 100, 3e4, 5e4);
  result.accuracy = CellAccuracy{.dataset = "jets.h5",
                                 .signal_class = 0,
                                 .error = "",
                                 .score = ScoreTagger(scores, 1, 0, labels, scores)};
  {
    auto writer = ResultsWriter::Open(path, testing::SampleRunInfo("run"), /*append=*/false);
    writer->AppendCell(testing::SampleSettings(1, 1), result);
    writer->Close();
  }
  EXPECT_EQ(CheckSchema(path), 0);
  std::string score_list;
  std::string label_list;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    score_list += fmt::format("{}{}", i ? "," : "", scores[i]);
    label_list += fmt::format("{}{}", i ? "," : "", labels[i]);
  }
  EXPECT_EQ(WithH5py(path, fmt::format("    row = f['runs/run/cells'][0]\n"
                                       "    assert row['accuracy_samples'] == 200\n"
                                       "    try:\n"
                                       "        from sklearn.metrics import roc_auc_score\n"
                                       "    except ImportError:\n"
                                       "        raise SystemExit(0)\n"
                                       "    auc = roc_auc_score([{}], [{}])\n"
                                       "    assert abs(row['roc_auc'] - auc) < 1e-12, auc\n",
                                       label_list, score_list)),
            0);
  ASSERT_EQ(WithH5py(path,
                     "    t = f['runs/run/cells']\n"
                     "    row = t[0]\n"
                     "    row['roc_auc'] += 1e-6\n"
                     "    t[0] = row\n"),
            0);
  EXPECT_EQ(CheckSchema(path), 1);
}

}  // namespace
}  // namespace sonic
