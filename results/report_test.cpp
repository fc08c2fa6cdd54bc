#include "results/report.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "results/test_cells.h"
#include "results/test_temp_dir.h"

namespace sonic {
namespace {

using testing::SampleResult;
using testing::SampleSettings;

// A run of three cells, each with 1% throughput noise; `throughput_scale` and `latency_scale`
// change every cell the same way.
std::vector<CellRecord> SampleRun(std::uint64_t seed, double throughput_scale,
                                  double latency_scale) {
  std::vector<CellRecord> cells;
  for (std::int64_t i = 0; i < 3; ++i) {
    CellRecord cell;
    cell.index = i;
    cell.settings = SampleSettings(std::int64_t{1} << i, 2);
    cell.result = SampleResult(seed + i, 20'000, 1e6 * latency_scale, 1000.0 * throughput_scale);
    cells.push_back(std::move(cell));
  }
  return cells;
}

TEST(CompareTest, FlagsATwentyPercentThroughputDrop) {
  const Comparison c = Compare(SampleRun(1, 1.0, 1.0), SampleRun(100, 0.8, 1.0), 0.05);
  EXPECT_TRUE(c.regression);
  ASSERT_EQ(c.changes.size(), 3u);
  for (const CellChange& change : c.changes) {
    EXPECT_EQ(change.kind, CellChange::Kind::kCompared);
    EXPECT_TRUE(change.throughput_regression);
    EXPECT_FALSE(change.latency_regression);
    EXPECT_NEAR(change.throughput_change, -0.2, 1e-12);
    EXPECT_NEAR(change.throughput_noise, std::hypot(10.0, 8.0) / 1000, 1e-12);
  }
  EXPECT_NE(FormatComparison(c, 0.05).find("REGRESSION (throughput)"), std::string::npos);
}

TEST(CompareTest, DoesNotFlagAOnePercentDropWithinNoise) {
  const Comparison c = Compare(SampleRun(1, 1.0, 1.0), SampleRun(100, 0.99, 1.0), 0.05);
  EXPECT_FALSE(c.regression) << FormatComparison(c, 0.05);
  EXPECT_NE(FormatComparison(c, 0.05).find("no regression"), std::string::npos);
}

TEST(CompareTest, ADropBeyondTheThresholdButWithinNoiseIsNotARegression) {
  auto base = SampleRun(1, 1.0, 1.0);
  auto next = SampleRun(100, 0.9, 1.0);
  for (CellRecord& cell : next) cell.result.throughput_inferences_per_s_ci95 = 150;
  EXPECT_FALSE(Compare(base, next, 0.05).regression);
  // The same drop with a tight CI is one; with a threshold above it, it is not.
  EXPECT_TRUE(Compare(base, SampleRun(100, 0.9, 1.0), 0.05).regression);
  EXPECT_FALSE(Compare(base, SampleRun(100, 0.9, 1.0), 0.15).regression);
}

TEST(CompareTest, FlagsAP99LatencyRiseButNotResampling) {
  const Comparison slower = Compare(SampleRun(1, 1.0, 1.0), SampleRun(100, 1.0, 1.3), 0.05);
  EXPECT_TRUE(slower.regression);
  for (const CellChange& change : slower.changes) {
    EXPECT_TRUE(change.latency_regression);
    EXPECT_GT(change.p99_change, change.p99_noise);
    EXPECT_NEAR(change.p99_change, 0.3, 2 * change.p99_noise) << change.p99_noise;
  }
  // Another sample of the same distribution: p99 moves by its sampling noise only.
  EXPECT_FALSE(Compare(SampleRun(1, 1.0, 1.0), SampleRun(100, 1.0, 1.0), 0.05).regression);
}

TEST(CompareTest, MatchesBySettingsAndReportsFailuresAndMissingCells) {
  auto base = SampleRun(1, 1.0, 1.0);
  auto next = SampleRun(100, 1.0, 1.0);
  std::reverse(next.begin(), next.end());  // matching is by key, not position
  next.pop_back();                         // base cell 0 is missing in new
  CellRecord added;
  added.settings = SampleSettings(64, 1);
  added.result = SampleResult(7, 100, 1e6, 10);
  next.push_back(added);
  EXPECT_FALSE(Compare(base, next, 0.05).regression);

  next[0].result.status = CellStatus::kFailed;  // base cell 2
  const Comparison c = Compare(base, next, 0.05);
  EXPECT_TRUE(c.regression);
  ASSERT_EQ(c.changes.size(), 4u);
  EXPECT_EQ(c.changes[0].kind, CellChange::Kind::kMissing);
  EXPECT_EQ(c.changes[1].kind, CellChange::Kind::kCompared);
  EXPECT_EQ(c.changes[2].kind, CellChange::Kind::kNewFailure);
  EXPECT_EQ(c.changes[3].kind, CellChange::Kind::kAdded);
}

TEST(CompareTest, AMissingCellFailsTheGateUnlessAllowedAndTheVerdictCountsIt) {
  const auto base = SampleRun(1, 1.0, 1.0);
  auto next = SampleRun(100, 1.0, 1.0);
  next.pop_back();  // base's last cell is missing in new
  const Comparison c = Compare(base, next, 0.05);
  EXPECT_FALSE(c.regression);
  EXPECT_EQ(c.missing, 1);
  EXPECT_TRUE(GateFails(c, /*allow_missing=*/false));
  EXPECT_FALSE(GateFails(c, /*allow_missing=*/true));
  const std::string text = FormatComparison(c, 0.05);
  EXPECT_NE(text.find("MISSING: 1 of 3 cells missing in new"), std::string::npos) << text;
  EXPECT_NE(FormatComparison(c, 0.05, /*allow_missing=*/true)
                .find("no regression beyond 5% and noise in 3 cells; 1 of 3 cells missing in new "
                      "(allowed)"),
            std::string::npos);
  EXPECT_FALSE(GateFails(Compare(base, SampleRun(100, 1.0, 1.0), 0.05), false));
}

TEST(ReportTest, TableHasOneLinePerCellWithStatus) {
  auto cells = SampleRun(1, 1.0, 1.0);
  cells[1].result.status = CellStatus::kFailed;
  cells[1].result.error_message = "out of memory";
  RunInfo info;
  info.run_id = "r1";
  info.complete = true;
  const std::string report = FormatReport(info, cells);
  EXPECT_NE(report.find("run r1 (complete), 3 cells"), std::string::npos) << report;
  EXPECT_NE(report.find("failed: out of memory"), std::string::npos) << report;
  EXPECT_NE(report.find("1000 ± 10.0"), std::string::npos) << report;
  EXPECT_EQ(std::count(report.begin(), report.end(), '\n'), 3 + 3) << report;
}

TEST(ReportTest, HeaderShowsTheHostOnlyWhereTheFileRecordsIt) {
  const auto cells = SampleRun(1, 1.0, 1.0);
  RunInfo info;
  info.run_id = "r1";
  EXPECT_EQ(FormatReport(info, cells).find("host:"), std::string::npos);
  info.system = {.cpu_cores = 4, .online_cpus = 2, .isa = "avx2 fma", .int8_peak_gops = 1200.4};
  const std::string report = FormatReport(info, cells);
  EXPECT_NE(report.find("  host: 4 cores (2 usable), avx2 fma; int8 1200 GOP/s\n"),
            std::string::npos)
      << report;
  info.system.bf16_peak_gflops = 600.2;
  info.system.stream_triad_gbs = 31.34;
  EXPECT_NE(FormatReport(info, cells).find("; int8 1200 GOP/s, bf16 600 GFLOP/s, memory 31.3 GB/s"),
            std::string::npos);
  info.system.amx_bf16_peak_gflops = 9000.4;
  info.system.amx_int8_peak_gops = 18000.6;
  EXPECT_NE(FormatReport(info, cells)
                .find(", bf16 600 GFLOP/s, amx bf16 9000 GFLOP/s, amx int8 18001 GOP/s, memory"),
            std::string::npos);
}

TEST(ReportTest, ShowsEachServersShareAndEachRankOfAFleet) {
  auto cells = SampleRun(1, 1.0, 1.0);
  testing::AddServersAndRanks(cells[2].result, 5, 3);
  RunInfo info;
  info.run_id = "r1";
  const std::string report = FormatReport(info, cells);
  const ServerShare& first = cells[2].result.servers[0];
  EXPECT_NE(report.find(fmt::format("server 10.0.0.1:8001: {} requests", first.requests)),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("server 10.0.0.2:8001:"), std::string::npos) << report;
  EXPECT_NE(report.find("fleet: 3 ranks on 2 host(s), windows aligned within 2.08 us"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("rank 1 (node0): 2 clients"), std::string::npos) << report;
  EXPECT_NE(report.find("rank 2 (node1): 1 clients"), std::string::npos) << report;
}

TEST(ReportTest, RemoteCellsNameTheirLinkAndTheServersBatcher) {
  auto cells = SampleRun(1, 1.0, 1.0);
  cells[1].settings.target = TargetKind::kRemote;
  cells[1].settings.link = "cloud";
  cells[1].settings.dynamic_batching = true;
  cells[2].settings.target = TargetKind::kRemote;
  cells[2].settings.dynamic_batching = false;
  const std::string report = FormatReport(RunInfo{}, cells);
  EXPECT_NE(report.find(" remote/cloud+batching "), std::string::npos) << report;
  EXPECT_EQ(std::count(report.begin(), report.end(), '+'), 1) << "batching off is not named";
  const std::string csv = FormatCsv(cells);
  EXPECT_NE(csv.find(",dynamic_batching,backend_settings,accuracy_dataset,"), std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",on,,,,,,,\n"), std::string::npos) << csv;
}

// Issue 19 §2: cells with a physics measurement get a table of AUC (and its change from fp32),
// rejections as "> N" where no background passed, accuracy and deviation; and CSV fields.
TEST(ReportTest, PhysicsCellsShowTheirAucBesideTheirSpeed) {
  auto cells = SampleRun(1, 1.0, 1.0);
  const std::vector<std::int32_t> labels = {1, 0, 1, 0, 0};
  const std::vector<float> fp32 = {0.9f, 0.1f, 0.8f, 0.2f, 0.3f};
  const std::vector<float> narrow = {0.9f, 0.85f, 0.8f, 0.2f, 0.3f};  // one background above 0.8
  cells[0].settings.precision = "fp32";
  cells[0].result.accuracy = CellAccuracy{"jets.h5", 0, "", ScoreTagger(fp32, 1, 0, labels, fp32)};
  cells[1].settings.precision = "int8";
  cells[1].result.accuracy =
      CellAccuracy{"jets.h5", 0, "", ScoreTagger(narrow, 1, 0, labels, fp32)};
  cells[2].result.accuracy = CellAccuracy{"raw.bin", 0, "invalid_argument: no labels", {}};
  const std::string report = FormatReport(RunInfo{}, cells);
  EXPECT_NE(report.find("physics performance"), std::string::npos) << report;
  // int8: signal 0.9, background 0.85, signal 0.8: AUC 5/6, 1/eB at 0.5 still > 3, at 1.0 3.
  EXPECT_NE(report.find(" 0.83333  -0.16667       > 3       > 3   0.8000      0.75\n"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find(" 1.00000  +0.00000       > 3       > 3   1.0000         0\n"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("not measured: invalid_argument: no labels"), std::string::npos) << report;
  EXPECT_NE(report.find("on the first 5 samples of jets.h5 (2 signal), signal: output 0"),
            std::string::npos)
      << report;
  const std::string csv = FormatCsv(cells);
  EXPECT_NE(csv.find(",jets.h5,0.8333333333333334,inf,inf,0.8,0.75"), std::string::npos) << csv;
}

// The same workflow locally and through the service: the remote cell's line says how many times
// the local events/s it reaches; a cell without a workflow has no such line.
TEST(ReportTest, WorkflowCellsShowTheirEventsAndTheSpeedupOverLocalInference) {
  auto cells = SampleRun(1, 1.0, 1.0);
  for (std::size_t i = 0; i < 2; ++i) {
    CellSettings& s = cells[i].settings;
    s = cells[0].settings;
    s.event_work = "elsewhere:20";
    s.event_work_spread = "fixed";
    s.requests_per_event = 1;
    s.client_mode = ClientMode::kAsync;
    s.concurrency = 4;
    cells[i].result.completed_events = 1000;
    cells[i].result.event_time.Record(20'000'000);
    cells[i].result.event_ns_total = 20'000'000'000;
    cells[i].result.event_inference_ns_total = 5'000'000'000;
  }
  cells[0].result.throughput_events_per_s = 100;
  cells[1].settings.target = TargetKind::kRemote;
  cells[1].settings.link = "edge";
  cells[1].settings.dynamic_batching = true;
  cells[1].settings.threads = 7;
  cells[1].result.throughput_events_per_s = 250;
  cells[1].result.instance_duty_cycles = {0.5};
  const std::string report = FormatReport(RunInfo{}, cells);
  EXPECT_NE(report.find("jobs (elsewhere:20 async, fixed x1 per event): 100.0 events/s, 25.0 per "
                        "job; event p50 20"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("25% in inference"), std::string::npos) << report;
  EXPECT_NE(report.find("instance duty 0.50; 2.50x the events/s of local inference"),
            std::string::npos)
      << report;
  EXPECT_EQ(report.find("x the events/s", report.find("2.50x") + 5), std::string::npos)
      << "one speedup line, for the remote cell only";
}

// Three remote cells that differ only in jobs make a series; the summary names the plateau, the
// knee and how many jobs (and cores) one server takes within the budget.
TEST(ReportTest, ASeriesOverJobsGetsItsSaturation) {
  std::vector<CellRecord> cells;
  for (std::int64_t jobs : {1, 2, 4, 8}) {
    CellRecord cell;
    cell.index = static_cast<std::int64_t>(cells.size());
    cell.settings = SampleSettings(1, jobs);
    cell.settings.target = TargetKind::kRemote;
    cell.result = SampleResult(jobs, 1000, 1e6 * jobs, std::min<double>(100.0 * jobs, 400));
    cells.push_back(cell);
  }
  const double p99_of_4_ms = cells[2].result.latency.Percentile(0.99) * 1e-6;
  ReportOptions options;
  options.latency_budget_ms = p99_of_4_ms;
  options.cores_per_job = 4;
  const std::string report = FormatReport(RunInfo{}, cells, options);
  EXPECT_NE(report.find("saturation against jobs"), std::string::npos) << report;
  EXPECT_NE(report.find("knee at 4 jobs"), std::string::npos) << report;
  EXPECT_NE(report.find(fmt::format("p99 within {:g} ms up to 4 jobs", p99_of_4_ms)),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("one such server serves 4 jobs: 16 CPU cores at 4 per job"),
            std::string::npos)
      << report;
}

TEST(ReportTest, CsvRowsHoldTheBackendSettingsThenThePhysics) {
  auto cells = SampleRun(1, 1.0, 1.0);
  cells[0].result.backend_settings = "idle=spin:20ms";
  const std::string csv = FormatCsv(cells);
  EXPECT_NE(csv.find(",idle=spin:20ms,,,,,,\n"), std::string::npos) << csv;
}

TEST(ReportTest, CsvHasAHeaderAndOneQuotedRowPerCell) {
  auto cells = SampleRun(1, 1.0, 1.0);
  cells[0].result.error_message = "a \"quoted\", message";
  const std::string path = testing::TempPath("cells.csv");
  WriteCsv(path, cells);
  std::ifstream file(path);
  std::stringstream content;
  content << file.rdbuf();
  const std::string csv = content.str();
  EXPECT_EQ(csv, FormatCsv(cells));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  EXPECT_NE(csv.find("\"a \"\"quoted\"\", message\""), std::string::npos);
  const std::string header = csv.substr(0, csv.find('\n'));
  const std::string last_row = csv.substr(csv.rfind('\n', csv.size() - 2) + 1);
  EXPECT_EQ(std::count(header.begin(), header.end(), ','), 53);
  EXPECT_EQ(std::count(last_row.begin(), last_row.end(), ','), 53) << last_row;
  EXPECT_THROW(WriteCsv("/nonexistent-dir/cells.csv", cells), Error);
}

}  // namespace
}  // namespace sonic
