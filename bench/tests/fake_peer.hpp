// A scripted TCP peer for the bench's own tests: listens on 127.0.0.1, accepts one
// connection, and runs a script (a function of the accepted socket) on its own thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

namespace forest::bench::test {

class FakePeer {
 public:
  explicit FakePeer(std::function<void(int fd)> script) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      script(fd);
      ::close(fd);
    });
  }
  ~FakePeer() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // unblocks accept if nobody connected
    thread_.join();
    ::close(listen_fd_);
  }
  FakePeer(const FakePeer&) = delete;
  FakePeer& operator=(const FakePeer&) = delete;
  [[nodiscard]] int port() const { return port_; }

  // Blocking helpers for scripts.
  static void write_all(int fd, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  }
  // Reads until `marker` has been seen `count` times in total; returns everything read.
  static std::string read_until(int fd, const std::string& marker, int count = 1) {
    std::string in;
    char buf[4096];
    for (;;) {
      int seen = 0;
      for (auto at = in.find(marker); at != std::string::npos; at = in.find(marker, at + marker.size())) ++seen;
      if (seen >= count) return in;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return in;
      in.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace forest::bench::test
