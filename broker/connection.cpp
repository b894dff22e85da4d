// The connection machinery shared by every kind: reading, batches, writing, pending bytes,
// slow consumers, stalls, pings, closing. See connection.hpp.
#include "connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <random>

#include "protocol/encoder.hpp"
#include "protocol/errors.hpp"
#include "server.hpp"
#include "tls_stream.hpp"

namespace forest::broker {
namespace {

constexpr std::size_t kStartReadBuffer = 512;
constexpr std::size_t kMaxReadBuffer = 64 * 1024;
constexpr std::size_t kMinReadBuffer = 64;
constexpr int kShortsToShrink = 2;
constexpr auto kRttInterval = std::chrono::hours(1);
constexpr auto kMaxCloseFlush = std::chrono::seconds(2);

int64_t now_system_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Up to 20% more, as nats-server randomizes its first ping.
std::chrono::steady_clock::duration jitter(std::chrono::steady_clock::duration d) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const auto max = d.count() / 5;
  if (max <= 0) return d;
  return d + std::chrono::steady_clock::duration(static_cast<int64_t>(rng() % static_cast<uint64_t>(max)));
}

// nats-server's stallDuration: 100 ms at half of max_pending, growing by 100 ms per tenth of
// the upper half, 1 s at the limit.
std::chrono::steady_clock::duration stall_duration(int64_t pending, int64_t max_pending) {
  constexpr auto kMin = std::chrono::milliseconds(100);
  constexpr auto kMax = std::chrono::seconds(1);
  if (pending >= max_pending) return kMax;
  const int64_t half = max_pending / 2;
  const int64_t step = std::max<int64_t>(1, half / 10);
  return kMin + kMin * ((pending - half) / step);
}

}  // namespace

const char* close_reason_text(CloseReason r) {
  switch (r) {
    case CloseReason::none: return "";
    case CloseReason::client_closed: return "Client Closed";
    case CloseReason::authentication_timeout: return "Authentication Timeout";
    case CloseReason::authentication_violation: return "Authentication Failure";
    case CloseReason::slow_consumer_pending_bytes: return "Slow Consumer (Pending Bytes)";
    case CloseReason::slow_consumer_write_deadline: return "Slow Consumer (Write Deadline)";
    case CloseReason::write_error: return "Write Error";
    case CloseReason::read_error: return "Read Error";
    case CloseReason::parse_error: return "Parse Error";
    case CloseReason::stale_connection: return "Stale Connection";
    case CloseReason::protocol_violation: return "Protocol Violation";
    case CloseReason::bad_client_protocol_version: return "Bad Client Protocol Version";
    case CloseReason::max_connections_exceeded: return "Maximum Connections Exceeded";
    case CloseReason::max_account_connections_exceeded: return "Maximum Account Connections Exceeded";
    case CloseReason::max_subscriptions_exceeded: return "Maximum Subscriptions Exceeded";
    case CloseReason::max_payload_exceeded: return "Maximum Message Payload Exceeded";
    case CloseReason::max_control_line_exceeded: return "Maximum Control Line Exceeded";
    case CloseReason::server_shutdown: return "Server Shutdown";
    case CloseReason::no_responders_requires_headers: return "No Responders Requires Headers";
    case CloseReason::duplicate_route: return "Duplicate Route";
    case CloseReason::route_removed: return "Route Removed";
    case CloseReason::cluster_name_conflict: return "Cluster Name Conflict";
    case CloseReason::duplicate_server_name: return "Duplicate Server Name";
    case CloseReason::wrong_port: return "Wrong Port";
    case CloseReason::tls_handshake_error: return "TLS Handshake Failure";
  }
  return "Unknown State";
}

