// Plain non-blocking TCP sockets with a deadline on every wait, for the hostile-client
// benchmark: an attack or a probe must never hang on a server that stops answering, so every
// call takes an absolute deadline and reports timeout, close or error instead of blocking.
// Used from whichever single thread owns the socket; nothing here is shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace forest::bench::sock {

using Clock = std::chrono::steady_clock;

// Owns one file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset();

 private:
  int fd_ = -1;
};

enum class Status { ok, timeout, closed, error };
[[nodiscard]] const char* status_text(Status s);

// Starts a non-blocking connect to host:port (IPv4 literal). `rcvbuf` > 0 sets SO_RCVBUF
// before connecting (so the TCP window is negotiated small). Returns an invalid Fd on an
// immediate failure, with the reason in *error.
[[nodiscard]] Fd start_connect(const std::string& host, int port, int rcvbuf, std::string* error);
// start_connect, then waits until the connection is established or the deadline passes.
[[nodiscard]] Fd connect(const std::string& host, int port, Clock::time_point deadline, std::string* error,
                         int rcvbuf = 0);
// Result of a pending non-blocking connect (after poll says writable): 0 or an errno.
[[nodiscard]] int connect_result(int fd);

// Writes all of `bytes` or gives up at the deadline.
[[nodiscard]] Status send_all(int fd, std::string_view bytes, Clock::time_point deadline);
// One recv of up to `max` bytes appended to `out`, waiting until the deadline for data.
[[nodiscard]] Status recv_some(int fd, std::string& out, std::size_t max, Clock::time_point deadline);
// Reads until `out` contains `marker` (searching from `from`), the peer closes, or the deadline.
[[nodiscard]] Status read_until(int fd, std::string& out, std::string_view marker, Clock::time_point deadline,
                                std::size_t from = 0);

// The NATS client handshake of a well-behaved client: INFO in, CONNECT (verbose false) and
// PING out, PONG in. Answers a server PING that arrives first. Returns ok when PONG arrived.
[[nodiscard]] Status nats_handshake(int fd, Clock::time_point deadline, std::string* error);

// One HTTP/1.1 response read from a keep-alive connection: status code, body, and whether the
// server will close the connection after it.
struct HttpResponse {
  int status = 0;
  std::string body;
  bool close = false;
};
// Sends "GET path" and reads one response (Content-Length, chunked, or until close).
[[nodiscard]] Status http_get(int fd, const std::string& path, bool keep_alive, Clock::time_point deadline,
                              HttpResponse* response);
// Connects, GETs `path` with "Connection: close", returns the body size (or -1 on failure).
[[nodiscard]] int64_t http_body_size(const std::string& host, int port, const std::string& path,
                                     Clock::time_point deadline, std::string* body = nullptr);

}  // namespace forest::bench::sock
