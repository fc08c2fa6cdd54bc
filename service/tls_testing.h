#pragma once

// Test support: self-signed certificates for 127.0.0.1 and localhost, made by the openssl
// command at test time (as an administrator would make them).

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sonic::service {

struct TestCertificate {
  std::string cert_file;  // PEM certificate
  std::string key_file;   // PEM private key, unencrypted
};

// A fresh directory under the temporary directory, named after `what` and this process.
inline std::filesystem::path TestDirectory(std::string_view what) {
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("sonic_{}_{}", what, getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Writes NAME_cert.pem and NAME_key.pem into `dir`; nullopt when openssl could not.
inline std::optional<TestCertificate> MakeSelfSignedCertificate(const std::filesystem::path& dir,
                                                                std::string_view name) {
  TestCertificate made{(dir / fmt::format("{}_cert.pem", name)).string(),
                       (dir / fmt::format("{}_key.pem", name)).string()};
  const std::string command = fmt::format(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout {} -out {} 2>/dev/null",
      made.key_file, made.cert_file);
  if (std::system(command.c_str()) != 0) return std::nullopt;
  return made;
}

}  // namespace sonic::service