Connection::Connection(Server& server, IoThread& io, tcp::socket socket, uint64_t cid, ConnKind kind,
                       protocol::PeerKind peer)
    : server_(server), io_(io), cid_(cid), kind_(kind), parser_(peer), socket_(std::move(socket)) {
  error_code ec;
  fd_ = socket_.native_handle();
  const auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    ip_ = ep.address().is_v6() && ep.address().to_v6().is_v4_mapped()
              ? asio::ip::make_address_v4(asio::ip::v4_mapped, ep.address().to_v6()).to_string()
              : ep.address().to_string();
    port_ = ep.port();
  }
  socket_.set_option(tcp::no_delay(true), ec);
  start_time_ = std::chrono::system_clock::now();
  last_activity_ns_.store(now_system_ns(), std::memory_order_relaxed);
  load_limits();
}

Connection::~Connection() = default;

void Connection::apply_options() {
  asio::post(io_.context(), [self = shared_from_this()] { self->load_limits(); });
}

void Connection::load_limits() {
  const auto opts = server_.options();
  max_pending_.store(opts->max_pending, std::memory_order_relaxed);  // read by publishers
  ping_interval_ = std::chrono::duration_cast<Clock::duration>(opts->ping_interval);
  ping_max_ = opts->ping_max;
  write_deadline_ = std::chrono::duration_cast<Clock::duration>(opts->write_deadline);
  trace_ = opts->trace;
  load_kind_limits(*opts);
}

std::string Connection::describe() const { return ip_ + ":" + std::to_string(port_) + " - cid:" + std::to_string(cid_); }

void Connection::start() {
  const auto now = Clock::now();
  last_activity_steady_ = now;
  connected_at_ = now;
  next_ping_ = now + ping_interval_;
  io_.add_tickable(this);
  if (tls_ && tls_how_ != TlsHandshake::after_greeting) {
    // Nothing in plain text: the kind greets once the handshake is done.
    start_tls_handshake();
    return;
  }
  if (!on_start()) return;
  if (tls_) {
    // Reads start once the handshake is done; the greeting's write completion starts it.
    start_write();
    return;
  }
  read_buf_.resize(kStartReadBuffer);
  read_some();
  start_write();
}

void Connection::enable_tls(std::shared_ptr<TlsContext> ctx, Clock::duration timeout, TlsHandshake how,
                            const std::string& peer_name) {
  const bool insecure = ctx->insecure;
  tls_ = std::make_unique<TlsStream>(socket_, std::move(ctx));
  tls_state_ = TlsState::greeting;
  tls_timeout_ = timeout;
  tls_how_ = how;
  if (how == TlsHandshake::client_first) tls_->expect_peer(peer_name, insecure);
}

void Connection::start_tls_handshake() {
  tls_state_ = TlsState::handshake;
  const bool client = tls_how_ == TlsHandshake::client_first;
  if (kind_ == ConnKind::client) {
    server_.log().debug("{} - Starting TLS client connection handshake", describe());
  } else {
    server_.log().debug("{} - Starting TLS {} {} handshake", describe(), "route", client ? "client" : "server");
  }
  // A peer that stalls is closed by this timer; the thread serves others meanwhile.
  tls_timer_ = std::make_unique<asio::steady_timer>(io_.context());
  tls_timer_->expires_after(tls_timeout_);
  tls_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->closing_ || self->tls_state_ != TlsState::handshake) return;
    self->server_.log().error("{} - TLS handshake timeout", self->describe());
    self->close(CloseReason::tls_handshake_error);
  });
  tls_->stream.async_handshake(client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
                               [self = shared_from_this()](const error_code& ec) { self->on_tls_handshake(ec); });
}

