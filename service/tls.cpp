#include "service/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string_view>

#include "core/error.h"
#include "core/file.h"

namespace sonic::service {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string ReadPemFile(const std::string& path, std::string_view what) {
  return ReadWholeFile(path, fmt::format("the TLS {} file", what));
}

Bio MemoryBio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// A passphrase callback that supplies none, so that OpenSSL fails on an encrypted key instead of
// prompting on the terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

// The reason of the latest OpenSSL error on this thread (and clears them all), e.g. "bad base64
// decode".
std::string OpenSslReason() {
  const auto error = ERR_peek_last_error();
  const char* reason = ERR_reason_error_string(error);
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

// True when the latest OpenSSL error only says that no further PEM block follows (the end of a
// certificate chain).
bool AtEndOfPem() {
  const auto error = ERR_peek_last_error();
  return ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

Certificate ReadCertificateChain(const std::string& pem, const std::string& path) {
  ERR_clear_error();
  if (pem.empty()) {
    Throw(ErrorKind::kInvalidArgument,
          "TLS certificate file '{}' is empty (expected a PEM certificate chain)", path);
  }
  if (!Contains(pem, "-----BEGIN CERTIFICATE-----")) {
    Throw(ErrorKind::kInvalidArgument,
          "TLS certificate file '{}' holds no PEM certificate (expected '-----BEGIN "
          "CERTIFICATE-----'){}",
          path,
          Contains(pem, "PRIVATE KEY-----")
              ? "; it holds a private key: certificate and key swapped?"
              : "");
  }
  const Bio bio = MemoryBio(pem);
  Certificate first(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (first == nullptr) {
    Throw(ErrorKind::kInvalidArgument,
          "TLS certificate file '{}': its first certificate does not parse ({})", path,
          OpenSslReason());
  }
  for (int index = 2;; ++index) {
    const Certificate next(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (next != nullptr) continue;
    if (AtEndOfPem()) break;
    Throw(ErrorKind::kInvalidArgument,
          "TLS certificate file '{}': certificate {} of the chain does not parse ({})", path, index,
          OpenSslReason());
  }
  ERR_clear_error();
  return first;
}

PrivateKey ReadPrivateKey(const std::string& pem, const std::string& path) {
  ERR_clear_error();
  if (pem.empty()) {
    Throw(ErrorKind::kInvalidArgument,
          "TLS key file '{}' is empty (expected an unencrypted PEM private key)", path);
  }
  if (!Contains(pem, "PRIVATE KEY-----")) {
    Throw(ErrorKind::kInvalidArgument,
          "TLS key file '{}' holds no PEM private key (expected '-----BEGIN PRIVATE KEY-----' "
          "or '-----BEGIN RSA PRIVATE KEY-----', say){}",
          path,
          Contains(pem, "-----BEGIN CERTIFICATE-----")
              ? "; it holds a certificate: certificate and key swapped?"
              : "");
  }
  if (Contains(pem, "ENCRYPTED")) {
    Throw(ErrorKind::kInvalidArgument,
          "TLS key file '{}' holds an encrypted private key; the server needs it unencrypted "
          "(openssl pkey -in ENCRYPTED.pem -out KEY.pem)",
          path);
  }
  const Bio bio = MemoryBio(pem);
  PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    Throw(ErrorKind::kInvalidArgument, "TLS key file '{}': its private key does not parse ({})",
          path, OpenSslReason());
  }
  ERR_clear_error();
  return key;
}

}  // namespace

TlsKeyCertPair LoadTlsKeyCertPair(const std::string& cert_file, const std::string& key_file) {
  TlsKeyCertPair pair{ReadPemFile(key_file, "key"), ReadPemFile(cert_file, "certificate")};
  const Certificate certificate = ReadCertificateChain(pair.cert_chain_pem, cert_file);
  const PrivateKey key = ReadPrivateKey(pair.private_key_pem, key_file);
  if (X509_check_private_key(certificate.get(), key.get()) != 1) {
    ERR_clear_error();
    Throw(ErrorKind::kInvalidArgument,
          "TLS key file '{}' does not hold the private key of the (first) certificate in '{}'",
          key_file, cert_file);
  }
  return pair;
}

}  // namespace sonic::service
