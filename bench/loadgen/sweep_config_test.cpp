#include "bench/loadgen/sweep_config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "datasets/sample_source.h"

namespace sonic {
namespace {

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument);
    return error.what();
  }
  ADD_FAILURE() << "expected an error";
  return {};
}

SweepConfig FromText(std::string_view text) {
  return BuildSweepConfig(ParseConfigText(text, "test.conf"));
}

TEST(SweepAxes, GeometricRangesIncludeBothEnds) {
  EXPECT_EQ(ParseIntAxis("1-64*2", "batch"), (std::vector<std::int64_t>{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(ParseIntAxis("1,2,4", "batch"), (std::vector<std::int64_t>{1, 2, 4}));
  EXPECT_EQ(ParseIntAxis("1-4", "batch"), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(ParseIntAxis("3-30*3", "batch"), (std::vector<std::int64_t>{3, 9, 27}));
  EXPECT_EQ(ParseIntAxis("1, 8-32*2, 8", "batch"), (std::vector<std::int64_t>{1, 8, 16, 32}));
  EXPECT_EQ(ParseRateAxis("100-800*2", "rate_hz"), (std::vector<double>{100, 200, 400, 800}));
  EXPECT_EQ(ParseRateAxis("2.5, 1e3", "rate_hz"), (std::vector<double>{2.5, 1000}));
}

TEST(SweepAxes, RejectsBadItems) {
  EXPECT_NE(ErrorOf([] { ParseIntAxis("0,1", "batch"); }).find("positive"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseIntAxis("8-1*2", "batch"); }).find("backwards"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseIntAxis("1-8*1", "batch"); }).find("factor"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseIntAxis("1,,2", "batch"); }).find("empty"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseIntAxis("two", "batch"); }).find("batch"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseIntAxis("1.5", "batch"); }).find("integer"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseRateAxis("100-800", "rate_hz"); }).find("factor"), std::string::npos);
}

TEST(SweepConfig, ParsesTheTextFormatAndExpandsTheGrid) {
  const SweepConfig config = FromText(R"(
# a comment
[sweep]
backend = null, reference   # trailing comment
model = "jet_cnn"
precision = ["fp32"]
batch = [1, 2, 4]
concurrency = 1-2
repeats = 2
min_duration_s = 2
)");
  EXPECT_EQ(config.backends, (std::vector<std::string>{"null", "reference"}));
  EXPECT_EQ(config.batches, (std::vector<std::int64_t>{1, 2, 4}));
  EXPECT_DOUBLE_EQ(config.load.min_duration_s, 2);
  const std::vector<SweepCell> cells = ExpandCells(config);
  ASSERT_EQ(cells.size(), 2u * 3 * 2 * 2);
  // The last axis (repeat) varies fastest; the first cell is the first value of every axis.
  EXPECT_EQ(cells[0].settings.backend, "null");
  EXPECT_EQ(cells[0].settings.batch, 1);
  EXPECT_EQ(cells[0].settings.repeat, 0);
  EXPECT_EQ(cells[1].settings.repeat, 1);
  EXPECT_EQ(cells[2].settings.concurrency, 2);
  EXPECT_EQ(cells.back().settings.backend, "reference");
  std::set<std::string> keys;
  for (const SweepCell& cell : cells) keys.insert(cell.settings.Key());
  EXPECT_EQ(keys.size(), cells.size()) << "every cell has its own key";
  EXPECT_NE(cells[0].load.arrival_seed, cells[1].load.arrival_seed) << "repeats differ";
}

TEST(SweepConfig, CanonicalTextReproducesTheGrid) {
  const SweepConfig config = FromText("backend = null\nmodel = jet_cnn\nbatch = 1-8*2\n");
  const SweepConfig again = FromText(config.canonical_text);
  EXPECT_EQ(again.canonical_text, config.canonical_text);
  const auto a = ExpandCells(config), b = ExpandCells(again);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].settings.Key(), b[i].settings.Key());
  EXPECT_NE(config.canonical_text.find("min_duration_s = 5"), std::string::npos)
      << "defaults are written out";
}

