#include "sock.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace forest::bench::sock {
namespace {

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1000));
}

// Waits for `events` on fd; true when ready, false at the deadline.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, ms_until(deadline));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;  // let the following call report the error
    if (Clock::now() >= deadline) return false;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Value of header `name` (lower case) in a header block, or "".
std::string header_value(const std::string& lower_headers, const std::string& name) {
  const auto at = lower_headers.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  auto begin = at + name.size() + 3;
  const auto end = lower_headers.find("\r\n", begin);
  while (begin < end && lower_headers[begin] == ' ') ++begin;
  return lower_headers.substr(begin, end - begin);
}

// Reads until buf holds `want_total` bytes.
Status read_bytes(int fd, std::string& buf, std::size_t want_total, Clock::time_point deadline) {
  while (buf.size() < want_total) {
    const Status st = recv_some(fd, buf, std::max<std::size_t>(want_total - buf.size(), 4096), deadline);
    if (st != Status::ok) return st;
  }
  return Status::ok;
}

Status read_chunked(int fd, std::string& buf, std::size_t pos, std::string* body, Clock::time_point deadline) {
  for (;;) {
    const Status st = read_until(fd, buf, "\r\n", deadline, pos);
    if (st != Status::ok) return st;
    const auto eol = buf.find("\r\n", pos);
    const std::size_t size = std::strtoul(buf.c_str() + pos, nullptr, 16);
    pos = eol + 2;
    if (size == 0) return read_until(fd, buf, "\r\n", deadline, pos);  // trailers end with an empty line
    const Status rs = read_bytes(fd, buf, pos + size + 2, deadline);
    if (rs != Status::ok) return rs;
    body->append(buf, pos, size);
    pos += size + 2;
  }
}

}  // namespace

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

const char* status_text(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::timeout: return "timed out";
    case Status::closed: return "closed by the server";
    case Status::error: return "socket error";
  }
  return "?";
}

Fd start_connect(const std::string& host, int port, int rcvbuf, std::string* error) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    if (error != nullptr) *error = std::string("socket: ") + std::strerror(errno);
    return fd;
  }
  if (rcvbuf > 0) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  const int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    if (error != nullptr) *error = "not an IPv4 address: " + host;
    return Fd();
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    if (error != nullptr) *error = std::string("connect: ") + std::strerror(errno);
    return Fd();
  }
  return fd;
}

int connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

Fd connect(const std::string& host, int port, Clock::time_point deadline, std::string* error, int rcvbuf) {
  Fd fd = start_connect(host, port, rcvbuf, error);
  if (!fd.valid()) return fd;
  if (!wait_for(fd.get(), POLLOUT, deadline)) {
    if (error != nullptr) *error = "connect timed out";
    return Fd();
  }
  if (const int err = connect_result(fd.get()); err != 0) {
    if (error != nullptr) *error = std::string("connect: ") + std::strerror(err);
    return Fd();
  }
  return fd;
}

Status send_all(int fd, std::string_view bytes, Clock::time_point deadline) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLOUT, deadline)) return Status::timeout;
      continue;
    }
    return (errno == EPIPE || errno == ECONNRESET) ? Status::closed : Status::error;
  }
  return Status::ok;
}

Status recv_some(int fd, std::string& out, std::size_t max, Clock::time_point deadline) {
  const std::size_t old = out.size();
  out.resize(old + max);
  for (;;) {
    const ssize_t n = ::recv(fd, out.data() + old, max, 0);
    if (n > 0) {
      out.resize(old + static_cast<std::size_t>(n));
      return Status::ok;
    }
    if (n == 0) {
      out.resize(old);
      return Status::closed;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (wait_for(fd, POLLIN, deadline)) continue;
      out.resize(old);
      return Status::timeout;
    }
    out.resize(old);
    return errno == ECONNRESET ? Status::closed : Status::error;
  }
}

Status read_until(int fd, std::string& out, std::string_view marker, Clock::time_point deadline, std::size_t from) {
  for (;;) {
    if (out.find(marker, from) != std::string::npos) return Status::ok;
    // Resume the search where the previous one could not have matched.
    from = out.size() >= marker.size() ? std::max(from, out.size() - marker.size() + 1) : from;
    const Status st = recv_some(fd, out, 64 * 1024, deadline);
    if (st != Status::ok) return st;
  }
}

Status nats_handshake(int fd, Clock::time_point deadline, std::string* error) {
  std::string in;
  Status st = read_until(fd, in, "\r\n", deadline);
  if (st != Status::ok || in.rfind("INFO ", 0) != 0) {
    if (error != nullptr) *error = std::string("no INFO: ") + status_text(st);
    return st == Status::ok ? Status::error : st;
  }
  st = send_all(fd, "CONNECT {\"verbose\":false,\"pedantic\":false,\"lang\":\"forest-bench\"}\r\nPING\r\n", deadline);
  if (st != Status::ok) {
    if (error != nullptr) *error = std::string("CONNECT: ") + status_text(st);
    return st;
  }
  in.erase(0, in.find("\r\n") + 2);
  for (;;) {
    st = read_until(fd, in, "\r\n", deadline);
    if (st != Status::ok) {
      if (error != nullptr) *error = std::string("no PONG: ") + status_text(st);
      return st;
    }
    const std::string line = in.substr(0, in.find("\r\n"));
    in.erase(0, line.size() + 2);
    if (line == "PONG") return Status::ok;
    if (line == "PING" && send_all(fd, "PONG\r\n", deadline) != Status::ok) return Status::error;
    if (line.rfind("-ERR", 0) == 0) {
      if (error != nullptr) *error = line;
      return Status::error;
    }
  }
}

Status http_get(int fd, const std::string& path, bool keep_alive, Clock::time_point deadline, HttpResponse* response) {
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                          (keep_alive ? std::string() : std::string("Connection: close\r\n")) + "\r\n";
  Status st = send_all(fd, req, deadline);
  if (st != Status::ok) return st;
  std::string buf;
  st = read_until(fd, buf, "\r\n\r\n", deadline);
  if (st != Status::ok) return st;
  const std::size_t head_end = buf.find("\r\n\r\n") + 4;
  const std::string head = lower(std::string_view(buf).substr(0, head_end));
  response->status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
  response->body.clear();
  const std::string connection = header_value(head, "connection");
  response->close = !keep_alive || connection == "close" || (head.rfind("http/1.0", 0) == 0 && connection != "keep-alive");
  if (header_value(head, "transfer-encoding").find("chunked") != std::string::npos) {
    return read_chunked(fd, buf, head_end, &response->body, deadline);
  }
  const std::string length = header_value(head, "content-length");
  if (!length.empty()) {
    st = read_bytes(fd, buf, head_end + std::strtoul(length.c_str(), nullptr, 10), deadline);
    response->body = buf.substr(head_end);
    return st;
  }
  // Neither: the body runs until the server closes.
  response->close = true;
  for (;;) {
    st = recv_some(fd, buf, 64 * 1024, deadline);
    if (st != Status::ok) break;
  }
  response->body = buf.substr(head_end);
  return st == Status::closed ? Status::ok : st;
}

int64_t http_body_size(const std::string& host, int port, const std::string& path, Clock::time_point deadline,
                       std::string* body) {
  std::string error;
  Fd fd = connect(host, port, deadline, &error);
  if (!fd.valid()) return -1;
  HttpResponse r;
  if (http_get(fd.get(), path, false, deadline, &r) != Status::ok || r.status != 200) return -1;
  if (body != nullptr) *body = r.body;
  return static_cast<int64_t>(r.body.size());
}

}  // namespace forest::bench::sock
