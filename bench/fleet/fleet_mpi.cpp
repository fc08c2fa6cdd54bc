// The one file that includes <mpi.h>: FleetComm over MPI point-to-point messages, polled with
// deadlines so that a lost rank becomes an error instead of a hang.
#include <mpi.h>
#include <signal.h>
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "bench/fleet/fleet.h"
#include "core/clock.h"
#include "core/error.h"

namespace sonic {
namespace {

constexpr int kTag = 7;
// Between polls of a pending message: short enough not to blur the start barrier much, long
// enough not to steal a core from the load generator on an oversubscribed node.
constexpr decltype(timespec::tv_nsec) kPollNs = 50'000;

std::string MpiErrorText(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<std::size_t>(length));
}

void CheckMpi(int code, std::string_view call, int peer) {
  if (code != MPI_SUCCESS) {
    Throw(ErrorKind::kUnavailable, "fleet: {} with rank {} failed: {}", call, peer,
          MpiErrorText(code));
  }
}

void Pause() {
  const timespec pause{0, kPollNs};
  nanosleep(&pause, nullptr);
}

class MpiComm final : public FleetComm {
 public:
  MpiComm() {
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    char name[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    MPI_Get_processor_name(name, &length);
    host_.assign(name, static_cast<std::size_t>(length));
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    MPI_Get_library_version(version, &length);
    library_.assign(version, static_cast<std::size_t>(length));
    if (const auto end = library_.find_first_of(",\n"); end != std::string::npos) {
      library_.resize(end);
    }
  }
  ~MpiComm() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string host() const override { return host_; }
  std::string library() const override { return library_; }

  void Send(int to, std::string_view bytes, double timeout_s) override {
    MPI_Request request;
    CheckMpi(MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, to, kTag,
                       MPI_COMM_WORLD, &request),
             "MPI_Isend", to);
    const std::int64_t deadline_ns = Deadline(timeout_s);
    for (;;) {
      int done = 0;
      CheckMpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test", to);
      if (done) return;
      if (MonotonicNs() > deadline_ns) {
        MPI_Cancel(&request);
        MPI_Request_free(&request);
        Throw(ErrorKind::kUnavailable,
              "fleet: rank {} did not take a message from rank {} within {} s (it died or hangs)",
              to, rank_, timeout_s);
      }
      Pause();
    }
  }

  std::string Receive(int from, double timeout_s) override {
    const std::int64_t deadline_ns = Deadline(timeout_s);
    MPI_Status status;
    for (;;) {
      int arrived = 0;
      CheckMpi(MPI_Iprobe(from, kTag, MPI_COMM_WORLD, &arrived, &status), "MPI_Iprobe", from);
      if (arrived) break;
      if (MonotonicNs() > deadline_ns) {
        Throw(ErrorKind::kUnavailable,
              "fleet: rank {} heard nothing from rank {} within {} s (it died or hangs)", rank_,
              from, timeout_s);
      }
      Pause();
    }
    int count = 0;
    CheckMpi(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count", from);
    std::string bytes(static_cast<std::size_t>(count), '\0');
    CheckMpi(MPI_Recv(bytes.data(), count, MPI_BYTE, from, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
             "MPI_Recv", from);
    return bytes;
  }

  [[noreturn]] void Abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

 private:
  static std::int64_t Deadline(double timeout_s) {
    return MonotonicNs() + static_cast<std::int64_t>(timeout_s * 1e9);
  }

  int rank_ = 0;
  int size_ = 1;
  std::string host_;
  std::string library_;
};

}  // namespace

bool FleetCompiledIn() { return true; }

std::unique_ptr<FleetComm> JoinFleet() {
  if (LauncherRanks() <= 1) return nullptr;
  // Before MPI starts its own threads, so that they inherit the mask (see RunFleetSweep).
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  int provided = 0;
  // Only the sweep's thread calls MPI.
  const int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  if (code != MPI_SUCCESS) {
    Throw(ErrorKind::kUnavailable, "fleet: MPI_Init_thread failed: {}", MpiErrorText(code));
  }
  auto comm = std::make_unique<MpiComm>();
  if (comm->size() <= 1) return nullptr;
  return comm;
}

}  // namespace sonic
