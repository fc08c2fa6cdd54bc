#include "backends/opencl/opencl_probe.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

#include "backends/opencl/cl_runtime.h"
#include "core/error.h"
#include "core/parse.h"

namespace sonic {
namespace cl {
namespace {

constexpr char kField = '\x1f';
constexpr char kRecord = '\x1e';
constexpr std::string_view kOk = "ok";
constexpr std::string_view kError = "error";
constexpr std::string_view kEnd = "end";  // the last record of a complete device list
// The most of the child's own output that a failure quotes (its last bytes).
constexpr std::size_t kQuotedOutput = 400;

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const std::size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

// The child's output on one line, its last kQuotedOutput bytes: ": 'a; b'" or "".
std::string Quote(std::string_view output) {
  std::string lines;
  for (std::string_view line : Split(output, '\n')) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
    if (line.empty()) continue;
    if (!lines.empty()) lines += "; ";
    lines += line;
  }
  if (lines.empty()) return {};
  if (lines.size() > kQuotedOutput) lines = "..." + lines.substr(lines.size() - kQuotedOutput);
  return fmt::format(": '{}'", lines);
}

bool WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t wrote = write(fd, bytes.data(), bytes.size());
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(wrote));
  }
  return true;
}

// In the child: list, report, and end without running the parent's atexit handlers or flushing
// its stdio buffers.
[[noreturn]] void RunProbeChild(int result_fd, int output_fd) {
  dup2(output_fd, STDOUT_FILENO);
  dup2(output_fd, STDERR_FILENO);
  std::string report;
  try {
    std::vector<OpenClDeviceInfo> infos;
    for (const Device& device : Devices()) infos.push_back(device.info);
    report = EncodeProbeResult(infos);
  } catch (const std::exception& error) {
    report = EncodeProbeError(error.what());
  }
  _exit(WriteAll(result_fd, report) ? 0 : 1);
}

}  // namespace

std::string EncodeProbeResult(const std::vector<OpenClDeviceInfo>& devices) {
  std::string text(kOk);
  for (const OpenClDeviceInfo& d : devices) {
    text += kRecord;
    text += fmt::format("{1}{0}{2}{0}{3}{0}{4}{0}{5}{0}{6}{0}{7}", kField, d.platform_index,
                        d.device_index, d.platform_name, d.platform_version, d.device_name,
                        d.device_type, d.device_version);
  }
  text += kRecord;
  text += kEnd;
  return text;
}

std::string EncodeProbeError(std::string_view message) {
  return fmt::format("{}{}{}", kError, kRecord, message);
}

OpenClProbe InterpretProbe(int wait_status, bool timed_out, std::string_view result,
                           std::string_view output) {
  OpenClProbe probe;
  if (timed_out) {
    probe.failure = fmt::format(
        "listing the OpenCL devices did not finish in {} s (the platform hangs; the probe was "
        "killed){}",
        kProbeTimeoutSeconds, Quote(output));
    return probe;
  }
  if (WIFSIGNALED(wait_status)) {
    const int signal = WTERMSIG(wait_status);
    probe.failure =
        fmt::format("the OpenCL platform crashed while listing its devices (signal {}, {}){}",
                    signal, strsignal(signal), Quote(output));
    return probe;
  }
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) != 0) {
    probe.failure =
        fmt::format("the OpenCL platform ended the process while listing its devices (exit {}){}",
                    WEXITSTATUS(wait_status), Quote(output));
    return probe;
  }
  const std::vector<std::string_view> records = Split(result, kRecord);
  if (records.front() == kError && records.size() == 2) {
    probe.failure = std::string(records[1]);
    return probe;
  }
  if (records.front() == kOk && records.size() >= 2 && records.back() == kEnd) {
    for (std::size_t r = 1; r + 1 < records.size(); ++r) {
      const std::vector<std::string_view> f = Split(records[r], kField);
      if (f.size() != 7) break;
      const std::optional<std::int64_t> platform = TryParseInt(f[0]);
      const std::optional<std::int64_t> device = TryParseInt(f[1]);
      if (!platform || !device) break;
      OpenClDeviceInfo& d = probe.devices.emplace_back();
      d.platform_index = static_cast<int>(*platform);
      d.device_index = static_cast<int>(*device);
      d.platform_name = f[2];
      d.platform_version = f[3];
      d.device_name = f[4];
      d.device_type = f[5];
      d.device_version = f[6];
    }
    if (probe.devices.size() + 2 == records.size()) return probe;
  }
  probe.devices.clear();
  probe.failure =
      fmt::format("the OpenCL device probe ended without a readable report{}", Quote(output));
  return probe;
}

const OpenClProbe& ProcessProbe() {
  static const OpenClProbe probe = ProbeOpenClDevices();
  return probe;
}

}  // namespace cl

OpenClProbe ProbeOpenClDevices() {
  int result_pipe[2], output_pipe[2];
  if (pipe2(result_pipe, O_CLOEXEC) != 0) {
    return {{}, fmt::format("cannot probe OpenCL: pipe failed ({})", std::strerror(errno))};
  }
  if (pipe2(output_pipe, O_CLOEXEC) != 0) {
    close(result_pipe[0]);
    close(result_pipe[1]);
    return {{}, fmt::format("cannot probe OpenCL: pipe failed ({})", std::strerror(errno))};
  }
  const pid_t child = fork();
  if (child == 0) cl::RunProbeChild(result_pipe[1], output_pipe[1]);
  close(result_pipe[1]);
  close(output_pipe[1]);
  if (child < 0) {
    close(result_pipe[0]);
    close(output_pipe[0]);
    return {{}, fmt::format("cannot probe OpenCL: fork failed ({})", std::strerror(errno))};
  }
  // Both pipes are drained together: a chatty runtime must not block on a full output pipe.
  std::string result, output;
  std::array<pollfd, 2> fds{{{result_pipe[0], POLLIN, 0}, {output_pipe[0], POLLIN, 0}}};
  std::array<std::string*, 2> sinks{&result, &output};
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(cl::kProbeTimeoutSeconds);
  bool timed_out = false;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    const int ready = poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t got = read(fds[i].fd, buffer, sizeof(buffer));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
      } else {
        sinks[i]->append(buffer, static_cast<std::size_t>(got));
      }
    }
  }
  // A pipe still open here: the deadline passed or poll failed; the child must not outlive us.
  bool still_open = false;
  for (const pollfd& fd : fds) {
    if (fd.fd >= 0) {
      close(fd.fd);
      still_open = true;
    }
  }
  if (still_open) kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return cl::InterpretProbe(status, timed_out, result, output);
}

std::vector<OpenClDeviceInfo> ListOpenClDevices() {
  const OpenClProbe& probe = cl::ProcessProbe();
  if (!probe.failure.empty()) Throw(ErrorKind::kUnavailable, "OpenCL: {}", probe.failure);
  return probe.devices;
}

}  // namespace sonic