void Connection::on_tls_handshake(const error_code& ec) {
  if (closing_ || closed_) return;
  tls_timer_->cancel();
  const char* what = kind_ == ConnKind::client ? "TLS handshake error" : "TLS route handshake error";
  if (ec) {
    server_.log().error("{} - {}: {}", describe(), what, tls_->error_text(ec));
    close(CloseReason::tls_handshake_error);
    return;
  }
  if (auto id = tls_->peer_identity()) peer_cert_ = std::make_shared<const CertIdentity>(std::move(*id));
  if (const auto& pinned = tls_->ctx->pinned; !pinned.empty()) {
    // pinned_certs: the peer's public key must be one of those listed (checked after the
    // handshake, as nats-server does).
    const bool pinned_ok = peer_cert_ && std::find(pinned.begin(), pinned.end(), peer_cert_->spki_sha256) != pinned.end();
    if (!pinned_ok) {
      if (!peer_cert_) {
        server_.log().debug("{} - Failed pinned cert test as client did not provide a certificate", describe());
      } else {
        server_.log().debug("{} - Failed pinned cert test for key id: {}", describe(), peer_cert_->spki_sha256);
      }
      server_.log().error("{} - {}: certificate not pinned", describe(), what);
      close(CloseReason::tls_handshake_error);
      return;
    }
  }
  tls_state_ = TlsState::ready;
  tls_timer_.reset();
  server_.log().debug("{} - TLS handshake complete", describe());
  server_.log().debug("{} - TLS version {}, cipher suite {}", describe(), tls_->version(), tls_->cipher());
  on_secured();
  if (closing_) return;
  if (tls_how_ != TlsHandshake::after_greeting && !on_start()) return;
  read_buf_.resize(kStartReadBuffer);
  read_some();
  start_write();
}

void Connection::schedule_first_ping(Clock::duration first) {
  next_ping_ = Clock::now() + jitter(std::min<Clock::duration>(ping_interval_, first));
}

void Connection::read_some() {
  auto done = [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); };
  if (tls_) {
    tls_->stream.async_read_some(asio::buffer(read_buf_), std::move(done));
  } else {
    socket_.async_read_some(asio::buffer(read_buf_), std::move(done));
  }
}

void Connection::on_read(const error_code& ec, std::size_t n) {
  if (closing_) return;
  if (n > 0) {
    if (!process_input(std::string_view(read_buf_.data(), n))) return;
    // Grow when the buffer filled up, shrink after repeated short reads (nats-server's policy).
    if (n == read_buf_.size() && read_buf_.size() < kMaxReadBuffer) {
      read_buf_.resize(read_buf_.size() * 2);
      short_reads_ = 0;
    } else if (n < read_buf_.size() / 2 && read_buf_.size() > kMinReadBuffer) {
      if (++short_reads_ > kShortsToShrink) {
        read_buf_.resize(read_buf_.size() / 2);
        read_buf_.shrink_to_fit();
        short_reads_ = 0;
      }
    } else {
      short_reads_ = 0;
    }
  }
  if (ec) {
    // The peer is gone: it takes nothing more from now on, and the close itself runs as a
    // handler of its own, so that when thousands of peers leave at once the thread's other
    // connections are served between those closes instead of after all of them.
    refuses_messages_.store(true, std::memory_order_relaxed);
    // A TLS peer that closes without close_notify (most clients) is a plain close too.
    const bool peer_closed = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
    const CloseReason reason = peer_closed ? CloseReason::client_closed : CloseReason::read_error;
    asio::post(io_.context(), [self = shared_from_this(), reason] { self->close(reason); });
    return;
  }
  continue_reading();
}

void Connection::continue_reading() {
  if (closing_) return;
  const auto stall = std::exchange(stall_for_, Clock::duration::zero());
  if (stall <= Clock::duration::zero()) {
    read_some();
    return;
  }
  // A receiver is past half its max_pending: like nats-server, hold this producer back until
  // it drains or the stall times out. Only this connection's reads wait.
  stalled_ = true;
  if (!stall_timer_) stall_timer_ = std::make_unique<asio::steady_timer>(io_.context());
  stall_timer_->expires_after(stall);
  stall_timer_->async_wait([self = shared_from_this(), epoch = stall_epoch_, stall](const error_code& ec) {
    if (ec || !self->stalled_ || epoch != self->stall_epoch_) return;
    self->server_.log().debug("{} - Timed out of fast producer stall ({})", self->describe(),
                              format_go_duration(std::chrono::duration_cast<Duration>(stall)));
    self->end_stall();
  });
}

void Connection::end_stall() {
  stalled_ = false;
  ++stall_epoch_;
  if (stall_timer_) stall_timer_->cancel();
  if (!closing_) read_some();
}

