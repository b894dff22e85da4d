#include "http_get.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace forest::cli {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
}

}  // namespace

std::expected<HttpResponse, std::string> http_get(const std::string& base_url, const std::string& path,
                                                  std::chrono::milliseconds timeout) {
  std::string rest = base_url;
  if (rest.starts_with("http://")) rest = rest.substr(7);
  if (rest.starts_with("https://")) return std::unexpected(std::string("https monitoring is not supported by forest status"));
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  std::string host = rest, port = "8222";
  if (auto colon = rest.rfind(':'); colon != std::string::npos && rest.find(']') == std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  } else if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return std::unexpected("cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Fd sock;
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Fd s;
    s.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, a->ai_protocol);
    if (s.fd < 0) continue;
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      continue;
    }
    if (!wait_for(s.fd, POLLOUT, deadline)) {
      last_error = "timed out";
      continue;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      last_error = std::strerror(err);
      continue;
    }
    std::swap(sock.fd, s.fd);
    break;
  }
  ::freeaddrinfo(found);
  if (sock.fd < 0) return std::unexpected("cannot connect to " + base_url + ": " + last_error);
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    if (!wait_for(sock.fd, POLLOUT, deadline)) return std::unexpected(std::string("timed out sending"));
    const ssize_t n = ::send(sock.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return std::unexpected(std::string("send: ") + std::strerror(errno));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    if (!wait_for(sock.fd, POLLIN, deadline)) return std::unexpected(std::string("timed out reading ") + path);
    const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN) continue;
      return std::unexpected(std::string("recv: ") + std::strerror(errno));
    }
    raw.append(buf, static_cast<std::size_t>(n));
    if (raw.size() > (64u << 20)) return std::unexpected(std::string("response too large"));
  }
  const auto end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.") || raw.size() < 12 || end == std::string::npos) {
    return std::unexpected("not an HTTP response from " + base_url);
  }
  HttpResponse r;
  r.status = std::atoi(raw.substr(9, 3).c_str());
  r.body = raw.substr(end + 4);
  return r;
}

}  // namespace forest::cli
