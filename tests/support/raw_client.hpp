// A blocking TCP client for raw protocol tests: send bytes, read bytes with a deadline.
#pragma once

#include <chrono>
#include <string>

namespace forest::testing {

class RawClient {
 public:
  // `host` is an IPv4 or IPv6 literal ("127.0.0.1", "fd00::1"); a client that cannot connect
  // has connected() false.
  RawClient(const std::string& host, int port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  [[nodiscard]] bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // Reads until `n` bytes are buffered, the peer closes, or the deadline passes; returns
  // what was read (and consumes it).
  std::string read_exactly(std::size_t n, std::chrono::milliseconds timeout);
  // Like read_exactly, but answers and drops server PINGs that arrive first (long tests).
  std::string read_exactly_answering_pings(std::size_t n, std::chrono::milliseconds timeout);
  // Reads one line including its "\r\n".
  std::string read_line(std::chrono::milliseconds timeout);
  // Reads until the peer closes; returns whatever came before.
  std::string read_until_closed(std::chrono::milliseconds timeout);
  [[nodiscard]] bool peer_closed() const { return closed_; }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  bool closed_ = false;
};

}  // namespace forest::testing