TEST(SweepConfig, FlagsOverrideTheFile) {
  ConfigEntries entries = ParseConfigText("backend = null\nmodel = jet_cnn\nbatch = 1\n", "f");
  entries.push_back({"batch", "2,4", "--batch", "", ""});
  EXPECT_EQ(BuildSweepConfig(entries).batches, (std::vector<std::int64_t>{2, 4}));
}

TEST(SweepConfig, OpenLoopTakesEveryRate) {
  const SweepConfig config = FromText(
      "backend = null\nmodel = jet_cnn\nmode = closed, open\nrate_hz = 100, 200\n"
      "arrival = poisson\n");
  const std::vector<SweepCell> cells = ExpandCells(config);
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(cells[0].settings.mode, LoadMode::kClosed);
  EXPECT_EQ(cells[0].settings.rate_hz, 0);
  EXPECT_EQ(cells[2].load.mode, LoadMode::kOpen);
  EXPECT_EQ(cells[2].load.rate_hz, 200);
  EXPECT_EQ(cells[2].load.arrival, ArrivalProcess::kPoisson);
}

TEST(SweepConfig, ListsEveryProblemWithItsLine) {
  const std::string message = ErrorOf([] {
    FromText(R"(backend = null, nosuch
model = jet_cnn
batchs = 4
precision = fp33
mode = open
warmup_s = -1
)");
  });
  EXPECT_NE(message.find("test.conf:1: unknown backend 'nosuch': this build has"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("test.conf:3: unknown key 'batchs' (did you mean 'batch'?)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("test.conf:4:"), std::string::npos) << message;
  EXPECT_NE(message.find("mode open needs rate_hz"), std::string::npos) << message;
}

SweepConfig FromFile(std::string_view text) {
  return BuildSweepConfig(ParseConfigText(text, "x.conf"));
}

TEST(SweepConfig, RejectsMalformedLinesAndRepeatedKeys) {
  EXPECT_NE(ErrorOf([] { FromFile("batch 4\n"); }).find("x.conf:1: expected"), std::string::npos);
  EXPECT_NE(ErrorOf([] { FromFile("batch = 1\nbatch = 2\n"); }).find("set twice"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { FromFile("[grid]\n"); }).find("unknown section"), std::string::npos);
}

// Issue 22 §4: a malformed line, a repeated key or a bad number used to hide every other problem.
TEST(SweepConfig, ListsLineProblemsTogetherWithValueProblems) {
  const std::string message = ErrorOf([] {
    FromFile(
        "[grid]\nbackend = null\nmodel = jet_cnn\nbatch = 1\nbatch = 2\nmax_queue_delay_us = x\n"
        "server_max_batch = 12abc\nwarmup_s = -1\n");
  });
  for (const char* expected :
       {"x.conf:1: unknown section '[grid]'", "x.conf:5: 'batch' is set twice (first at x.conf:4)",
        "x.conf:6: max_queue_delay_us: 'x' is not an integer",
        "x.conf:7: server_max_batch: '12abc' is not an integer", "x.conf:8: warmup_s"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\n" << message;
  }
  EXPECT_EQ(message.find("internal"), std::string::npos) << message;
}

TEST(SweepConfig, MessagesUseTheUsersKeyNamesAndUnits) {
  const std::string lag =
      ErrorOf([] { FromFile("backend = null\nmodel = jet_cnn\nmax_send_lag_us = -1\n"); });
  EXPECT_NE(lag.find("x.conf:3: max_send_lag_us: -1 is out of range"), std::string::npos) << lag;
  EXPECT_EQ(lag.find("max_send_lag_s"), std::string::npos) << lag;
  const std::string ci =
      ErrorOf([] { FromFile("backend = null\nmodel = jet_cnn\nci_percent = 0\n"); });
  EXPECT_NE(ci.find("x.conf:3: ci_percent: 0 is out of range"), std::string::npos) << ci;
}

TEST(SweepConfig, EveryNumberRejectsTrailingText) {
  for (const char* key :
       {"instances", "max_queue_delay_us", "server_max_batch", "channels", "repeats", "threads",
        "seed", "warmup_s", "warmup_requests", "min_duration_s", "min_requests", "max_duration_s",
        "ci_percent", "sub_windows", "stop_after_failures", "raw_record_cap", "max_send_lag_us",
        "batch", "concurrency"}) {
    const std::string message = ErrorOf([&] {
      FromFile(fmt::format("backend = null\nmodel = jet_cnn\ntarget = remote\n{} = 12abc\n", key));
    });
    EXPECT_NE(message.find(fmt::format("x.conf:4: {}: '12abc' is not", key)), std::string::npos)
        << message;
  }
}

TEST(SweepConfig, RejectsServerAddressesGrpcCannotUse) {
  for (const char* address : {":::", "127.0.0.1:99999", "127.0.0.1:0", "host", "::1:8001",
                              "[::1:8001", ":8001", "a b:1", "unix:"}) {
    const std::string message = ErrorOf([&] {
      FromFile(
          fmt::format("backend = null\nmodel = jet_cnn\ntarget = remote\nserver = {}\n", address));
    });
    EXPECT_NE(message.find(fmt::format("x.conf:4: server '{}'", address)), std::string::npos)
        << message;
  }
  const SweepConfig ok = FromFile(
      "backend = null\nmodel = jet_cnn\ntarget = remote\nserver = localhost:8001, "
      "[::1]:8001,127.0.0.1:65535, unix:/tmp/s\n");
  EXPECT_EQ(ok.remote.servers.size(), 4u);
}

TEST(SweepConfig, RemoteOnlySettingsNeedARemoteTarget) {
  for (const char* line :
       {"link = cloud", "dynamic_batching = on", "instances = 2", "server = localhost:8001"}) {
    const std::string message =
        ErrorOf([&] { FromFile(fmt::format("backend = null\nmodel = jet_cnn\n{}\n", line)); });
    EXPECT_NE(message.find("applies to remote cells only"), std::string::npos) << message;
  }
  // The defaults, and local beside remote, are fine.
  FromFile("backend = null\nmodel = jet_cnn\nlink = none\n");
  FromFile("backend = null\nmodel = jet_cnn\ntarget = local, remote\nlink = cloud\n");
}

// Issue 22 §2: ranges are bounded before they are expanded, and so is the grid.
TEST(SweepConfig, BoundsRangesAndTheGridBeforeExpanding) {
  const std::string huge = ErrorOf([] { ParseIntAxis("1-1000000000", "batch", kMaxBatch); });
  EXPECT_NE(huge.find("batch: 1000000000 is out of range"), std::string::npos) << huge;
  const std::string overflow =
      ErrorOf([] { ParseIntAxis("1-9223372036854775807*2", "batch", kMaxBatch); });
  EXPECT_NE(overflow.find("out of range"), std::string::npos) << overflow;
  const std::string too_long = ErrorOf([] { ParseIntAxis("1-200000", "concurrency", 1'000'000); });
  EXPECT_NE(too_long.find("has 200000 values; a sweep has at most 100000"), std::string::npos)
      << too_long;
  const std::string rates = ErrorOf([] { ParseRateAxis("0.000001-1e7*1.0000001", "rate_hz"); });
  EXPECT_NE(rates.find("values; a sweep has at most"), std::string::npos) << rates;
  EXPECT_NE(ErrorOf([] { ParseRateAxis("1e12", "rate_hz"); }).find("is out of range"),
            std::string::npos);
  const std::string concurrency =
      ErrorOf([] { FromFile("backend = null\nmodel = jet_cnn\nconcurrency = 100000\n"); });
  EXPECT_NE(concurrency.find("concurrency: 100000 is out of range"), std::string::npos)
      << concurrency;
  // 4 x 2048 x 16 cells: each axis is fine, the product is not.
  const std::string grid = ErrorOf([] {
    FromFile(
        "backend = null\nmodel = jet_cnn\nprecision = fp32\nbatch = 1-2048\nconcurrency = "
        "1-16\nrepeats = 4\n");
  });
  EXPECT_NE(grid.find("the grid has more than 100000 cells"), std::string::npos) << grid;
  const SweepConfig fits =
      FromFile("backend = null\nmodel = jet_cnn\nbatch = 1-1000\nconcurrency = 1-100\n");
  EXPECT_EQ(ExpandCells(fits).size(), 100'000u);
}

TEST(SweepConfig, FlagsAndDefaultsComeFromOneKeyTable) {
  const SweepConfig defaults = FromFile("backend = null\nmodel = jet_cnn\n");
  for (const SweepKeyInfo& key : SweepKeys()) {
    EXPECT_TRUE(key.flag.starts_with("--")) << key.name;
    EXPECT_FALSE(key.help.empty()) << key.name;
    if (!key.default_value.empty()) {
      EXPECT_NE(
          defaults.canonical_text.find(fmt::format("\n{} = {}\n", key.name, key.default_value)),
          std::string::npos)
          << key.name;
    }
  }
  // The load keys' defaults are the load generator's.
  const LoadSettings load;
  EXPECT_EQ(defaults.load.warmup_s, load.warmup_s);
  EXPECT_EQ(defaults.load.min_duration_s, load.min_duration_s);
  EXPECT_EQ(defaults.load.max_duration_s, load.max_duration_s);
  EXPECT_DOUBLE_EQ(defaults.load.ci_fraction, load.ci_fraction);
  EXPECT_DOUBLE_EQ(defaults.load.max_send_lag_s, load.max_send_lag_s);
  EXPECT_EQ(defaults.load.raw_record_cap, load.raw_record_cap);
}

// Each backend of the grid checks the device selector and the backend options before any cell
// runs; the message names the line, the backend and where an option goes.
TEST(SweepConfig, EachBackendChecksTheDeviceAndItsOptions) {
  const SweepConfig config =
      FromText("backend = null\nmodel = jet_cnn\nbackend_options = latency_us=1500\n");
  EXPECT_EQ(config.backend_options, "latency_us=1500");
  EXPECT_EQ(ExpandCells(config).front().backend_options, "latency_us=1500");
  const std::string in_selector = ErrorOf(
      [] { FromText("backend = null, reference\nmodel = jet_cnn\ndevice = latency_us=1500\n"); });
  EXPECT_NE(in_selector.find("test.conf:3: null: device 'latency_us=1500'"), std::string::npos)
      << in_selector;
  EXPECT_NE(in_selector.find("--backend-options / backend_options"), std::string::npos);
  EXPECT_NE(in_selector.find("reference: device"), std::string::npos) << in_selector;
  const std::string unknown = ErrorOf(
      [] { FromText("backend = null\nmodel = jet_cnn\nbackend_options = latency_ms=2\n"); });
  EXPECT_NE(unknown.find("null: backend option 'latency_ms=2' is unknown: expected latency_us="),
            std::string::npos)
      << unknown;
}

TEST(SweepConfig, ASearchSetsItsProbesLoadAndRefusesWhatItVaries) {
  const SweepConfig rate = FromText(
      "backend = null\nmodel = jet_cnn\nmode = search\nlatency_bound_ms = 20\nconcurrency = 64\n");
  ASSERT_TRUE(rate.search.has_value());
  EXPECT_EQ(rate.search->over, SearchOver::kRate);
  EXPECT_DOUBLE_EQ(rate.search->low, 10);
  const std::vector<SweepCell> cells = ExpandCells(rate);
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(cells[0].load.mode, LoadMode::kOpen);
  EXPECT_EQ(cells[0].load.arrival, ArrivalProcess::kPoisson);
  EXPECT_EQ(cells[0].load.latency_bound->bound_ns, 20'000'000);
  EXPECT_EQ(cells[0].settings.search_role, SearchRole::kProbe);
  const SweepConfig jobs = FromText(
      "backend = null\nmodel = jet_cnn\nmode = search\nsearch_over = jobs\n"
      "search_range = 2-32\nlatency_bound_ms = 5\nlatency_percentile = 90\n");
  EXPECT_EQ(jobs.modes, std::vector<LoadMode>{LoadMode::kClosed});
  EXPECT_EQ(ExpandCells(jobs)[0].settings.concurrency, 2);
  EXPECT_DOUBLE_EQ(ExpandCells(jobs)[0].settings.latency_percentile, 90);
  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"mode = search\n", "needs latency_bound_ms"},
           {"mode = search, closed\nlatency_bound_ms = 5\n", "search runs alone"},
           {"mode = search\nlatency_bound_ms = 5\nrate_hz = 100\n", "search_range sets the rates"},
           {"mode = search\nsearch_over = jobs\nlatency_bound_ms = 5\nconcurrency = 4\n",
            "what a jobs search varies"},
           {"mode = search\nsearch_over = jobs\nlatency_bound_ms = 5\nsearch_range = 1-2.5\n",
            "whole jobs"},
           {"mode = search\nlatency_bound_ms = 5\nsearch_range = 100\n", "LOW-HIGH"},
           {"latency_bound_ms = 5\n", "applies to mode = search only"},
       }) {
    const std::string config = "backend = null\nmodel = jet_cnn\n" + text;
    const std::string error = ErrorOf([&] { FromText(config); });
    EXPECT_NE(error.find(expected), std::string::npos) << text << " -> " << error;
  }
}

// [sweep.PART] sections are grids of their own, each with the common keys; the grid is their
// cells in section order, the canonical text reproduces it, and a common line's problem is told
// once.
TEST(SweepConfig, PartsAreGridsOfTheirOwnWithTheCommonKeys) {
  const std::string text =
      "[sweep]\nbackend = null\nmodel = jet_cnn\nconcurrency = 1, 2\n"
      "[sweep.local]\ntarget = local\nprecision = fp32, int8\n"
      "[sweep.service]\ntarget = remote\nlink = none, edge\nprecision = int8\n"
      "concurrency = 4\n";
  const SweepConfig config = FromText(text);
  EXPECT_EQ(config.part_names, (std::vector<std::string>{"local", "service"}));
  const std::vector<SweepCell> cells = ExpandCells(config);
  ASSERT_EQ(cells.size(), 4u + 2u);
  EXPECT_EQ(cells[0].settings.target, TargetKind::kLocal);
  EXPECT_EQ(cells[3].settings.precision, "int8");
  EXPECT_EQ(cells[4].settings.target, TargetKind::kRemote);
  EXPECT_EQ(cells[4].settings.concurrency, 4);  // the part's own value wins over the common one
  EXPECT_EQ(cells[5].settings.link, "edge");
  const SweepConfig again = BuildSweepConfig(ParseConfigText(config.canonical_text, "stored"));
  const std::vector<SweepCell> cells_again = ExpandCells(again);
  ASSERT_EQ(cells_again.size(), cells.size());
  for (std::size_t i = 0; i < cells.size(); ++i) {
    EXPECT_EQ(cells_again[i].settings.Key(), cells[i].settings.Key());
  }
  const std::string error = ErrorOf([] {
    FromText(
        "batch = x\nbackend = null\nmodel = jet_cnn\n[sweep.a]\n[sweep.b]\n"
        "target = remote\n");
  });
  EXPECT_NE(error.find("test.conf:1: batch"), std::string::npos) << error;
  EXPECT_EQ(error.find("test.conf:1:"), error.rfind("test.conf:1:")) << "told twice: " << error;
  EXPECT_NE(ErrorOf([] { FromText("[sweep.Bad Name]\n"); }).find("unknown section"),
            std::string::npos);
}

TEST(SweepConfig, ExplainsWhatIsMissingOrUnknown) {
  EXPECT_NE(ErrorOf([] { FromText("model = jet_cnn\n"); }).find("backend is required"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] {
              FromText("backend = null\nmodel = jet_cnn\ntarget = cloud\n");
            }).find("unknown target 'cloud'"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { FromText("backend = null\nmodel = nosuch\n"); }).find("built-in model"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] {
              FromText("backend = null\nmodel = jet_cnn\nrate_hz = 10\n");
            }).find("only used with mode = open"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf([] {
        FromText("backend = null\nmodel = jet_cnn\nmin_duration_s = 10\nmax_duration_s = 5\n");
      }).find("max_duration_s"),
      std::string::npos);
  EXPECT_NE(ErrorOf([] {
              FromText("backend = null\nmodel = jet_cnn\nclient_cpus = 999\n");
            }).find("does not exist"),
            std::string::npos);
}

TEST(SweepConfig, AutoThreadsShareTheCpusBetweenConcurrentExecutables) {
  const SweepConfig config =
      FromText("backend = null\nmodel = jet_cnn\nconcurrency = 1, 64\nbackend_cpus = 0\n");
  const std::vector<SweepCell> cells = ExpandCells(config);
  EXPECT_EQ(cells[0].settings.threads, 1);
  EXPECT_EQ(cells[1].settings.threads, 1);
  const SweepConfig fixed = FromText("backend = null\nmodel = jet_cnn\nthreads = 3\n");
  EXPECT_EQ(ExpandCells(fixed)[0].settings.threads, 3);
}

}  // namespace
// Issue 18 §3: int8 cells calibrate on the sweep's inputs file unless told otherwise, and the
// models calibrated on random inputs are the ones the sweep warns about.
TEST(SweepConfig, Int8CalibratesOnTheInputsFileUnlessToldOtherwise) {
  const std::string file = ::testing::TempDir() + "sweep_calibration.bin";
  WriteRawFloats(file, std::vector<float>(std::size_t{2} * 40 * 40, 0.5f));
  const auto calibration_of = [](const std::string& lines) {
    return ExpandCells(FromText("backend = null\nmodel = jet_cnn\n" + lines)).front().calibration;
  };
  EXPECT_EQ(calibration_of(""), "random");
  EXPECT_EQ(calibration_of("inputs = " + file + "\n"), file);
  EXPECT_EQ(calibration_of("inputs = " + file + "\ncalibration = random\n"), "random");
  EXPECT_EQ(calibration_of("calibration = " + file + "\n"), file);
  const std::string missing =
      ErrorOf([] { FromText("backend = null\nmodel = jet_cnn\ncalibration = nowhere.bin\n"); });
  EXPECT_NE(missing.find("calibration 'nowhere.bin': expected auto, random or an existing"),
            std::string::npos)
      << missing;

  std::vector<SweepCell> cells =
      ExpandCells(FromText("backend = null\nmodel = jet_cnn, resnet18\nprecision = fp32, int8\n"));
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_TRUE(RandomlyCalibratedModels(cells).empty()) << "the null backend calibrates nothing";
  for (SweepCell& cell : cells) cell.settings.backend = "onednn";
  EXPECT_EQ(RandomlyCalibratedModels(cells), (std::vector<std::string>{"jet_cnn", "resnet18"}));
  cells[1].calibration = file;  // jet_cnn int8 has data; resnet18 int8 still random
  EXPECT_EQ(RandomlyCalibratedModels(cells), (std::vector<std::string>{"resnet18"}));
  cells[3].settings.target = TargetKind::kRemote;
  cells[3].remote.servers = {"localhost:8001"};  // an external server calibrates its own way
  EXPECT_TRUE(RandomlyCalibratedModels(cells).empty());
}

