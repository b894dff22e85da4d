// Monitoring over HTTP (Boost.Beast): /varz, /connz, /subsz, /routez, /jsz, /healthz, /leafz,
// /gatewayz, /accstatz and /accountz with nats-server's JSON field names.
//
// Owned by the Server; runs on its own thread with its own io_context (started by listen(),
// joined by stop()), so a slow /subsz or /connz never delays accepting clients on the control
// thread. Reads connection state only through ConnSnapshot copies and the subject index only
// through Sublist::for_each (pointers copied under its lock, strings built after it).
//
// HTTP sessions live on the monitor thread only (monitor_http.cpp). Limits, and why:
//   - at most kMaxSessions at once: at the cap, the oldest session that is waiting for a
//     request is closed to make room (an idle keep-alive or a slowloris), so open sockets
//     cannot lock the endpoint; if every session is busy answering, the new one is closed at
//     once, without a response.
//   - request header at most kHeaderLimit bytes (431 and close), body at most kBodyLimit (413
//     and close): nats-server allows 1 MiB headers (MaxHeaderBytes 1<<20); no endpoint reads a
//     body, and a small limit bounds what each session may buffer.
//   - kReadDeadline from the moment a session waits for a request until the request is
//     complete (the idle keep-alive time too): nats-server's http.Server sets no ReadTimeout or
//     ReadHeaderTimeout, so a client that never finishes its header holds a goroutine and a
//     socket forever there; here it is closed.
//   - kWriteDeadline to send a response: nats-server sets no WriteTimeout because building a
//     large response can take long; our deadline starts after the body is built, so it bounds
//     only a peer that does not read.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "asio.hpp"

namespace forest::broker {

class Server;
class HttpSession;
template <class Stream>
class BasicHttpSession;
class QueryParams;
struct TlsContext;

// What an endpoint answers (status, content type, body); the HTTP layer adds the rest.
struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class Monitor {
 public:
  static constexpr std::size_t kMaxSessions = 256;
  static constexpr std::size_t kHeaderLimit = 16 * 1024;
  static constexpr std::size_t kBodyLimit = 4 * 1024;
  static constexpr std::chrono::seconds kReadDeadline{5};
  static constexpr std::chrono::seconds kWriteDeadline{30};

  explicit Monitor(Server& server);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Binds and starts the monitor thread; returns the bound port. With `tls`: https, every
  // session handshakes first.
  [[nodiscard]] std::expected<int, std::string> listen(const std::string& host, int port,
                                                       std::shared_ptr<TlsContext> tls = nullptr);
  // https: new sessions use `tls` (a reload's re-read certificate); any thread.
  void set_tls(std::shared_ptr<TlsContext> tls);
  // Stops accepting, closes every session and joins the thread. Idempotent; not callable
  // from the monitor thread.
  void stop();

  // The answer for a request target (path and query). Monitor thread (or a test).
  [[nodiscard]] HttpReply handle(std::string_view target);

 private:
  template <class Stream>
  friend class BasicHttpSession;

  void do_accept();
  void on_accepted(tcp::socket socket);
  void session_closed(uint64_t id);
  void count_request(const char* path);

  std::string varz();
  HttpReply connz(const QueryParams& q);
  HttpReply subsz(const QueryParams& q);
  std::string routez(const QueryParams& query);
  // monitor_jetstream.cpp
  HttpReply jsz(const QueryParams& q);
  HttpReply healthz(const QueryParams& q);
  HttpReply leafz(const QueryParams& q);     // monitor_absent.cpp: no leaf nodes here
  HttpReply gatewayz(const QueryParams& q);  // monitor_absent.cpp: no gateways here
  HttpReply accstatz(const QueryParams& q);
  HttpReply accountz(const QueryParams& q);  // monitor_accountz.cpp

  Server& server_;
  // Declared first so that it is destroyed last: sockets and timers below belong to it.
  asio::io_context ctx_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  tcp::acceptor acceptor_{ctx_};
  asio::steady_timer accept_retry_{ctx_};
  std::shared_ptr<TlsContext> tls_;  // https; set by listen(), then on the monitor thread
  std::thread thread_;

  // Monitor thread only: the live sessions by age (ids grow), for the cap and for stop().
  std::map<uint64_t, std::weak_ptr<HttpSession>> sessions_;
  uint64_t next_session_ = 0;
  bool stopping_ = false;

  // Counts per known endpoint only (nats-server's httpReqStats): unknown paths are not kept,
  // so a scan of random paths cannot grow /varz.
  std::mutex stats_mu_;
  std::map<std::string, uint64_t, std::less<>> req_stats_;
  // CPU% between /varz calls, as nats-server reports it (monitor thread).
  double last_cpu_seconds_ = 0;
  std::chrono::steady_clock::time_point last_cpu_sample_{};
};

}  // namespace forest::broker
