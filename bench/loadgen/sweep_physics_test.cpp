// A sweep with accuracy = on, in this process: each cell's physics is its own outputs scored
// (checked against the reference backend's outputs and the pairwise Mann-Whitney AUC, computed
// here), and measuring it leaves no thread behind that would slow the next cells.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "backends/registry.h"
#include "bench/loadgen/sweep.h"
#include "datasets/sample_source.h"
#include "datasets/top_tagging.h"
#include "models/zoo.h"

namespace sonic {
namespace {

class Collector final : public SweepObserver {
 public:
  void OnCellStart(int, int, const CellSettings&) override {}
  void OnCellProgress(int, int, const CellSettings&, const LoadProgress&) override {}
  void OnCellDone(int, int, const CellSettings& settings, const CellResult& result) override {
    cells.push_back({static_cast<std::int64_t>(cells.size()), settings, result});
  }
  std::vector<CellRecord> cells;
};

std::ptrdiff_t ThreadsOfThisProcess() {
  return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                       std::filesystem::directory_iterator());
}

// The probability that a signal sample scores above a background one, ties half: pair by pair.
double PairwiseAuc(std::span<const float> scores, std::span<const std::int32_t> labels) {
  double wins = 0;
  double pairs = 0;
  for (std::size_t s = 0; s < scores.size(); ++s) {
    for (std::size_t b = 0; b < scores.size(); ++b) {
      if (labels[s] != 1 || labels[b] == 1) continue;
      wins += scores[s] > scores[b] ? 1.0 : scores[s] == scores[b] ? 0.5 : 0.0;
      pairs += 1;
    }
  }
  return wins / pairs;
}

TEST(SweepPhysics, EachCellScoresItsOwnOutputsAndLeavesNoThreadBehind) {
  const auto backends = CompiledBackendNames();
  if (std::find(backends.begin(), backends.end(), "onednn") == backends.end()) {
    GTEST_SKIP() << "built without onednn";
  }
  const std::string jets = ::testing::TempDir() + "sweep_physics_jets.h5";
  WriteTopTaggingFile(jets, GenerateTopTaggingJets(120, 5));
  const SweepConfig config = BuildSweepConfig(ParseConfigText(
      "model = jet_cnn\nbackend = reference, onednn\nbatch = 4\nthreads = 2\ninputs = " + jets +
          "\naccuracy = on\naccuracy_samples = 120\nwarmup_s = 0\nmin_duration_s = 0.2\n"
          "max_duration_s = 0.5\nmin_requests = 5\n",
      "test"));
  SweepOptions options;
  options.measure_peak = false;
  Collector collector;
  const std::ptrdiff_t threads_before = ThreadsOfThisProcess();
  RunSweep(config, options, collector, nullptr);
  // An OpenMP pool left on this thread would outnumber the CPUs beside the next cells' workers.
  EXPECT_EQ(ThreadsOfThisProcess(), threads_before);

  const Graph graph = BuildModel("jet_cnn");
  const ImageSet set = LoadImages(jets, graph.input_shape(), {}, 120);
  CompileOptions compile;
  compile.max_batch = 4;
  const std::unique_ptr<Executable> reference = MakeBackend("reference")->Compile(graph, compile);
  std::vector<float> outputs(set.labels.size() * 2);
  for (std::size_t first = 0; first < set.labels.size(); first += 4) {
    reference->Run(std::span(set.images).subspan(first * 1600, std::size_t{4} * 1600), 4,
                   std::span(outputs).subspan(first * 2, 8));
  }
  std::vector<float> signal_scores;
  for (std::size_t i = 0; i < set.labels.size(); ++i) signal_scores.push_back(outputs[2 * i + 1]);
  const double auc = PairwiseAuc(signal_scores, set.labels);

  ASSERT_EQ(collector.cells.size(), 2u);
  for (const CellRecord& cell : collector.cells) {
    SCOPED_TRACE(cell.settings.backend);
    ASSERT_TRUE(cell.result.accuracy.has_value());
    const CellAccuracy& a = *cell.result.accuracy;
    EXPECT_EQ(a.error, "");
    EXPECT_EQ(a.dataset, jets);
    EXPECT_EQ(a.score.samples, 120);
    EXPECT_EQ(a.score.signal_samples, 60);
    EXPECT_NEAR(a.score.roc_auc, auc, cell.settings.backend == "reference" ? 1e-12 : 1e-3);
    if (cell.settings.backend == "reference") {
      EXPECT_EQ(a.score.max_abs_deviation, 0.0);
    }
    EXPECT_LT(a.score.max_abs_deviation, 1e-4);
  }
}

}  // namespace
}  // namespace sonic
