#include "tls_client.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <stdexcept>

namespace forest::bench {

namespace {

std::string ssl_error_text(const char* what) {
  const unsigned long e = ERR_get_error();
  char buf[256] = {};
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  return std::string(what) + (e != 0 ? std::string(": ") + buf : std::string());
}

// Waits for the socket to become readable (or writable); false on timeout.
bool wait_fd(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

}  // namespace

TlsClientConfig::TlsClientConfig(const std::string& ca_file) : ctx_(SSL_CTX_new(TLS_client_method())) {
  if (ctx_ == nullptr) throw std::runtime_error(ssl_error_text("SSL_CTX_new"));
  if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
    const std::string error = ssl_error_text(("loading CA " + ca_file).c_str());
    SSL_CTX_free(ctx_);
    throw std::runtime_error(error);
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  // The writer hands over a buffer that may be retried with a later position of the same data.
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsClientConfig::~TlsClientConfig() { SSL_CTX_free(ctx_); }

TlsSession::TlsSession(const TlsClientConfig& config, int fd) : ssl_(SSL_new(config.get())), fd_(fd) {
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd) != 1) {
    SSL_free(ssl_);
    throw std::runtime_error(ssl_error_text("SSL_new"));
  }
  timeval limit{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  if (SSL_connect(ssl_) != 1) {
    const std::string error = ssl_error_text("TLS handshake");
    SSL_free(ssl_);
    throw std::runtime_error(error);
  }
  limit = {0, 0};  // none from here on: the data phase waits with poll
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

TlsSession::~TlsSession() {
  std::lock_guard lock(mu_);
  SSL_free(ssl_);
}

bool TlsSession::write_all(const char* data, std::size_t size) {
  std::size_t off = 0;
  while (off < size) {
    int n = 0, err = 0;
    {
      std::lock_guard lock(mu_);
      n = SSL_write(ssl_, data + off, static_cast<int>(std::min<std::size_t>(size - off, 1 << 30)));
      err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
    }
    if (n > 0) {
      off += static_cast<std::size_t>(n);
    } else if (err == SSL_ERROR_WANT_WRITE) {
      wait_fd(fd_, POLLOUT, 100);
    } else if (err == SSL_ERROR_WANT_READ) {
      wait_fd(fd_, POLLIN, 100);
    } else {
      return false;
    }
  }
  return true;
}

long TlsSession::read_some(char* data, std::size_t size, int timeout_ms) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    int n = 0, err = 0;
    {
      std::lock_guard lock(mu_);
      n = SSL_read(ssl_, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
      err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
    }
    if (n > 0) return n;
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return -1;
    // Nothing decrypted yet: wait outside the lock, then try once more.
    if (attempt == 0 && !wait_fd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, timeout_ms)) return 0;
  }
  return 0;
}

}  // namespace forest::bench
