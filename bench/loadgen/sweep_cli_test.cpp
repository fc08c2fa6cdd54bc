// Runs `sonicbench sweep` as a user would and reads what it wrote with the results reader.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backends/registry.h"
#include "results/results_file.h"

namespace sonic {
namespace {

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

// Starts the binary with stdout and stderr on pipes (so it prints plain lines, not a terminal).
class Process {
 public:
  explicit Process(std::vector<std::string> args) {
    args.insert(args.begin(), SONICBENCH_BINARY);
    int out[2], err[2];
    if (pipe(out) != 0 || pipe(err) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      close(out[0]), close(err[0]), close(out[1]), close(err[1]);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]), close(err[1]);
    out_ = fdopen(out[0], "r");
    err_fd_ = err[0];
  }

  // Reads stdout until `count` lines containing `text` have been seen; false at end of output.
  bool WaitForLines(const std::string& text, int count) {
    char line[4096];
    while (count > 0 && std::fgets(line, sizeof(line), out_) != nullptr) {
      out_text_ += line;
      if (std::string(line).find(text) != std::string::npos) --count;
    }
    return count == 0;
  }

  void Signal(int sig) { kill(pid_, sig); }

  Outcome Wait() {
    Outcome outcome;
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), out_)) > 0) out_text_.append(buffer, n);
    ssize_t m;
    while ((m = read(err_fd_, buffer, sizeof(buffer))) > 0) outcome.err.append(buffer, m);
    std::fclose(out_);
    close(err_fd_);
    int status = 0;
    waitpid(pid_, &status, 0);
    outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    outcome.out = out_text_;
    return outcome;
  }

 private:
  pid_t pid_;
  FILE* out_;
  int err_fd_;
  std::string out_text_;
};

Outcome RunSonicbench(std::vector<std::string> args) { return Process(std::move(args)).Wait(); }

std::string TempFile(const std::string& name) {
  const std::string path = testing::TempDir() + "sweep_cli_test_" + name;
  std::filesystem::remove(path);
  return path;
}

// Short cells: the rules are the same as in a long sweep.
const std::vector<std::string> kQuick = {"--warmup-s",       "0.1", "--min-duration-s", "0.5",
                                         "--max-duration-s", "3",   "--min-requests",   "5",
                                         "--no-peak"};

std::vector<std::string> With(std::vector<std::string> args) {
  args.insert(args.end(), kQuick.begin(), kQuick.end());
  return args;
}

bool HasBackend(const std::string& name) {
  const std::vector<std::string> names = CompiledBackendNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(SweepCli, WritesEveryCellOfJetCnnOnReferenceAndOnednn) {
  if (!HasBackend("onednn")) GTEST_SKIP() << "this build has no onednn backend";
  const std::string path = TempFile("jet.h5");
  const Outcome run =
      RunSonicbench(With({"sweep", "--backend", "reference,onednn", "--model", "jet_cnn", "--batch",
                          "1,4", "--concurrency", "1", "--out", path}));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("[4/4] local onednn jet_cnn fp32 batch 4"), std::string::npos) << run.out;

  ResultsReader reader(path);
  const std::vector<std::string> runs = reader.ListRuns();
  ASSERT_EQ(runs.size(), 1u);
  const RunInfo info = reader.ReadRunInfo(runs[0]);
  EXPECT_TRUE(info.complete);
  EXPECT_NE(info.command_line.find("sweep --backend reference,onednn"), std::string::npos);
  EXPECT_NE(info.config_text.find("backend = reference,onednn"), std::string::npos)
      << info.config_text;
  EXPECT_EQ(info.seeds.at("sweep"), 1u);
  EXPECT_FALSE(info.library_versions.at("onednn").empty());
  const std::vector<CellRecord> cells = reader.ReadCells(runs[0]);
  ASSERT_EQ(cells.size(), 4u);
  for (const CellRecord& cell : cells) {
    EXPECT_NE(cell.result.status, CellStatus::kFailed) << cell.result.error_message;
    EXPECT_GT(cell.result.completed_requests, 0);
    EXPECT_EQ(cell.result.latency.count(), cell.result.completed_requests);
    EXPECT_GT(cell.result.throughput_inferences_per_s, 0);
    EXPECT_FALSE(cell.result.convergence_reason.empty());
  }
  EXPECT_EQ(cells[0].settings.backend, "reference");
  EXPECT_EQ(cells[3].settings.backend, "onednn");
  EXPECT_EQ(cells[3].settings.batch, 4);
}

