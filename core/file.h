#pragma once

// Reading a whole file, the one way the project does it: binary-safe, one sized read for regular
// files (a 100 MB ONNX model), streamed for kernel files whose size reads as 0 (/proc/cpuinfo).
// Thread-safe.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sonic {

// The bytes of `path`. Throws Error(kNotFound) "cannot open <what> '<path>'" when it cannot be
// opened (missing, unreadable, a directory), and Error(kIo) naming it when the read fails.
std::string ReadWholeFile(const std::filesystem::path& path, std::string_view what);

// The bytes of `path`, or nullopt when it cannot be opened or read: for files that may be absent
// (/sys and /proc in containers), where the caller decides what absence means.
std::optional<std::string> TryReadWholeFile(const std::filesystem::path& path);

}  // namespace sonic
