#include "bench/loadgen/sweep_config.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"

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
  entries.push_back({"batch", "2,4", "--batch"});
  EXPECT_EQ(BuildSweepConfig(entries).batches, (std::vector<std::int64_t>{2, 4}));
}

TEST(SweepConfig, OpenLoopTakesEveryRate) {
  const SweepConfig config = FromText(
      "backend = null\nmodel = jet_cnn\nmode = closed, open\nrate_hz = 100, 200\n"
      "arrival = poisson\n");
  const std::vector<SweepCell> cells = ExpandCells(config);
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(cells[0].settings.mode, "closed");
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

TEST(SweepConfig, RejectsMalformedLinesAndRepeatedKeys) {
  EXPECT_NE(ErrorOf([] { ParseConfigText("batch 4\n", "x.conf"); }).find("x.conf:1: expected"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseConfigText("batch = 1\nbatch = 2\n", "x.conf"); }).find("set twice"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseConfigText("[grid]\n", "x.conf"); }).find("unknown section"),
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
}  // namespace sonic
