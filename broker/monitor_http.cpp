// The monitor's HTTP transport: its thread, the accept loop, the session cap and the
// sessions themselves (Boost.Beast). The limits are explained in monitor.hpp.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <type_traits>
#include <vector>

#include "listener.hpp"
#include "monitor.hpp"
#include "tls_stream.hpp"

namespace forest::broker {
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

constexpr auto kAcceptRetry = std::chrono::milliseconds(10);
// After an error response or a "Connection: close", how long unread input is drained before
// the socket closes: closing with unread bytes sends a reset, and the peer may then lose the
// response it has not read yet (Go's http.Server does the same, closeWriteAndWait).
constexpr auto kLingerTime = std::chrono::seconds(1);

bool is_parse_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

// One HTTP connection: read a request, answer it, repeat while keep-alive; over TLS the
// server-side handshake comes first, bounded by the read deadline (a peer that stalls in it
// holds nothing but its socket). Lives on the monitor thread; owned by its pending operation's
// handler (shared_from_this), listed weakly in Monitor::sessions_.
class HttpSession {
 public:
  virtual ~HttpSession() = default;
  virtual void start() = 0;
  // Waiting for a request (or lingering after the last one): may be evicted for a newcomer.
  [[nodiscard]] virtual bool idle() const = 0;
  // Cancels whatever is pending; the handler then drops the last reference.
  virtual void close() = 0;
};

template <class Stream>
class BasicHttpSession final : public HttpSession, public std::enable_shared_from_this<BasicHttpSession<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  // `tls`: the context an https session's stream was made from, kept alive as long as it.
  template <class... StreamArgs>
  BasicHttpSession(Monitor& monitor, uint64_t id, std::shared_ptr<TlsContext> tls, StreamArgs&&... args)
      : tls_(std::move(tls)), stream_(std::forward<StreamArgs>(args)...), monitor_(monitor), id_(id) {}
  ~BasicHttpSession() override { monitor_.session_closed(id_); }
  BasicHttpSession(const BasicHttpSession&) = delete;
  BasicHttpSession& operator=(const BasicHttpSession&) = delete;

  void start() override {
    if constexpr (kTls) {
      idle_ = true;
      tcp().expires_after(Monitor::kReadDeadline);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](const error_code& ec) {
        if (!ec) {
          self->read();
        } else if (ec.category() == asio::error::get_ssl_category() &&
                   ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST) {
          self->refuse_plain_http();
        } else {
          self->tcp().close();
        }
      });
    } else {
      read();
    }
  }
  [[nodiscard]] bool idle() const override { return idle_; }
  void close() override {
    idle_ = false;
    tcp().close();
  }

 private:
  beast::tcp_stream& tcp() { return beast::get_lowest_layer(stream_); }

  // Plain HTTP on the https port: Go's http.Server answers this in plain text, and so do we.
  void refuse_plain_http() {
    static constexpr std::string_view kText = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    tcp().expires_after(Monitor::kWriteDeadline);
    asio::async_write(tcp().socket(), asio::buffer(kText.data(), kText.size()),
                      [self = this->shared_from_this()](const error_code&, std::size_t) {
                        error_code ignored;
                        self->tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->tcp().close();
                      });
  }

  void read() {
    if (monitor_.stopping_) return;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(Monitor::kHeaderLimit));
    parser_->body_limit(Monitor::kBodyLimit);
    idle_ = true;
    tcp().expires_after(Monitor::kReadDeadline);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](const error_code& ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(const error_code& ec) {
    idle_ = false;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return send_error(http::status::request_header_fields_too_large);
    }
    if (ec == http::error::body_limit) return send_error(http::status::payload_too_large);
    if (ec && is_parse_error(ec)) return send_error(http::status::bad_request);
    if (ec) {
      // End of stream, timeout (slowloris or idle keep-alive), reset, or closed by stop().
      tcp().close();
      return;
    }
    const auto& req = parser_->get();
    HttpReply reply;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      reply.status = 405;
      reply.body = "{\"error\":\"method not allowed\"}";
    } else {
      try {
        reply = monitor_.handle(std::string_view(req.target().data(), req.target().size()));
      } catch (const std::exception& e) {
        // Out of memory building a huge page, and the like: answer, do not take the thread down.
        reply = HttpReply{500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
      }
    }
    send(std::move(reply), req.version(), req.keep_alive(), req.method() == http::verb::head);
  }

  void send(HttpReply reply, unsigned version, bool keep_alive, bool head) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status), version);
    res->set(http::field::server, "forest-server");
    res->set(http::field::content_type, reply.content_type);
    res->keep_alive(keep_alive);
    if (head) {
      // A HEAD answer has the GET answer's length and no body (the next response on a
      // keep-alive connection would otherwise start inside it).
      res->content_length(reply.body.size());
    } else {
      res->body() = std::move(reply.body);
      res->prepare_payload();
    }
    tcp().expires_after(Monitor::kWriteDeadline);
    http::async_write(stream_, *res, [self = this->shared_from_this(), res](const error_code& ec, std::size_t) {
      if (ec) {
        self->tcp().close();
      } else if (!res->keep_alive()) {
        self->linger_close();
      } else {
        self->read();
      }
    });
  }

  void send_error(http::status status) {
    HttpReply reply;
    reply.status = static_cast<int>(status);
    reply.content_type = "text/plain; charset=utf-8";
    reply.body = std::to_string(reply.status) + " " + std::string(http::obsolete_reason(status)) + "\n";
    send(std::move(reply), 11, false, false);
  }

  void linger_close() {
    idle_ = true;
    tcp().expires_after(kLingerTime);
    if constexpr (kTls) {
      // TLS: say close_notify, then wait (bounded) for the peer's, and close.
      stream_.async_shutdown([self = this->shared_from_this()](const error_code&) { self->tcp().close(); });
    } else {
      error_code ignored;
      tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
      drain();
    }
  }

  void drain() {
    buffer_.clear();
    tcp().async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](const error_code& ec, std::size_t) {
      if (ec) {
        self->tcp().close();
        return;
      }
      self->drain();
    });
  }

  std::shared_ptr<TlsContext> tls_;
  Stream stream_;
  // Bounded, so that neither a header nor pipelined input can grow it past the limits.
  beast::flat_buffer buffer_{Monitor::kHeaderLimit + Monitor::kBodyLimit + 4096};
  std::optional<http::request_parser<http::string_body>> parser_;
  Monitor& monitor_;
  const uint64_t id_;
  bool idle_ = false;
};

