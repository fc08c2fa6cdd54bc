// The null backend's emulated device: its option parser, and Run taking the modelled time.
#include "backends/null/null_backend.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "models/zoo.h"

namespace sonic {
namespace {

TEST(EmulatedDevice, ParsesLatencyAndPerSampleMicroseconds) {
  EXPECT_EQ(ParseEmulatedDevice(""), EmulatedDevice{});
  EXPECT_EQ(ParseEmulatedDevice("latency_us=1500"), (EmulatedDevice{1'500'000, 0}));
  EXPECT_EQ(ParseEmulatedDevice("per_sample_us=2.5, latency_us=100"),
            (EmulatedDevice{100'000, 2'500}));
  EXPECT_EQ((EmulatedDevice{100'000, 2'500}).ServiceNs(4), 110'000);
  for (const char* bad : {"latency_us=-1", "latency_us=x", "latency_us=1,latency_us=2",
                          "latency_us", "conv=direct", "per_sample_us=1e10", "latency_us=5ms"}) {
    try {
      ParseEmulatedDevice(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kInvalidArgument) << bad;
    }
  }
}

// Wall time, not CPU time: the run sleeps for all but the last 60 µs.
TEST(EmulatedDevice, RunTakesTheModelledTimeWithoutUsingTheCpu) {
  const Graph graph = BuildModel("jet_cnn");
  CompileOptions options;
  options.max_batch = 4;
  options.backend_options = "latency_us=3000,per_sample_us=500";
  const auto executable = MakeNullBackend()->Compile(graph, options);
  std::vector<float> input(4 * NumElements(graph.input_shape()));
  std::vector<float> output(4 * NumElements(graph.output_shape()));
  const std::int64_t cpu_before = ProcessCpuNs();
  const std::int64_t start = MonotonicNs();
  DeviceTiming timing;
  executable->Run(input, 4, output, &timing);
  const std::int64_t wall = MonotonicNs() - start;
  EXPECT_GE(wall, 5'000'000);
  EXPECT_LT(wall, 5'000'000 + 50'000'000) << "a wake-up this late means a badly loaded machine";
  EXPECT_EQ(timing.compute_ns, 5'000'000);
  EXPECT_LT(ProcessCpuNs() - cpu_before, 2'500'000) << "the device time was burnt on the CPU";
}

}  // namespace
}  // namespace sonic