// A remote cell on the embedded server records the server's Prometheus metrics: the counters'
// deltas agree with what the statistics RPC said for the same cell, the gauges form a series over
// the cell, and each instance's busy time is its duty cycle. A cell whose endpoint does not answer
// records why, and is measured as ever.
TEST(SweepCli, RemoteCellsRecordTheirServersMetrics) {
  const std::string path = TempFile("metrics.h5");
  const Outcome run =
      RunSonicbench(With({"sweep", "--backend", "null", "--backend-options", "latency_us=2000",
                          "--model", "jet_cnn", "--target", "remote", "--concurrency", "1,2",
                          "--metrics-interval-ms", "100", "--out", path}));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  ResultsReader reader(path);
  const std::vector<CellRecord> cells = reader.ReadCells(reader.ListRuns().at(0));
  ASSERT_EQ(cells.size(), 2u);
  for (const CellRecord& cell : cells) {
    ASSERT_TRUE(cell.result.server_metrics.has_value());
    ASSERT_TRUE(cell.result.server.has_value());
    const ServerMetrics& metrics = *cell.result.server_metrics;
    EXPECT_TRUE(metrics.error.empty()) << metrics.error;
    EXPECT_TRUE(metrics.endpoint.starts_with("http://127.0.0.1:")) << metrics.endpoint;
    double success = 0, inferences = 0;
    for (const MetricDelta& d : metrics.DeltasStartingWith("nv_inference_request_success{")) {
      success += d.delta;
    }
    for (const MetricDelta& d : metrics.DeltasStartingWith("nv_inference_count{")) {
      inferences += d.delta;
    }
    EXPECT_EQ(success, static_cast<double>(cell.result.server->request_count));
    EXPECT_EQ(inferences, static_cast<double>(cell.result.server->inference_count));
    // Busy 2 ms of every request, whatever the clients do: the duty cycle is well above zero.
    const std::vector<MetricDelta> busy =
        metrics.DeltasStartingWith("sonic_inference_instance_busy");
    ASSERT_EQ(busy.size(), 1u);
    EXPECT_GT(busy[0].delta * 1e-6 / metrics.span_s, 0.3) << busy[0].delta << " us";
    int pending = 0;
    for (const MetricPoint& point : metrics.gauges) {
      pending += point.name.starts_with("nv_inference_pending_request_count{");
    }
    EXPECT_GE(pending, 3) << "the first, the last and the scrapes in between";
  }
  // The two cells differ only in their clients: one embedded server serves both.
  EXPECT_EQ(cells[0].result.server_metrics->endpoint, cells[1].result.server_metrics->endpoint);
  const Outcome report = RunSonicbench({"report", path});
  EXPECT_NE(report.out.find("server metrics (http://127.0.0.1:"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("instance duty"), std::string::npos) << report.out;

  const std::string dead = TempFile("metrics_dead.h5");
  const Outcome unanswered =
      RunSonicbench(With({"sweep", "--backend", "null", "--model", "jet_cnn", "--target", "remote",
                          "--metrics-url", "http://127.0.0.1:1/metrics", "--out", dead}));
  ASSERT_EQ(unanswered.exit_code, 0) << unanswered.out << unanswered.err;
  const std::vector<CellRecord> measured =
      ResultsReader(dead).ReadCells(ResultsReader(dead).ListRuns().at(0));
  ASSERT_EQ(measured.size(), 1u);
  EXPECT_NE(measured[0].result.status, CellStatus::kFailed) << measured[0].result.error_message;
  ASSERT_TRUE(measured[0].result.server_metrics.has_value());
  EXPECT_NE(measured[0].result.server_metrics->error.find("127.0.0.1:1"), std::string::npos)
      << measured[0].result.server_metrics->error;
  EXPECT_TRUE(measured[0].result.server_metrics->counters.empty());
}

// The idle policy is the environment the process started with (libgomp reads it at load), so
// the child gets it and each cell must say which one it ran with, local and embedded server alike.
TEST(SweepCli, EachCellRecordsTheOnednnIdlePolicyItRanWith) {
  if (!HasBackend("onednn")) GTEST_SKIP() << "this build has no onednn backend";
  const std::string path = TempFile("idle.h5");
  ASSERT_EQ(setenv("GOMP_SPINCOUNT", "2000000", 1), 0);
  const Outcome run = RunSonicbench(With({"sweep", "--backend", "reference,onednn", "--model",
                                          "jet_cnn", "--target", "local,remote", "--out", path}));
  unsetenv("GOMP_SPINCOUNT");
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  ResultsReader reader(path);
  const std::vector<CellRecord> cells = reader.ReadCells(reader.ListRuns().at(0));
  ASSERT_EQ(cells.size(), 4u);
  for (const CellRecord& cell : cells) {
    EXPECT_EQ(cell.result.backend_settings,
              cell.settings.backend == "onednn" ? "idle=spin:20ms" : "")
        << cell.settings.Key();
  }
}

// Client jobs with 8 ms of work elsewhere against the emulated device of 2 ms per request: locally
// each job has its own device, events/s = N / (Z + S); through the embedded server (one
// instance, no batching) they share one, min(N / (Z + S), 1 / S), and it is busy all the time.
TEST(SweepCli, JobsSaturateOneSharedEmulatedDevice) {
  const std::string path = TempFile("jobs.h5");
  const Outcome run = RunSonicbench({"sweep",
                                     "--backend",
                                     "null",
                                     "--backend-options",
                                     "latency_us=2000",
                                     "--model",
                                     "jet_cnn",
                                     "--target",
                                     "local,remote",
                                     "--event-work",
                                     "elsewhere:8",
                                     "--concurrency",
                                     "1,8",
                                     "--warmup-s",
                                     "0.3",
                                     "--min-duration-s",
                                     "1.5",
                                     "--max-duration-s",
                                     "6",
                                     "--min-requests",
                                     "20",
                                     "--no-peak",
                                     "--out",
                                     path});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  ResultsReader reader(path);
  const std::vector<CellRecord> cells = reader.ReadCells(reader.ListRuns().at(0));
  ASSERT_EQ(cells.size(), 4u);
  for (const CellRecord& cell : cells) {
    const CellSettings& s = cell.settings;
    const CellResult& r = cell.result;
    ASSERT_EQ(r.status, CellStatus::kOk) << s.Key() << ": " << r.error_message;
    EXPECT_EQ(s.event_work, "elsewhere:8");
    EXPECT_EQ(s.client_mode, ClientMode::kSync);
    EXPECT_EQ(s.requests_per_event, 1);
    const double jobs = static_cast<double>(s.concurrency);
    const bool shared = s.remote();
    const double bound = shared ? std::min(jobs / 10e-3, 500.0) : jobs / 10e-3;
    EXPECT_NEAR(r.throughput_events_per_s / bound, 1, 0.1) << s.Key();
    EXPECT_EQ(r.event_time.count(), r.completed_events);
    EXPECT_EQ(r.instance_duty_cycles.size(), shared ? 1u : 0u) << s.Key();
    if (shared && s.concurrency == 8) {
      EXPECT_GT(r.instance_duty_cycles.at(0), 0.9);
    }
    if (shared) {
      EXPECT_GT(r.bytes_sent, 0);
    }
  }
}

TEST(SweepCli, DryRunListsTheCellsAndRunsNothing) {
  const std::string path = TempFile("dry.h5");
  const Outcome run = RunSonicbench({"sweep", "--backend", "null", "--model", "jet_cnn", "--batch",
                                     "1-64*2", "--concurrency", "1,2", "--dry-run", "--out", path});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("[14/14] local null jet_cnn fp32 batch 64 closed c2"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("14 cells"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SweepCli, BadConfigIsAUsageErrorBeforeAnythingRuns) {
  const std::string config = TempFile("bad.conf");
  {
    std::FILE* f = std::fopen(config.c_str(), "w");
    std::fputs("backend = null\nmodel = jet_cnn\nbatchs = 4\ntarget = cloud\n", f);
    std::fclose(f);
  }
  const std::string path = TempFile("bad.h5");
  const Outcome run = RunSonicbench({"sweep", "--config", config, "--out", path});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("bad.conf:3: unknown key 'batchs' (did you mean 'batch'?)"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("bad.conf:4: unknown target 'cloud'"), std::string::npos) << run.err;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SweepCli, InterruptLeavesAValidFileAndResumeRunsOnlyTheMissingCells) {
  const std::string path = TempFile("resume.h5");
  Process sweep(With(
      {"sweep", "--backend", "null", "--model", "jet_cnn", "--batch", "1-32*2", "--out", path}));
  ASSERT_TRUE(sweep.WaitForLines("] local null", 2));
  sweep.Signal(SIGINT);
  const Outcome interrupted = sweep.Wait();
  EXPECT_EQ(interrupted.exit_code, 1) << interrupted.err;
  EXPECT_NE(interrupted.err.find("--resume " + path), std::string::npos) << interrupted.err;

  std::vector<CellRecord> before;
  std::string run_id;
  {
    ResultsReader reader(path);
    run_id = reader.ListRuns().at(0);
    EXPECT_FALSE(reader.ReadRunInfo(run_id).complete);
    before = reader.ReadCells(run_id, /*with_raw_records=*/false);
  }
  ASSERT_GE(before.size(), 2u);
  ASSERT_LT(before.size(), 6u);

  const Outcome resumed = RunSonicbench({"sweep", "--resume", path});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find(std::to_string(before.size()) + " already in the file"),
            std::string::npos)
      << resumed.out;
  ResultsReader reader(path);
  ASSERT_EQ(reader.ListRuns().size(), 1u);
  EXPECT_TRUE(reader.ReadRunInfo(run_id).complete);
  const std::vector<CellRecord> after = reader.ReadCells(run_id, /*with_raw_records=*/false);
  ASSERT_EQ(after.size(), 6u);
  std::set<std::string> keys;
  for (const CellRecord& cell : after) keys.insert(cell.settings.Key());
  EXPECT_EQ(keys.size(), 6u) << "no cell ran twice";
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].settings, before[i].settings);
    EXPECT_EQ(after[i].result.completed_requests, before[i].result.completed_requests);
  }
}