void Connection::resume_after_stall(uint64_t epoch) {
  asio::post(io_.context(), [self = shared_from_this(), epoch] {
    if (self->stalled_ && epoch == self->stall_epoch_) self->end_stall();
  });
}

bool Connection::process_input(std::string_view data) {
  batch_in_msgs_ = 0;
  batch_in_bytes_ = 0;
  batch_active_ = false;
  io_.begin_batch(this);
  const auto st = parser_.feed(data, *this);
  if (batch_active_) {
    // Activity is stamped once per read batch, not per message (clock reads are not free).
    last_activity_steady_ = Clock::now();
    last_activity_ns_.store(now_system_ns(), std::memory_order_relaxed);
  }
  if (batch_in_msgs_ > 0) {
    in_msgs_.fetch_add(batch_in_msgs_, std::memory_order_relaxed);
    in_bytes_.fetch_add(batch_in_bytes_, std::memory_order_relaxed);
    server_.counters().in_msgs.fetch_add(batch_in_msgs_, std::memory_order_relaxed);
    server_.counters().in_bytes.fetch_add(batch_in_bytes_, std::memory_order_relaxed);
  }
  // One flush per read batch for every receiver this batch produced data for.
  io_.flush_pending();
  stall_for_ = std::max(stall_for_, io_.take_stall());
  if (st == protocol::ParseStatus::paused) {
    // Keep what follows; reading resumes with resume_input().
    paused_input_.assign(data.substr(parser_.resume_offset()));
    return false;
  }
  if (st != protocol::ParseStatus::ok) {
    handle_parse_status(st);
    return false;
  }
  return !closing_;
}

void Connection::resume_input() {
  if (closing_) return;
  const std::string rest = std::move(paused_input_);
  paused_input_.clear();
  if (!rest.empty() && !process_input(rest)) return;
  continue_reading();
}

void Connection::handle_parse_status(protocol::ParseStatus st) {
  using protocol::ParseStatus;
  namespace err = protocol::err;
  switch (st) {
    case ParseStatus::ok:
    case ParseStatus::stopped_by_handler:
    case ParseStatus::paused:
      break;
    case ParseStatus::unknown_operation:
      send_err(err::kUnknownOperation);
      server_.log().error("{} - {} parser ERROR", describe(), kind_label());
      close(CloseReason::protocol_violation);
      break;
    case ParseStatus::max_control_line:
      send_err(err::kMaxControlLine);
      close(CloseReason::max_control_line_exceeded);
      break;
    case ParseStatus::max_payload:
      send_err(err::kMaxPayload);
      close(CloseReason::max_payload_exceeded);
      break;
    case ParseStatus::auth_violation:
      send_err(err::kAuthorizationViolation);
      close(CloseReason::authentication_violation);
      break;
    case ParseStatus::bad_arguments:
    case ParseStatus::headers_not_supported:
      server_.log().error("{} - {} protocol error: bad arguments", describe(), kind_label());
      close(CloseReason::protocol_violation);
      break;
  }
}

void Connection::trace_in(std::string_view op, std::string_view arg) {
  if (arg.empty()) {
    server_.log().trace("{} - <<- [{}]", describe(), op);
  } else {
    server_.log().trace("{} - <<- [{} {}]", describe(), op, arg);
  }
}

void Connection::trace_out(std::string_view text) { server_.log().trace("{} - ->> [{}]", describe(), text); }

void Connection::send(std::string_view bytes) {
  if (io_.in_batch() && io_.in_this_thread()) {
    // Inside a read batch our own replies go through the same staging as messages to us,
    // so a MSG we published to ourselves still precedes the PONG that follows it.
    io_.stage_for(*this).bytes.append(bytes);
    return;
  }
  {
    std::lock_guard lock(out_mu_);
    if (out_closed_) return;
    out_queue_.append(bytes);
    note_pending_locked();
  }
  if (io_.in_this_thread()) {
    io_.mark_for_flush(*this);
    io_.flush_pending();
  } else {
    post_flush();
  }
}

