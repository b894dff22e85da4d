#include "raw_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace forest::testing {

RawClient::RawClient(const std::string& host, int port) {
  sockaddr_storage storage{};
  socklen_t len = 0;
  if (host.find(':') != std::string::npos) {  // an IPv6 literal, without brackets
    auto* addr = reinterpret_cast<sockaddr_in6*>(&storage);
    addr->sin6_family = AF_INET6;
    addr->sin6_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET6, host.c_str(), &addr->sin6_addr);
    len = sizeof *addr;
  } else {
    auto* addr = reinterpret_cast<sockaddr_in*>(&storage);
    addr->sin_family = AF_INET;
    addr->sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &addr->sin_addr);
    len = sizeof *addr;
  }
  fd_ = ::socket(storage.ss_family, SOCK_STREAM, 0);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::send(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool RawClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (closed_ || fd_ < 0) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline) return false;
  pollfd p{fd_, POLLIN, 0};
  const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()) + 1;
  if (::poll(&p, 1, ms) <= 0) return false;
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  buffer_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::string RawClient::read_exactly(std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buffer_.size() < n && fill(deadline)) {
  }
  const std::size_t take = std::min(n, buffer_.size());
  std::string out = buffer_.substr(0, take);
  buffer_.erase(0, take);
  return out;
}

std::string RawClient::read_exactly_answering_pings(std::size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    while (buffer_.rfind("PING\r\n", 0) == 0) {
      buffer_.erase(0, 6);
      send("PONG\r\n");
    }
    if (buffer_.size() >= n && buffer_.rfind("PING\r\n", 0) != 0) break;
    // A partial "PING" prefix may still complete: keep reading.
    if (!fill(deadline)) break;
  }
  const std::size_t take = std::min(n, buffer_.size());
  std::string out = buffer_.substr(0, take);
  buffer_.erase(0, take);
  return out;
}

std::string RawClient::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t pos;
  while ((pos = buffer_.find("\r\n")) == std::string::npos && fill(deadline)) {
  }
  if (pos == std::string::npos) {
    std::string out;
    out.swap(buffer_);
    return out;
  }
  std::string out = buffer_.substr(0, pos + 2);
  buffer_.erase(0, pos + 2);
  return out;
}

std::string RawClient::read_until_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_ && fill(deadline)) {
  }
  std::string out;
  out.swap(buffer_);
  return out;
}

}  // namespace forest::testing