Monitor::Monitor(Server& server) : server_(server) {}

Monitor::~Monitor() { stop(); }

std::expected<int, std::string> Monitor::listen(const std::string& host, int port, std::shared_ptr<TlsContext> tls) {
  tls_ = std::move(tls);
  auto r = open_listener(acceptor_, host, port);
  if (!r) return std::unexpected("can't listen to the monitor port: " + host + ":" + std::to_string(port) + ": " + r.error());
  const int bound = *r;
  do_accept();
  work_.emplace(asio::make_work_guard(ctx_));
  thread_ = std::thread([this] { ctx_.run(); });
  return bound;
}

void Monitor::set_tls(std::shared_ptr<TlsContext> tls) {
  asio::post(ctx_, [this, tls = std::move(tls)]() mutable { tls_ = std::move(tls); });
}

void Monitor::stop() {
  if (!thread_.joinable()) {
    error_code ec;
    acceptor_.close(ec);
    return;
  }
  asio::post(ctx_, [this] {
    stopping_ = true;
    error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
    std::vector<std::shared_ptr<HttpSession>> live;
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) s->close();
  });
  // Every pending operation now completes with an error and starts no other: run() returns.
  work_.reset();
  thread_.join();
}

void Monitor::do_accept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (stopping_ || !acceptor_.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning.
      accept_retry_.expires_after(kAcceptRetry);
      accept_retry_.async_wait([this](const error_code& e) {
        if (!e && !stopping_) do_accept();
      });
      return;
    }
    on_accepted(std::move(socket));
    do_accept();
  });
}

void Monitor::on_accepted(tcp::socket socket) {
  if (sessions_.size() >= kMaxSessions) {
    // Make room by closing the oldest session that is not answering a request.
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      auto s = it->second.lock();
      if (s && s->idle()) {
        sessions_.erase(it);
        s->close();
        break;
      }
    }
    if (sessions_.size() >= kMaxSessions) {
      error_code ignored;
      socket.close(ignored);  // every session is busy answering: refuse this one
      return;
    }
  }
  const uint64_t id = next_session_++;
  std::shared_ptr<HttpSession> session;
  if (tls_) {
    session = std::make_shared<BasicHttpSession<beast::ssl_stream<beast::tcp_stream>>>(*this, id, tls_, std::move(socket),
                                                                                        tls_->ssl);
  } else {
    session = std::make_shared<BasicHttpSession<beast::tcp_stream>>(*this, id, nullptr, std::move(socket));
  }
  sessions_.emplace(id, session);
  session->start();
}

void Monitor::session_closed(uint64_t id) { sessions_.erase(id); }

}  // namespace forest::broker