void Connection::send_ordered(std::string_view bytes) {
  {
    std::lock_guard lock(out_mu_);
    if (out_closed_) return;
    out_queue_.append(bytes);
    note_pending_locked();
  }
  schedule_flush(*this);
}

void Connection::send_err(std::string_view text) {
  if (trace_) trace_out("-ERR '" + std::string(text) + "'");
  std::string line;
  protocol::append_err(line, text);
  send(line);
}

void Connection::count_out_elsewhere(std::size_t payload_size) {
  server_.counters().out_msgs.fetch_add(1, std::memory_order_relaxed);
  server_.counters().out_bytes.fetch_add(payload_size, std::memory_order_relaxed);
}

bool Connection::check_slow_consumer_locked() {
  const int64_t max_pending = max_pending_.load(std::memory_order_relaxed);
  if (slow_consumer_ || max_pending <= 0 || static_cast<int64_t>(pending_locked()) <= max_pending) return false;
  slow_consumer_ = true;
  refuses_messages_.store(true, std::memory_order_relaxed);
  return true;
}

void Connection::mark_slow_consumer() {
  {
    std::lock_guard lock(out_mu_);
    if (slow_consumer_ || out_closed_) return;
    slow_consumer_ = true;
    refuses_messages_.store(true, std::memory_order_relaxed);
  }
  on_slow_consumer();
}

void Connection::on_slow_consumer() {
  server_.counters().slow_consumers.fetch_add(1, std::memory_order_relaxed);
  server_.log().info("{} - Slow Consumer Detected: MaxPending of {} Exceeded", describe(),
                     max_pending_.load(std::memory_order_relaxed));
  request_close(CloseReason::slow_consumer_pending_bytes);
}

void Connection::maybe_stall_producer_locked() {
  const int64_t max_pending = max_pending_.load(std::memory_order_relaxed);
  const auto pending = static_cast<int64_t>(pending_locked());
  if (max_pending <= 0 || pending <= max_pending / 2) return;
  IoThread* thread = IoThread::current();
  StallableProducer* producer = thread != nullptr ? thread->batch_producer() : nullptr;
  if (producer == nullptr || producer == static_cast<StallableProducer*>(this)) return;
  // Remembered so the drain can wake it early; a huge fan-in waits for its timer instead.
  constexpr std::size_t kMaxRemembered = 256;
  const bool known = std::any_of(stalled_producers_.begin(), stalled_producers_.end(), [&](const StalledProducer& p) {
    return p.raw == producer && p.epoch == producer->stall_epoch();
  });
  if (!known && stalled_producers_.size() < kMaxRemembered) {
    stalled_producers_.push_back({producer->stall_ref(), producer, producer->stall_epoch()});
  }
  thread->request_stall(stall_duration(pending, max_pending));
}

void Connection::wake_stalled_producers(std::unique_lock<std::mutex>& lock) {
  if (stalled_producers_.empty()) return;
  std::vector<StalledProducer> wake;
  wake.swap(stalled_producers_);
  lock.unlock();
  for (const StalledProducer& p : wake) {
    if (auto ref = p.ref.lock()) ref->resume_after_stall(p.epoch);
  }
}

