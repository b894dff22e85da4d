// The bench's own lean NATS client: Boost.Asio to connect and handshake, then plain blocking
// syscalls on the socket for the data phase (one thread writes, one reads, no locks, no
// per-message allocation), and the server-side protocol parser to read MSG/PING/PONG.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "../broker/asio.hpp"
#include "protocol/parser.hpp"
#include "tls_client.hpp"

namespace forest::bench {

struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 4222;
  // Set: connect with TLS (the server's INFO first, then the handshake, as NATS clients do).
  std::shared_ptr<const TlsClientConfig> tls = nullptr;
};

// Parses "nats://host:port" or "host:port".
Endpoint parse_url(const std::string& url);

class BenchConn : public protocol::ParserHandler {
 public:
  using MsgFn = std::function<void(const protocol::MessageArgs&, std::string_view payload)>;

  // Connects, reads INFO, sends CONNECT (quiet, headers, no_responders), and waits for the
  // PONG that proves the server processed it. Throws std::runtime_error on failure.
  BenchConn(asio::io_context& ctx, const Endpoint& ep, const std::string& name);
  ~BenchConn() override;
  BenchConn(const BenchConn&) = delete;
  BenchConn& operator=(const BenchConn&) = delete;

  // Blocking write of everything.
  void send(std::string_view bytes);
  // Sends PING and reads (delivering messages to `fn`, if any) until its PONG: a barrier
  // proving the server processed everything sent before.
  void flush(const MsgFn& fn = nullptr);
  // Reads and dispatches until `stop` becomes true (checked between reads, which time out
  // every 100 ms) or the connection closes. Answers server PINGs.
  void read_until(const std::atomic<bool>& stop, const MsgFn& fn);
  // Reads once (up to `timeout_ms`) and dispatches; false when the connection closed.
  bool read_once(const MsgFn& fn, int timeout_ms);

  [[nodiscard]] const std::string& last_error() const { return error_; }
  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] int max_payload() const { return max_payload_; }

 private:
  bool on_connect(std::string_view) override { return true; }
  bool on_info(std::string_view json) override;
  bool on_message(const protocol::MessageArgs& args, std::string_view payload) override;
  bool on_sub(std::string_view, std::string_view, std::string_view) override { return true; }
  bool on_unsub(std::string_view, int64_t) override { return true; }
  bool on_ping() override;
  bool on_pong() override;
  bool on_ok() override { return true; }
  bool on_err(std::string_view text) override;
  // Reads the server's plain-text INFO line (before a TLS handshake) into the parser.
  void read_plain_info();

  tcp::socket socket_;
  int fd_ = -1;
  std::unique_ptr<TlsSession> tls_;  // set for a TLS connection: all I/O goes through it
  protocol::Parser parser_{protocol::PeerKind::server};
  std::vector<char> read_buf_;
  const MsgFn* current_fn_ = nullptr;
  uint64_t pongs_ = 0;
  bool pending_pong_reply_ = false;
  bool closed_ = false;
  int max_payload_ = 1024 * 1024;
  std::string error_;
};

}  // namespace forest::bench
