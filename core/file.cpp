#include "core/file.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "core/error.h"

namespace sonic {
namespace {

enum class ReadOutcome { kOk, kCannotOpen, kReadFailed };

ReadOutcome Read(const std::filesystem::path& path, std::string& bytes) {
  std::error_code error;
  // A directory opens as a stream and reads as nothing: it is not a file to read.
  if (std::filesystem::is_directory(path, error)) return ReadOutcome::kCannotOpen;
  std::ifstream in(path, std::ios::binary);
  if (!in) return ReadOutcome::kCannotOpen;
  const bool regular = std::filesystem::is_regular_file(path, error);
  const std::uintmax_t size = regular ? std::filesystem::file_size(path, error) : 0;
  if (!error && size > 0) {
    bytes.assign(size, '\0');
    if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) return ReadOutcome::kReadFailed;
    return ReadOutcome::kOk;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return ReadOutcome::kReadFailed;
  bytes = std::move(text).str();
  return ReadOutcome::kOk;
}

}  // namespace

std::string ReadWholeFile(const std::filesystem::path& path, std::string_view what) {
  std::string bytes;
  switch (Read(path, bytes)) {
    case ReadOutcome::kOk:
      return bytes;
    case ReadOutcome::kCannotOpen:
      Throw(ErrorKind::kNotFound, "cannot open {} '{}'", what, path.string());
    case ReadOutcome::kReadFailed:
      break;
  }
  Throw(ErrorKind::kIo, "cannot read {} '{}'", what, path.string());
}

std::optional<std::string> TryReadWholeFile(const std::filesystem::path& path) {
  std::string bytes;
  if (Read(path, bytes) != ReadOutcome::kOk) return std::nullopt;
  return bytes;
}

}  // namespace sonic
