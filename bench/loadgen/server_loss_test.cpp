// A server killed in the middle of a sweep cell: `sonicbench serve` and `sonicbench sweep
// --server` run as separate processes, the server gets SIGKILL while the first cell measures, and
// the results file must hold that cell as failed with an error naming the server, and the next
// cell, against a server restarted on the same port, as measured.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/subprocess_testing.h"
#include "results/results_file.h"
#include "service/client.h"

namespace sonic {
namespace {

using namespace std::chrono_literals;

// Starts `sonicbench serve` with the null backend and returns its "host:port" once it listens.
std::string StartServer(Subprocess& serve) {
  const std::regex listening("listening on (127\\.0\\.0\\.1:[0-9]+)");
  const std::string& banner = serve.ReadUntil(listening, 60s);
  std::smatch match;
  if (!std::regex_search(banner, match, listening)) return "";
  return match[1].str();
}

std::vector<std::string> ServeArgs(const std::string& port) {
  return {SONICBENCH_BINARY, "serve", "--model", "jet_cnn", "--backend", "null", "--port", port};
}

TEST(ServerLoss, AServerKilledMidCellFailsThatCellAndTheSweepGoesOn) {
  const std::string path = ::testing::TempDir() + "server_loss_test.h5";
  std::filesystem::remove(path);
  auto first = std::make_unique<Subprocess>(ServeArgs("0"));
  const std::string address = StartServer(*first);
  ASSERT_FALSE(address.empty()) << first->output();
  const std::string port = address.substr(address.rfind(':') + 1);

  // Two cells (concurrency 1, then 2), each at least 2 s long and cut at 6 s.
  Subprocess sweep({SONICBENCH_BINARY,
                    "sweep",
                    "--target",
                    "remote",
                    "--server",
                    address,
                    "--backend",
                    "null",
                    "--model",
                    "jet_cnn",
                    "--concurrency",
                    "1,2",
                    "--warmup-s",
                    "0.2",
                    "--min-duration-s",
                    "2",
                    "--max-duration-s",
                    "6",
                    "--min-requests",
                    "5",
                    "--no-peak",
                    "--out",
                    path});

  // The first cell is under way once the server has answered some requests; its 0.2 s warm-up
  // is over 0.8 s later, and its measured window lasts at least 2 s.
  service::ClientOptions options;
  options.address = address;
  options.max_retries = 0;
  service::Client observer(options);
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  std::uint64_t served = 0;
  while (served < 50 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(20ms);
    try {
      served = observer.ModelStatistics("jet_cnn").success.count;
    } catch (const Error&) {
      served = 0;  // the sweep may not have connected yet; the server is up
    }
  }
  ASSERT_GE(served, 50u) << "the sweep never reached the server";
  std::this_thread::sleep_for(800ms);
  first->Signal(SIGKILL);
  first.reset();

  // The second cell starts after the first is stored; its server comes back on the same port
  // (the sweep waits for it to be ready).
  const std::string& progress = sweep.ReadUntil(std::regex("\\[1/2\\][^\n]*\n"), 120s);
  ASSERT_NE(progress.find("[1/2]"), std::string::npos) << progress;
  Subprocess second(ServeArgs(port));
  ASSERT_EQ(StartServer(second), address) << second.output();

  const auto start = std::chrono::steady_clock::now();
  const int exit_code = sweep.Wait();
  // Bounded: the second cell is cut at its maximum duration at the latest.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
  EXPECT_EQ(exit_code, 1) << "a failed cell makes the sweep exit 1\n" << sweep.output();

  ResultsReader reader(path);
  const std::vector<std::string> runs = reader.ListRuns();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_TRUE(reader.ReadRunInfo(runs[0]).complete);
  const std::vector<CellRecord> cells = reader.ReadCells(runs[0], /*with_raw_records=*/false);
  ASSERT_EQ(cells.size(), 2u) << sweep.output();
  const CellResult& killed = cells[0].result;
  EXPECT_EQ(cells[0].settings.concurrency, 1);
  EXPECT_EQ(killed.status, CellStatus::kFailed);
  EXPECT_NE(killed.error_message.find("unavailable"), std::string::npos) << killed.error_message;
  EXPECT_NE(killed.error_message.find(address), std::string::npos) << killed.error_message;
  EXPECT_GT(killed.completed_requests, 0) << "measured until the kill";
  ASSERT_TRUE(killed.errors.contains("unavailable")) << killed.error_message;
  EXPECT_GT(killed.errors.at("unavailable"), 0);
  // It stopped once 16 requests in a row had failed, not at its 6 s maximum.
  EXPECT_NE(killed.convergence_reason.find("requests in a row failed"), std::string::npos)
      << killed.convergence_reason;
  EXPECT_LT(killed.duration_s, 5.0);

  const CellResult& after = cells[1].result;
  EXPECT_EQ(cells[1].settings.concurrency, 2);
  EXPECT_NE(after.status, CellStatus::kFailed) << after.error_message;
  EXPECT_GT(after.completed_requests, 0);
  EXPECT_TRUE(after.errors.empty());
}

}  // namespace
}  // namespace sonic
