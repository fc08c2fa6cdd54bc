// The server's certificate and key checks (LoadTlsKeyCertPair), on files made by openssl.
#include "service/tls.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "service/tls_testing.h"

namespace sonic::service {
namespace {

std::string Read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class TlsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDirectory("tls_files");
    const auto first = MakeSelfSignedCertificate(dir_, "first");
    const auto second = MakeSelfSignedCertificate(dir_, "second");
    if (!first || !second) GTEST_SKIP() << "openssl could not make a certificate";
    first_ = *first;
    second_ = *second;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // The message of the error LoadTlsKeyCertPair throws, after checking its kind.
  static std::string Refusal(const std::string& cert, const std::string& key,
                             ErrorKind kind = ErrorKind::kInvalidArgument) {
    try {
      LoadTlsKeyCertPair(cert, key);
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), kind) << error.what();
      return error.what();
    }
    ADD_FAILURE() << "accepted certificate " << cert << " with key " << key;
    return "";
  }

  std::filesystem::path dir_;
  TestCertificate first_, second_;
};

// Expects `message` to contain each of `parts`.
void ExpectMentions(const std::string& message, std::initializer_list<std::string> parts) {
  for (const std::string& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  }
}

TEST_F(TlsFilesTest, AMatchingPairIsReadAsIs) {
  const TlsKeyCertPair pair = LoadTlsKeyCertPair(first_.cert_file, first_.key_file);
  EXPECT_EQ(pair.cert_chain_pem, Read(first_.cert_file));
  EXPECT_EQ(pair.private_key_pem, Read(first_.key_file));
  // A chain: the server's certificate first, then another.
  const std::string chain = Write("chain.pem", Read(first_.cert_file) + Read(second_.cert_file));
  EXPECT_EQ(LoadTlsKeyCertPair(chain, first_.key_file).cert_chain_pem, Read(chain));
}

TEST_F(TlsFilesTest, AMissingFileIsNotFound) {
  const std::string missing = (dir_ / "missing.pem").string();
  ExpectMentions(Refusal(missing, first_.key_file, ErrorKind::kNotFound),
                 {"TLS certificate", missing});
  ExpectMentions(Refusal(first_.cert_file, missing, ErrorKind::kNotFound), {"TLS key", missing});
}

TEST_F(TlsFilesTest, EachBadCertificateFileIsNamedWithItsProblem) {
  const std::string empty = Write("empty.pem", "");
  ExpectMentions(Refusal(empty, first_.key_file), {empty, "is empty"});
  const std::string text = Write("text.pem", "not a certificate\n");
  ExpectMentions(Refusal(text, first_.key_file), {text, "no PEM certificate"});
  ExpectMentions(Refusal(first_.key_file, first_.cert_file),
                 {first_.key_file, "no PEM certificate", "swapped"});
  std::string pem = Read(first_.cert_file);
  pem.replace(pem.find('\n') + 10, 8, "!!!!!!!!");  // inside the base64 body
  const std::string corrupt = Write("corrupt.pem", pem);
  ExpectMentions(Refusal(corrupt, first_.key_file), {corrupt, "first certificate does not parse"});
  const std::string chain = Write("bad_chain.pem", Read(first_.cert_file) + pem);
  ExpectMentions(Refusal(chain, first_.key_file), {chain, "certificate 2 of the chain"});
}

TEST_F(TlsFilesTest, EachBadKeyFileIsNamedWithItsProblem) {
  const std::string empty = Write("empty.pem", "");
  ExpectMentions(Refusal(first_.cert_file, empty), {empty, "is empty"});
  const std::string text = Write("text.pem", "not a key\n");
  ExpectMentions(Refusal(first_.cert_file, text), {text, "no PEM private key"});
  ExpectMentions(Refusal(first_.cert_file, first_.cert_file),
                 {"key file '" + first_.cert_file, "no PEM private key", "swapped"});
  std::string pem = Read(first_.key_file);
  pem.replace(pem.find('\n') + 10, 8, "!!!!!!!!");
  const std::string corrupt = Write("corrupt.pem", pem);
  ExpectMentions(Refusal(first_.cert_file, corrupt), {corrupt, "private key does not parse"});
  ExpectMentions(Refusal(first_.cert_file, second_.key_file),
                 {second_.key_file, first_.cert_file, "not hold the private key"});
  const std::string encrypted = (dir_ / "encrypted.pem").string();
  const std::string command =
      fmt::format("openssl pkey -in {} -aes256 -passout pass:secret -out {} 2>/dev/null",
                  first_.key_file, encrypted);
  ASSERT_EQ(std::system(command.c_str()), 0);
  ExpectMentions(Refusal(first_.cert_file, encrypted), {encrypted, "encrypted"});
}

}  // namespace
}  // namespace sonic::service