// Issue 22 §3: SIGTERM (a batch system's stop) does what ^C does; --resume --dry-run lists only
// the cells a resume would run; --resume --append is refused.
TEST(SweepCli, SigtermInterruptsLikeSigintAndResumeDryRunListsWhatIsMissing) {
  const std::string path = TempFile("term.h5");
  Process sweep(With(
      {"sweep", "--backend", "null", "--model", "jet_cnn", "--batch", "1-32*2", "--out", path}));
  ASSERT_TRUE(sweep.WaitForLines("] local null", 2));
  sweep.Signal(SIGTERM);
  const Outcome interrupted = sweep.Wait();
  EXPECT_EQ(interrupted.exit_code, 1) << interrupted.err;
  EXPECT_NE(interrupted.err.find("--resume " + path), std::string::npos) << interrupted.err;
  std::size_t stored = 0;
  {
    ResultsReader reader(path);
    stored = reader.ReadCells(reader.ListRuns().at(0), /*with_raw_records=*/false).size();
  }
  ASSERT_GE(stored, 2u);
  ASSERT_LT(stored, 6u);

  const Outcome dry = RunSonicbench({"sweep", "--resume", path, "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find(fmt::format("{} cells to run ({} of 6 already in", 6 - stored, stored)),
            std::string::npos)
      << dry.out;
  EXPECT_EQ(dry.out.find("[1/6]"), std::string::npos) << "the first cell is in the file\n"
                                                      << dry.out;
  EXPECT_NE(dry.out.find("[6/6]"), std::string::npos) << dry.out;

  const Outcome both = RunSonicbench({"sweep", "--resume", path, "--append"});
  EXPECT_EQ(both.exit_code, 2) << both.err;
  EXPECT_NE(both.err.find("excludes"), std::string::npos) << both.err;
}

// Issue 22 §3: ^C while a remote cell waits for a server that is not ready acts at once (it took
// the whole 30 s connect timeout), and the cell is not stored as failed: --resume runs it.
TEST(SweepCli, InterruptWhileWaitingForAServerStoresNothingForTheCell) {
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(probe);  // nothing listens there now
  const std::string server = fmt::format("127.0.0.1:{}", ntohs(address.sin_port));
  const std::string path = TempFile("unready.h5");
  Process sweep(With({"sweep", "--target", "remote", "--server", server, "--backend", "null",
                      "--model", "jet_cnn", "--out", path}));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto signalled = std::chrono::steady_clock::now();
  sweep.Signal(SIGINT);
  const Outcome interrupted = sweep.Wait();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  EXPECT_EQ(interrupted.exit_code, 1) << interrupted.err;
  EXPECT_LT(seconds, 15) << "the 30 s connect timeout ran out instead";
  EXPECT_EQ(interrupted.out.find("FAILED"), std::string::npos) << interrupted.out;
  ResultsReader reader(path);
  EXPECT_TRUE(reader.ReadCells(reader.ListRuns().at(0), /*with_raw_records=*/false).empty());
  const Outcome dry = RunSonicbench({"sweep", "--resume", path, "--dry-run"});
  EXPECT_NE(dry.out.find("1 cells to run (0 of 1 already in"), std::string::npos) << dry.out;
}

// Issue 22 §2: a huge range fails validation at once instead of growing to gigabytes.
TEST(SweepCli, HugeRangesAreRejectedBeforeExpansion) {
  for (const char* flag : {"--batch", "--concurrency"}) {
    const Outcome run = RunSonicbench(
        {"sweep", "--backend", "null", "--model", "jet_cnn", flag, "1-1000000000", "--dry-run"});
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_NE(run.err.find("1000000000 is out of range"), std::string::npos) << run.err;
  }
}

TEST(SweepCli, AFailingCellIsRecordedAndTheOthersRun) {
  const std::string path = TempFile("fail.h5");
  const Outcome run = RunSonicbench(With({"sweep", "--backend", "reference", "--model", "jet_cnn",
                                          "--precision", "bf16,fp32", "--out", path}));
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  EXPECT_NE(run.out.find("FAILED"), std::string::npos) << run.out;
  ResultsReader reader(path);
  const std::vector<CellRecord> cells = reader.ReadCells(reader.ListRuns().at(0));
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].result.status, CellStatus::kFailed);
  EXPECT_NE(cells[0].result.error_message.find("bf16"), std::string::npos)
      << cells[0].result.error_message;
  EXPECT_NE(cells[1].result.status, CellStatus::kFailed) << cells[1].result.error_message;
  EXPECT_GT(cells[1].result.completed_requests, 0);
}

