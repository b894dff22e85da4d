// TLS for the bench's lean client (BenchConn): so `forest-bench compare --tls` measures both
// servers with encrypted connections. The handshake is blocking; afterwards the socket is
// non-blocking and every SSL call is made under one mutex per connection, because an OpenSSL
// session is not safe for a reader and a writer thread at once. Waiting (poll) happens
// outside the mutex, so a reader waiting for data never holds up the writer.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace forest::bench {

// A client SSL_CTX trusting one CA file (the bench's throwaway certificate).
class TlsClientConfig {
 public:
  // Throws std::runtime_error when the file cannot be loaded.
  explicit TlsClientConfig(const std::string& ca_file);
  ~TlsClientConfig();
  TlsClientConfig(const TlsClientConfig&) = delete;
  TlsClientConfig& operator=(const TlsClientConfig&) = delete;
  [[nodiscard]] SSL_CTX* get() const { return ctx_; }

 private:
  SSL_CTX* ctx_ = nullptr;
};

class TlsSession {
 public:
  // Handshakes on the connected socket `fd` (blocking, each read and write bounded by a 10 s
  // socket timeout, so a server that stalls mid-handshake fails the run), verifying the server against the config's CA; then makes the socket non-blocking.
  // Throws std::runtime_error on failure.
  TlsSession(const TlsClientConfig& config, int fd);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Writes all of it; false on a closed or failed connection.
  bool write_all(const char* data, std::size_t size);
  // Reads up to `size` bytes, waiting at most `timeout_ms` for them: bytes read, 0 when
  // nothing came in time, -1 when the connection closed or failed.
  long read_some(char* data, std::size_t size, int timeout_ms);

 private:
  std::mutex mu_;  // every SSL_* call on ssl_
  SSL* ssl_ = nullptr;
  int fd_ = -1;
};

}  // namespace forest::bench
