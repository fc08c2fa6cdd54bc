#include "service/grpc_runtime.h"

#include <absl/synchronization/mutex.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace sonic::service {
namespace {

std::mutex library_log_mutex;
LogThrottle library_log_throttle;  // guarded by library_log_mutex

constexpr std::string_view kHeldBackNote = " (later messages from here are counted, not logged)";

// True when the throttle admits this message from `library`.
bool Admit(std::string_view library, std::string_view file, int line) {
  std::lock_guard lock(library_log_mutex);
  return library_log_throttle.Admit(fmt::format("{} {}", library, file), line);
}

// Writes what protobuf's default handler writes, for the messages the throttle admits.
void ThrottledProtobufLog(google::protobuf::LogLevel level, const char* filename, int line,
                          const std::string& message) {
  static constexpr const char* kLevelNames[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  const bool fatal = level >= google::protobuf::LOGLEVEL_FATAL;
  if (!fatal && !Admit("protobuf", filename, line)) return;
  std::string_view text = message;
  while (text.ends_with(' ')) text.remove_suffix(1);
  std::fputs(fmt::format("[libprotobuf {} {}:{}] {}{}\n",
                         kLevelNames[fatal ? google::protobuf::LOGLEVEL_FATAL : level], filename,
                         line, text, fatal ? "" : kHeldBackNote)
                 .c_str(),
             stderr);
}

// Writes what gRPC's default logger writes, for the messages the throttle admits. Only errors
// are throttled: gRPC writes its debug and info messages only when GRPC_VERBOSITY or GRPC_TRACE
// ask for them, and then every one is wanted.
void ThrottledGrpcLog(gpr_log_func_args* args) {
  const bool throttled = args->severity == GPR_LOG_SEVERITY_ERROR;
  if (throttled && !Admit("grpc", args->file, args->line)) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&seconds, &local);
  const auto nanoseconds =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() %
      1'000'000'000;
  const std::string_view file = args->file;
  std::fputs(fmt::format("{}{:%m%d %H:%M:%S}.{:09} {:7} {}:{}] {}{}\n",
                         gpr_log_severity_string(args->severity)[0], local, nanoseconds,
                         syscall(SYS_gettid), file.substr(file.find_last_of('/') + 1), args->line,
                         args->message, throttled ? kHeldBackNote : "")
                 .c_str(),
             stderr);
}

}  // namespace

void PrepareGrpcRuntime() {
  static std::once_flag once;
  std::call_once(once, [] {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    google::protobuf::SetLogHandler(ThrottledProtobufLog);
    gpr_set_log_function(ThrottledGrpcLog);
  });
}

bool LogThrottle::Admit(std::string_view file, int line) {
  const auto [it, first] = repeats_.try_emplace(fmt::format("{}:{}", file, line), 0);
  if (!first) ++it->second;
  return first;
}

std::map<std::string, std::uint64_t> LogThrottle::Suppressed() const {
  std::map<std::string, std::uint64_t> held_back;
  for (const auto& [location, repeats] : repeats_) {
    if (repeats > 0) held_back.emplace(location, repeats);
  }
  return held_back;
}

std::map<std::string, std::uint64_t> SuppressedLibraryLogs() {
  std::lock_guard lock(library_log_mutex);
  return library_log_throttle.Suppressed();
}

}  // namespace sonic::service