bool Connection::take_staged(StagedOutput& staged) {
  bool became_slow = false;
  bool owner_must_write = false;
  {
    std::lock_guard lock(out_mu_);
    if (out_closed_ || slow_consumer_) return false;
    out_msgs_ += staged.msgs;
    out_bytes_ += staged.payload_bytes;
    if (!write_in_flight_ && out_queue_.empty() && !tls_) {
      // Nobody is writing and nothing waits: send from this thread right away (nats-server
      // flushes receivers inline too). Under the lock, so the owner cannot give up the socket
      // meanwhile; non-blocking, so a full socket only leaves the rest for the owner.
      const ssize_t n = ::send(fd_, staged.bytes.data(), staged.bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
      if (sent == staged.bytes.size()) return false;
      // The rest (or an error) is the owner's to handle.
      if (sent > 0) staged.bytes.erase(0, sent);
      out_queue_.adopt(staged.bytes);
      owner_must_write = true;
    } else {
      out_queue_.adopt(staged.bytes);
      // A write in progress picks the new bytes up when it completes.
      owner_must_write = !write_in_flight_;
    }
    note_pending_locked();
    became_slow = check_slow_consumer_locked();
    if (!became_slow) maybe_stall_producer_locked();
  }
  if (became_slow) on_slow_consumer();
  return owner_must_write;
}

void Connection::post_flush() {
  if (wake_posted_.exchange(true, std::memory_order_acq_rel)) return;
  asio::post(io_.context(), [self = shared_from_this()] {
    self->wake_posted_.store(false, std::memory_order_release);
    self->start_write();
  });
}

void Connection::start_write() {
  if (write_in_flight_ || closed_) return;
  // During the TLS handshake nothing else may go on the socket; what is queued waits for it.
  if (tls_state_ == TlsState::handshake) return;
  bool drained = false;
  {
    std::lock_guard lock(out_mu_);
    drained = out_queue_.empty();
    if (!drained) {
      in_flight_bytes_ = out_queue_.bytes();  // still pending until written
      out_queue_.take_all(out_writing_);
      write_in_flight_ = true;  // under the lock: publishers must not send directly now
    }
  }
  if (drained) {
    if (closing_) finish_close();
    return;
  }
  write_started_ = Clock::now();
  out_buffers_.clear();
  for (const std::string& chunk : out_writing_) out_buffers_.emplace_back(chunk.data(), chunk.size());
  auto done = [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_write(ec, n); };
  if (tls_state_ == TlsState::ready) {
    // Still one gathered write: Asio's SSL stream encrypts the sequence chunk by chunk (each
    // at least 4 KiB, see OutboundQueue), without copying it into one buffer first.
    asio::async_write(tls_->stream, out_buffers_, std::move(done));
  } else {
    asio::async_write(socket_, out_buffers_, std::move(done));
  }
}

void Connection::on_write(const error_code& ec, std::size_t) {
  {
    std::unique_lock lock(out_mu_);
    write_in_flight_ = false;
    in_flight_bytes_ = 0;
    note_pending_locked();
    // Producers held back for us go on once we are below half of max_pending again.
    const int64_t max_pending = max_pending_.load(std::memory_order_relaxed);
    if (ec || out_queue_.empty() || static_cast<int64_t>(pending_locked()) < max_pending / 2) {
      wake_stalled_producers(lock);
    }
  }
  out_writing_.clear();
  if (out_writing_.capacity() > 64) {
    std::vector<std::string>().swap(out_writing_);
    std::vector<asio::const_buffer>().swap(out_buffers_);
  }
  if (closed_) return;
  if (ec) {
    if (!closing_) server_.log().debug("{} - Write error: {}", describe(), ec.message());
    close(CloseReason::write_error);
    finish_close();
    return;
  }
  if (tls_state_ == TlsState::greeting && !closing_) {
    // The plain-text INFO is out: the peer's next bytes must be its TLS ClientHello.
    start_tls_handshake();
    return;
  }
  start_write();
}

void Connection::request_close(CloseReason reason) {
  asio::post(io_.context(), [self = shared_from_this(), reason] { self->close(reason); });
}

void Connection::close(CloseReason reason) {
  if (closing_) return;
  // What this batch staged for us (an -ERR just sent) must go out before we close.
  if (io_.in_batch() && io_.in_this_thread()) {
    StagedOutput& mine = io_.stage_for(*this);
    if (!mine.bytes.empty()) {
      (void)take_staged(mine);
      mine.bytes.clear();
      mine.msgs = mine.payload_bytes = 0;
    }
  }
  closing_ = true;
  refuses_messages_.store(true, std::memory_order_relaxed);
  close_reason_ = reason;
  if (stalled_) {
    stalled_ = false;
    stall_timer_->cancel();
  }
  on_closing();
  bool nothing_to_send;
  {
    std::lock_guard lock(out_mu_);
    out_closed_ = true;
    nothing_to_send = out_queue_.empty();
  }
  // Nothing can be sent in the middle of a TLS handshake.
  const bool can_flush = reason != CloseReason::write_error && reason != CloseReason::slow_consumer_write_deadline &&
                         reason != CloseReason::slow_consumer_pending_bytes && tls_state_ != TlsState::handshake;
  if (!can_flush || (nothing_to_send && !write_in_flight_)) {
    finish_close();
    return;
  }
  // Let the last bytes (an -ERR, buffered messages) go out first, bounded in time.
  close_deadline_ = Clock::now() + std::min<Clock::duration>(write_deadline_, kMaxCloseFlush);
  start_write();
}

void Connection::finish_close() {
  if (closed_) return;
  closed_ = true;
  if (tls_timer_) tls_timer_->cancel();
  {
    // Under the lock: a publisher thread may be sending on this socket directly.
    std::lock_guard lock(out_mu_);
    out_closed_ = true;
    // Out of our reactor here (pending operations end with operation_aborted), closed by the
    // server's closer thread: see socket_closer.hpp.
    error_code ec;
    const int fd = socket_.release(ec);
    if (ec) {
      socket_.close(ec);
    } else {
      server_.socket_closer().close_later(fd);
    }
    out_queue_.clear();
    in_flight_bytes_ = 0;
    note_pending_locked();
  }
  {
    std::unique_lock lock(out_mu_);
    wake_stalled_producers(lock);  // nobody waits for a closed receiver
  }
  io_.remove_tickable(this);
  server_.log().debug("{} - {} connection closed: {}", describe(), kind_label(), close_reason_text(close_reason_));
  on_closed();
}

void Connection::note_pong() {
  pings_out_ = 0;
  if (rtt_pending_) {
    rtt_pending_ = false;
    rtt_measured_ = true;
    rtt_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - rtt_start_).count(),
                  std::memory_order_relaxed);
  }
}

