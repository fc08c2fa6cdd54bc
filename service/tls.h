#pragma once

#include <string>

namespace sonic::service {

// A server's TLS identity as gRPC takes it: PEM text.
struct TlsKeyCertPair {
  std::string private_key_pem;
  std::string cert_chain_pem;
};

// Reads the server's certificate chain and private key and checks them before gRPC sees them:
// gRPC reports a bad certificate or key only as a port it could not add, which says nothing of
// the files. Checks that cert_file holds one or more PEM certificates that parse, that key_file
// holds an unencrypted PEM private key that parses, and that the key belongs to the first
// certificate. Throws sonic::Error: kNotFound when a file cannot be opened, kInvalidArgument
// naming the file and what is wrong with it otherwise. Thread-safe.
TlsKeyCertPair LoadTlsKeyCertPair(const std::string& cert_file, const std::string& key_file);

}  // namespace sonic::service
