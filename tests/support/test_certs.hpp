// Test certificates made with the openssl CLI, once per test process, in a scratch directory
// under the working directory that goes at exit: a throwaway CA (ca) and another one (ca2);
// signed by ca: server (IP:127.0.0.1 and DNS:localhost SANs, any key usage, so routes use it
// both ways), client, expired, alice (email SAN alice@example.com), bob (DNS SAN
// bob.example.com), carol (/C=US/O=Acme/OU=Eng/CN=carol), dan (/DC=org/DC=example/CN=dan
// with an emailAddress), nosan (CN=localhost, no SANs, any key usage); signed by ca2: wrongca (a client) and server2 (same SANs as server).
// Each NAME has NAME.pem and NAME.key; client, alice and server have NAME.spki (the SHA-256 of the
// certificate's SubjectPublicKeyInfo in hex, for pinned_certs); garbage.pem is not PEM.
#pragma once

#include <filesystem>
#include <string>

namespace forest::testing {

struct TestCerts {
  TestCerts();
  ~TestCerts();
  TestCerts(const TestCerts&) = delete;
  TestCerts& operator=(const TestCerts&) = delete;
  [[nodiscard]] std::string operator()(const std::string& name) const { return (dir / name).string(); }
  std::filesystem::path dir;
  bool ok = false;
  std::string error;  // openssl's output when it failed
};

// The process's certificates (made on first use).
[[nodiscard]] const TestCerts& test_certs();

}  // namespace forest::testing