// Issue 18 §3: int8 cells calibrate on the sweep's `calibration` file (by default its inputs
// file), local and on the embedded server alike; on random inputs the sweep warns once per model.
TEST(SweepCli, Int8CellsCalibrateOnTheSweepsDataAndWarnWithout) {
  if (!HasBackend("onednn")) GTEST_SKIP() << "this build has no onednn backend";
  constexpr std::size_t kSampleBytes =
      std::size_t{40} * 40 * sizeof(float);  // jet_cnn's [1, 40, 40]
  const std::string data = TempFile("jets.bin");
  const std::string truncated = TempFile("truncated.bin");
  const std::vector<float> jets(16 * kSampleBytes / sizeof(float), 0.25f);
  for (const auto& [path, bytes] :
       {std::pair{data, jets.size() * sizeof(float)}, std::pair{truncated, kSampleBytes + 4}}) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    ASSERT_NE(file, nullptr) << path;
    ASSERT_EQ(std::fwrite(jets.data(), 1, bytes, file), bytes);
    std::fclose(file);
  }
  const auto sweep = [](const std::string& precision, const std::string& batch,
                        std::vector<std::string> more) {
    std::vector<std::string> args = {"sweep",   "--backend",     "onednn",  "--model",
                                     "jet_cnn", "--precision",   precision, "--batch",
                                     batch,     "--concurrency", "1"};
    args.insert(args.end(), more.begin(), more.end());
    return RunSonicbench(With(args));
  };

  const Outcome random = sweep("int8", "1,2", {});
  EXPECT_EQ(random.exit_code, 0) << random.out << random.err;
  const std::string warning = "warning: int8 'jet_cnn' is calibrated on 16 seeded random inputs";
  const std::size_t first = random.err.find(warning);
  EXPECT_NE(first, std::string::npos) << random.err;
  EXPECT_EQ(random.err.find(warning, first + 1), std::string::npos) << "once per model";

  const Outcome from_inputs = sweep("int8", "1,2", {"--inputs", data});
  EXPECT_EQ(from_inputs.exit_code, 0) << from_inputs.out << from_inputs.err;
  EXPECT_EQ(from_inputs.err.find("warning: int8"), std::string::npos) << from_inputs.err;

  // A calibration file that is not whole samples fails the int8 cells, local and served, naming
  // it: proof that each reads it. The fp32 cells run.
  const std::string path = TempFile("calibration.h5");
  const Outcome bad = sweep(
      "int8,fp32", "1", {"--calibration", truncated, "--target", "local,remote", "--out", path});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  ResultsReader reader(path);
  const std::vector<CellRecord> cells = reader.ReadCells(reader.ListRuns().at(0));
  ASSERT_EQ(cells.size(), 4u);
  for (const CellRecord& cell : cells) {
    if (cell.settings.precision == "int8") {
      EXPECT_EQ(cell.result.status, CellStatus::kFailed) << cell.settings.Key();
      EXPECT_NE(cell.result.error_message.find(truncated + ": 6404 bytes is not a whole number"),
                std::string::npos)
          << cell.result.error_message;
    } else {
      EXPECT_NE(cell.result.status, CellStatus::kFailed) << cell.result.error_message;
    }
  }
}

}  // namespace
}  // namespace sonic
