#pragma once

// Test support: runs a program as a child process, as a user would, and reads what it prints.
// Used by end-to-end tests that start `sonicbench serve` or `sonicbench sweep`.

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "core/error.h"

extern char** environ;

namespace sonic {

// One child process. argv[0] is the program's path; stdout comes back through a pipe (so the
// child sees no terminal), stderr is shared with the test so that its messages land in the log.
// Contract: not thread-safe; the destructor kills (SIGKILL) and reaps a child still running.
class Subprocess {
 public:
  // Starts the program. Throws Error(kInternal) when it cannot be spawned.
  explicit Subprocess(std::vector<std::string> argv) {
    int fds[2];
    if (pipe(fds) != 0) Throw(ErrorKind::kInternal, "pipe() failed for {}", argv.at(0));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    const int error = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
    if (error != 0) {
      close(out_);
      pid_ = -1;
      Throw(ErrorKind::kInternal, "cannot start {}: error {}", argv[0], error);
    }
  }
  ~Subprocess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Reads stdout until everything read so far matches `pattern`, the output ends, or `timeout`
  // passes; returns everything read so far.
  const std::string& ReadUntil(const std::regex& pattern, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!std::regex_search(text_, pattern) && std::chrono::steady_clock::now() < end) {
      if (!ReadSome(100)) break;
    }
    return text_;
  }

  void Signal(int signal_number) {
    if (pid_ > 0) kill(pid_, signal_number);
  }

  // Waits for the child to exit, reading the rest of its stdout. Returns the exit status, or 128 +
  // the signal that ended it.
  int Wait() {
    while (ReadSome(-1)) {
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  const std::string& output() const { return text_; }

 private:
  // Appends what stdout has within `timeout_ms` (-1: until something or the end); false at end.
  bool ReadSome(int timeout_ms) {
    pollfd fd{out_, POLLIN, 0};
    if (poll(&fd, 1, timeout_ms) <= 0) return timeout_ms >= 0;
    char buffer[4096];
    const ssize_t n = read(out_, buffer, sizeof(buffer));
    if (n <= 0) return false;
    text_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string text_;
};

}  // namespace sonic