void Connection::on_tick(Clock::time_point now) {
  if (closed_) return;
  if (closing_) {
    if (now >= close_deadline_) finish_close();
    return;
  }
  if (write_in_flight_ && now - write_started_ > write_deadline_) {
    server_.counters().slow_consumers.fetch_add(1, std::memory_order_relaxed);
    server_.log().info("{} - Slow Consumer Detected: WriteDeadline of {} exceeded", describe(),
                       format_go_duration(write_deadline_));
    close(CloseReason::slow_consumer_write_deadline);
    return;
  }
  if (!on_kind_tick(now)) return;
  if (now < next_ping_) return;
  next_ping_ = now + ping_interval_;
  // Until one of our PINGs measured it (and again every hour), the RTT is worth a PING.
  const bool need_rtt = !rtt_measured_ || now - rtt_start_ > kRttInterval;
  if (!need_rtt && (now - last_activity_steady_ < ping_interval_ || now - last_ping_from_peer_ < ping_interval_)) {
    return;  // recent traffic proves the peer is alive
  }
  if (pings_out_ + 1 > ping_max_) {
    server_.log().debug("{} - Stale {} Connection - Closing", describe(), kind_label());
    send_err(protocol::err::kStaleConnection);
    close(CloseReason::stale_connection);
    return;
  }
  ++pings_out_;
  rtt_start_ = now;
  rtt_pending_ = true;
  if (trace_) trace_out("PING");
  send(protocol::kPing);
}

void Connection::fill_snapshot(ConnSnapshot& s) const {
  s.cid = cid_;
  s.ip = ip_;
  s.port = port_;
  s.start = start_time_;
  s.last_activity = SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::nanoseconds(last_activity_ns_.load(std::memory_order_relaxed))));
  s.rtt = std::chrono::nanoseconds(rtt_ns_.load(std::memory_order_relaxed));
  s.in_msgs = in_msgs_.load(std::memory_order_relaxed);
  s.in_bytes = in_bytes_.load(std::memory_order_relaxed);
  std::lock_guard lock(out_mu_);
  s.pending_bytes = pending_locked();
  s.out_msgs = out_msgs_;
  s.out_bytes = out_bytes_;
}

}  // namespace forest::broker
