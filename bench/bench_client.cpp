#include "bench_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace forest::bench {

Endpoint parse_url(const std::string& url) {
  Endpoint ep;
  std::string rest = url;
  if (const auto scheme = rest.find("://"); scheme != std::string::npos) rest = rest.substr(scheme + 3);
  const auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    ep.host = rest.substr(0, colon);
    ep.port = std::stoi(rest.substr(colon + 1));
  } else if (!rest.empty()) {
    ep.host = rest;
  }
  if (ep.host.size() >= 2 && ep.host.front() == '[') ep.host = ep.host.substr(1, ep.host.size() - 2);
  return ep;
}

BenchConn::BenchConn(asio::io_context& ctx, const Endpoint& ep, const std::string& name)
    : socket_(ctx), read_buf_(256 * 1024) {
  error_code ec;
  socket_.connect(tcp::endpoint(asio::ip::make_address(ep.host), static_cast<unsigned short>(ep.port)), ec);
  if (ec) throw std::runtime_error("connect to " + ep.host + ":" + std::to_string(ep.port) + ": " + ec.message());
  socket_.set_option(tcp::no_delay(true), ec);
  fd_ = socket_.native_handle();
  // Larger socket buffers: the generator must not be what limits throughput.
  const int buf = 4 * 1024 * 1024;
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  if (ep.tls) {
    read_plain_info();
    tls_ = std::make_unique<TlsSession>(*ep.tls, fd_);
  }
  send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1,"
       "\"lang\":\"forest-bench\",\"version\":\"1\",\"name\":\"" + name + "\"}\r\n");
  flush();
  if (closed_) throw std::runtime_error("server closed the connection during the handshake: " + error_);
}

BenchConn::~BenchConn() {
  error_code ec;
  socket_.close(ec);
}

void BenchConn::read_plain_info() {
  // The server writes nothing after INFO until the client's TLS hello, so whatever arrives up
  // to the line's end is the INFO line alone.
  std::string line;
  while (line.find("\r\n") == std::string::npos) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) throw std::runtime_error("no INFO from the server within 5 s");
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) throw std::runtime_error("server closed the connection before its INFO");
    line.append(chunk, static_cast<std::size_t>(n));
  }
  if (parser_.feed(line, *this) != protocol::ParseStatus::ok) throw std::runtime_error("bad INFO from the server");
}

void BenchConn::send(std::string_view bytes) {
  if (tls_) {
    if (!tls_->write_all(bytes.data(), bytes.size())) {
      closed_ = true;
      error_ = "TLS write failed";
      throw std::runtime_error(error_);
    }
    return;
  }
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      closed_ = true;
      error_ = std::string("write: ") + std::strerror(errno);
      throw std::runtime_error(error_);
    }
    off += static_cast<std::size_t>(n);
  }
}

bool BenchConn::read_once(const MsgFn& fn, int timeout_ms) {
  ssize_t n = 0;
  if (tls_) {
    n = tls_->read_some(read_buf_.data(), read_buf_.size(), timeout_ms);
    if (n == 0) return !closed_;
    if (n < 0) {
      closed_ = true;
      return false;
    }
  } else {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) return !closed_;
    n = ::recv(fd_, read_buf_.data(), read_buf_.size(), 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) return true;
      closed_ = true;
      return false;
    }
  }
  current_fn_ = &fn;
  const auto st = parser_.feed(std::string_view(read_buf_.data(), static_cast<std::size_t>(n)), *this);
  current_fn_ = nullptr;
  if (pending_pong_reply_) {
    pending_pong_reply_ = false;
    send("PONG\r\n");
  }
  if (st != protocol::ParseStatus::ok) {
    closed_ = true;
    if (error_.empty()) error_ = "protocol error from server";
    return false;
  }
  return true;
}

void BenchConn::flush(const MsgFn& fn) {
  const uint64_t want = pongs_ + 1;
  send("PING\r\n");
  while (pongs_ < want) {
    if (!read_once(fn, 1000)) throw std::runtime_error("connection closed while waiting for PONG: " + error_);
  }
}

void BenchConn::read_until(const std::atomic<bool>& stop, const MsgFn& fn) {
  while (!stop.load(std::memory_order_relaxed)) {
    if (!read_once(fn, 100)) return;
  }
}

bool BenchConn::on_info(std::string_view json) {
  const auto at = json.find("\"max_payload\":");
  if (at != std::string_view::npos) max_payload_ = std::atoi(std::string(json.substr(at + 14, 12)).c_str());
  return true;
}

bool BenchConn::on_message(const protocol::MessageArgs& args, std::string_view payload) {
  if (current_fn_ != nullptr && *current_fn_) (*current_fn_)(args, payload);
  return true;
}

bool BenchConn::on_ping() {
  pending_pong_reply_ = true;
  return true;
}

bool BenchConn::on_pong() {
  ++pongs_;
  return true;
}

bool BenchConn::on_err(std::string_view text) {
  error_ = std::string(text);
  return true;
}

}  // namespace forest::bench