// Issue 19 §2: accuracy = on gives every cell a physics measurement of its labelled inputs; it
// needs labelled inputs, and its own keys need it.
TEST(SweepConfig, AccuracyNeedsLabelledInputsAndItsKeysNeedIt) {
  const std::string file = ::testing::TempDir() + "sweep_accuracy.bin";
  WriteRawFloats(file, std::vector<float>(std::size_t{2} * 40 * 40, 0.5f));
  const std::string grid = "backend = null\nmodel = jet_cnn\nprecision = fp32, int8\n";
  const std::vector<SweepCell> cells = ExpandCells(FromText(
      grid + "inputs = " + file + "\naccuracy = on\naccuracy_samples = 500\nsignal_class = 0\n"));
  ASSERT_EQ(cells.size(), 2u);
  for (const SweepCell& cell : cells) {
    ASSERT_TRUE(cell.accuracy.has_value());
    EXPECT_EQ(cell.accuracy->max_samples, 500);
    EXPECT_EQ(cell.accuracy->signal_class, 0);
  }
  EXPECT_FALSE(ExpandCells(FromText(grid)).front().accuracy.has_value()) << "off by default";

  const std::string random = ErrorOf([&] { FromText(grid + "accuracy = on\n"); });
  EXPECT_NE(random.find("accuracy = on judges the cells' outputs against labels: set inputs"),
            std::string::npos)
      << random;
  const std::string unused = ErrorOf([&] { FromText(grid + "accuracy_samples = 100\n"); });
  EXPECT_NE(unused.find("accuracy_samples = 100 applies to physics measurements only"),
            std::string::npos)
      << unused;
  const std::string spelled =
      ErrorOf([&] { FromText(grid + "inputs = " + file + "\naccuracy = yes\n"); });
  EXPECT_NE(spelled.find("unknown accuracy 'yes': expected off or on"), std::string::npos)
      << spelled;
}

}  // namespace sonic
