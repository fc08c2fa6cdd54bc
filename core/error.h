#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace sonic {

// sonicbench reports errors with exceptions, one style throughout: library code throws
// sonic::Error with a kind and a message that names what was wrong and what was expected.
// Command-line entry points, the server and the sweep driver catch it at their boundary and turn
// it into an exit code, a gRPC status or a failed cell. Vendor error codes become messages at
// the backend seam, naming the vendor call.
enum class ErrorKind {
  kInvalidArgument,    // bad user input: a flag, a config, a model file, a request
  kNotFound,           // a named thing (backend, model, file, device) does not exist
  kUnsupported,        // valid input this build or backend cannot handle (op, precision)
  kBackend,            // a vendor library call failed
  kResourceExhausted,  // out of memory, batch over the maximum
  kUnavailable,        // a device or a server cannot be reached
  kIo,                 // file read or write failed
  kInternal,           // a broken invariant: a bug in sonicbench
};

inline constexpr int kErrorKinds = static_cast<int>(ErrorKind::kInternal) + 1;

std::string_view ErrorKindName(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

template <typename... Args>
[[noreturn]] void Throw(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(kind, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace sonic
