#pragma once

#include <string>
#include <utility>

#include "core/error.h"

namespace sonic {

// Runs `body`, the work of one ResultsReader or ResultsWriter call on the file at `path`, so that
// each Error out of it names the file (the HDF5 layer's messages name only the object and the
// call). When `reading`, an HDF5 failure (kIo) becomes kInvalidArgument: the file the user named
// cannot be read as a results file, which docs/CLI.md maps to exit code 2 whatever the damage.
// Internal to results/.
template <typename Body>
auto WithFileContext(const std::string& path, bool reading, Body&& body) -> decltype(body()) {
  try {
    return std::forward<Body>(body)();
  } catch (const Error& error) {
    std::string message = error.what();
    if (message.rfind(path, 0) != 0) message = path + ": " + message;
    if (reading && error.kind() == ErrorKind::kIo) {
      throw Error(ErrorKind::kInvalidArgument, message + " (damaged or not a results file)");
    }
    throw Error(error.kind(), message);
  }
}

}  // namespace sonic
