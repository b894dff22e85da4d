// Client connection lifecycle: reading, writing, closing, timers and monitoring snapshots.
// The protocol verbs are in client_proto.cpp.
#include "client_conn.hpp"

#include <sys/socket.h>

#include <random>

#include "account.hpp"
#include "protocol/encoder.hpp"
#include "protocol/errors.hpp"
#include "server.hpp"

namespace forest::broker {
namespace {

constexpr std::size_t kStartReadBuffer = 512;
constexpr std::size_t kMaxReadBuffer = 64 * 1024;
constexpr std::size_t kMinReadBuffer = 64;
constexpr int kShortsToShrink = 2;
// The first PING goes out early so the RTT is known (nats-server: 2s for clients).
constexpr auto kFirstPingInterval = std::chrono::seconds(2);
constexpr auto kRttInterval = std::chrono::hours(1);
constexpr auto kMaxCloseFlush = std::chrono::seconds(2);

int64_t now_system_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::steady_clock::duration jitter(std::chrono::steady_clock::duration d) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const auto max = d.count() / 5;
  if (max <= 0) return d;
  return d + std::chrono::steady_clock::duration(static_cast<int64_t>(rng() % static_cast<uint64_t>(max)));
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
    case CloseReason::max_payload_exceeded: return "Maximum Message Payload Exceeded";
    case CloseReason::max_control_line_exceeded: return "Maximum Control Line Exceeded";
    case CloseReason::server_shutdown: return "Server Shutdown";
    case CloseReason::no_responders_requires_headers: return "No Responders Requires Headers";
  }
  return "Unknown State";
}

ClientConn::ClientConn(Server& server, IoThread& io, tcp::socket socket, uint64_t cid)
    : server_(server), io_(io), socket_(std::move(socket)), cid_(cid), parser_(protocol::PeerKind::client) {
  error_code ec;
  fd_ = socket_.native_handle();
  const auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    ip_ = ep.address().to_string();
    port_ = ep.port();
  }
  socket_.set_option(tcp::no_delay(true), ec);
  start_time_ = std::chrono::system_clock::now();
  last_activity_ns_.store(now_system_ns(), std::memory_order_relaxed);
  account_ = &server_.global_account();
  load_limits();
}

ClientConn::~ClientConn() = default;

void ClientConn::apply_options() {
  asio::post(io_.context(), [self = shared_from_this()] { self->load_limits(); });
}

void ClientConn::load_limits() {
  const auto opts = server_.options();
  max_pending_.store(opts->max_pending, std::memory_order_relaxed);  // read by publishers
  parser_.set_limits({opts->max_control_line, opts->max_payload});
  max_subs_ = opts->max_subscriptions;
  ping_interval_ = std::chrono::duration_cast<Clock::duration>(opts->ping_interval);
  ping_max_ = opts->ping_max;
  write_deadline_ = std::chrono::duration_cast<Clock::duration>(opts->write_deadline);
  trace_ = opts->trace;
}

ClientConn::Clock::duration ClientConn::first_ping_delay() const {
  return jitter(std::min<Clock::duration>(ping_interval_, kFirstPingInterval));
}

std::string ClientConn::describe() const { return ip_ + ":" + std::to_string(port_) + " - cid:" + std::to_string(cid_); }

void ClientConn::start() {
  const auto opts = server_.options();
  const auto now = Clock::now();
  last_activity_steady_ = now;
  connected_at_ = now;
  // Until CONNECT, the regular interval; CONNECT brings the first ping forward (nats-server).
  next_ping_ = now + ping_interval_;
  io_.add_tickable(this);
  server_.log().debug("{} - Client connection created", describe());

  send(server_.info_line(cid_, ip_));
  if (server_.num_clients() > static_cast<std::size_t>(opts->max_connections) && opts->max_connections > 0) {
    server_.log().error("{} - Client connection error: maximum connections exceeded", describe());
    send_err(protocol::err::kMaxConnections);
    close(CloseReason::max_connections_exceeded);
    return;
  }
  require_auth(*opts, now);
  read_buf_.resize(kStartReadBuffer);
  read_some();
  start_write();
}

void ClientConn::read_some() {
  socket_.async_read_some(asio::buffer(read_buf_),
                          [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
}

void ClientConn::on_read(const error_code& ec, std::size_t n) {
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
    // The peer is gone: it takes nothing more from now on, and the close itself (socket, index,
    // registry: a kernel round trip and some locks) runs as a handler of its own. When thousands
    // of peers leave at once, the thread's other connections are served between those closes
    // instead of after all of them.
    refuses_messages_.store(true, std::memory_order_relaxed);
    const CloseReason reason = ec == asio::error::eof ? CloseReason::client_closed : CloseReason::read_error;
    asio::post(io_.context(), [self = shared_from_this(), reason] { self->close(reason); });
    return;
  }
  continue_reading();
}

void ClientConn::continue_reading() {
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

void ClientConn::end_stall() {
  stalled_ = false;
  ++stall_epoch_;
  if (stall_timer_) stall_timer_->cancel();
  if (!closing_) read_some();
}

void ClientConn::resume_after_stall(uint64_t epoch) {
  asio::post(io_.context(), [self = shared_from_this(), epoch] {
    if (self->stalled_ && epoch == self->stall_epoch_) self->end_stall();
  });
}

bool ClientConn::process_input(std::string_view data) {
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
    // Keep what follows; reading resumes when the authorization check is back.
    paused_input_.assign(data.substr(parser_.resume_offset()));
    return false;
  }
  if (st != protocol::ParseStatus::ok) {
    handle_parse_status(st);
    return false;
  }
  return !closing_;
}

void ClientConn::handle_parse_status(protocol::ParseStatus st) {
  using protocol::ParseStatus;
  namespace err = protocol::err;
  switch (st) {
    case ParseStatus::ok:
    case ParseStatus::stopped_by_handler:
    case ParseStatus::paused:
      break;
    case ParseStatus::unknown_operation:
      send_err(err::kUnknownOperation);
      server_.log().error("{} - Client parser ERROR", describe());
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
      server_.log().error("{} - Client protocol error: bad arguments", describe());
      close(CloseReason::protocol_violation);
      break;
  }
}

void ClientConn::send(std::string_view bytes) {
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

void ClientConn::send_err(std::string_view text) {
  if (trace_) server_.log().trace("{} - ->> [-ERR '{}']", describe(), text);
  std::string line;
  protocol::append_err(line, text);
  send(line);
}

bool ClientConn::deliver(Subscription& sub, const Delivery& msg) {
  // Closing, or already a slow consumer: takes nothing, so a queue group picks another member
  // and the publisher can be told there are no responders.
  if (refuses_messages_.load(std::memory_order_relaxed)) return false;
  bool reached_max = false;
  if (!try_count_delivery(sub, reached_max)) return false;
  std::string_view payload = msg.payload;
  int64_t header_size = msg.header_size;
  if (header_size >= 0 && !headers_.load(std::memory_order_relaxed)) {
    // A receiver without header support gets the body only, as nats-server does.
    payload = payload.substr(static_cast<std::size_t>(header_size));
    header_size = -1;
  }
  IoThread* thread = IoThread::current();
  if (thread != nullptr && thread->in_batch()) {
    // The hot path: no lock; handed over once per batch by take_staged().
    StagedOutput& staged = thread->stage_for(*this);
    // A buffer adopted by a receiver's queue leaves none behind: start the next one at a size
    // that skips the smallest growth steps without costing much in a wide fan-out.
    if (staged.bytes.capacity() < 512) staged.bytes.reserve(2048);
    protocol::append_client_msg(staged.bytes, msg.subject, sub.sid, msg.reply, header_size, payload);
    ++staged.msgs;
    staged.payload_bytes += payload.size();
    thread->count_out(payload.size());
    // What one batch stages counts against max_pending at once, not only at the hand-over:
    // a wide overlap of subscriptions must not buffer far more than the limit first.
    const int64_t max_pending = max_pending_.load(std::memory_order_relaxed);
    if (max_pending > 0 &&
        static_cast<int64_t>(staged.bytes.size()) + pending_hint_.load(std::memory_order_relaxed) > max_pending) {
      mark_slow_consumer();
    }
  } else {
    bool became_slow = false;
    {
      std::lock_guard lock(out_mu_);
      if (out_closed_ || slow_consumer_) return false;
      const std::size_t estimate = msg.subject.size() + sub.sid.size() + msg.reply.size() + payload.size() + 48;
      out_queue_.append_with(estimate, [&](std::string& out) {
        protocol::append_client_msg(out, msg.subject, sub.sid, msg.reply, header_size, payload);
      });
      ++out_msgs_;
      out_bytes_ += payload.size();
      note_pending_locked();
      became_slow = check_slow_consumer_locked();
    }
    if (thread != nullptr) {
      thread->count_out(payload.size());
    } else {
      server_.counters().out_msgs.fetch_add(1, std::memory_order_relaxed);
      server_.counters().out_bytes.fetch_add(payload.size(), std::memory_order_relaxed);
    }
    if (became_slow) {
      on_slow_consumer();
      return true;
    }
    schedule_flush(*this);
  }
  if (reached_max) auto_unsubscribed(sub);
  return true;
}

bool ClientConn::check_slow_consumer_locked() {
  const int64_t max_pending = max_pending_.load(std::memory_order_relaxed);
  if (slow_consumer_ || max_pending <= 0 || static_cast<int64_t>(pending_locked()) <= max_pending) return false;
  slow_consumer_ = true;
  refuses_messages_.store(true, std::memory_order_relaxed);
  return true;
}

void ClientConn::mark_slow_consumer() {
  {
    std::lock_guard lock(out_mu_);
    if (slow_consumer_ || out_closed_) return;
    slow_consumer_ = true;
    refuses_messages_.store(true, std::memory_order_relaxed);
  }
  on_slow_consumer();
}

void ClientConn::on_slow_consumer() {
  server_.counters().slow_consumers.fetch_add(1, std::memory_order_relaxed);
  server_.log().info("{} - Slow Consumer Detected: MaxPending of {} Exceeded", describe(),
                     max_pending_.load(std::memory_order_relaxed));
  request_close(CloseReason::slow_consumer_pending_bytes);
}

namespace {

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

void ClientConn::maybe_stall_producer_locked() {
  const int64_t max_pending = max_pending_.load(std::memory_order_relaxed);
  const auto pending = static_cast<int64_t>(pending_locked());
  if (max_pending <= 0 || pending <= max_pending / 2) return;
  IoThread* thread = IoThread::current();
  StallableProducer* producer = thread != nullptr ? thread->batch_producer() : nullptr;
  if (producer == nullptr || producer == static_cast<StallableProducer*>(this)) return;
  // Remembered so the drain can wake it early; a huge fan-in waits for its timer instead.
  constexpr std::size_t kMaxRemembered = 256;
  const bool known = std::any_of(stalled_producers_.begin(), stalled_producers_.end(),
                                 [&](const StalledProducer& p) { return p.raw == producer && p.epoch == producer->stall_epoch(); });
  if (!known && stalled_producers_.size() < kMaxRemembered) {
    stalled_producers_.push_back({producer->stall_ref(), producer, producer->stall_epoch()});
  }
  thread->request_stall(stall_duration(pending, max_pending));
}

void ClientConn::wake_stalled_producers(std::unique_lock<std::mutex>& lock) {
  if (stalled_producers_.empty()) return;
  std::vector<StalledProducer> wake;
  wake.swap(stalled_producers_);
  lock.unlock();
  for (const StalledProducer& p : wake) {
    if (auto ref = p.ref.lock()) ref->resume_after_stall(p.epoch);
  }
}

bool ClientConn::take_staged(StagedOutput& staged) {
  bool became_slow = false;
  bool owner_must_write = false;
  {
    std::lock_guard lock(out_mu_);
    if (out_closed_ || slow_consumer_) return false;
    out_msgs_ += staged.msgs;
    out_bytes_ += staged.payload_bytes;
    if (!write_in_flight_ && out_queue_.empty()) {
      // Nobody is writing and nothing waits: send from this thread right away (nats-server
      // flushes receivers inline too). Under the lock, so the owner cannot close the socket
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

void ClientConn::post_flush() {
  if (wake_posted_.exchange(true, std::memory_order_acq_rel)) return;
  asio::post(io_.context(), [self = shared_from_this()] {
    self->wake_posted_.store(false, std::memory_order_release);
    self->start_write();
  });
}

void ClientConn::start_write() {
  if (write_in_flight_ || closed_) return;
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
  asio::async_write(socket_, out_buffers_,
                    [self = shared_from_this()](const error_code& ec, std::size_t n) { self->on_write(ec, n); });
}

void ClientConn::on_write(const error_code& ec, std::size_t) {
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
  start_write();
}

void ClientConn::request_close(CloseReason reason) {
  asio::post(io_.context(), [self = shared_from_this(), reason] { self->close(reason); });
}

void ClientConn::close(CloseReason reason) {
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
  remove_all_subscriptions();
  bool nothing_to_send;
  {
    std::lock_guard lock(out_mu_);
    out_closed_ = true;
    nothing_to_send = out_queue_.empty();
  }
  const bool can_flush = reason != CloseReason::write_error && reason != CloseReason::slow_consumer_write_deadline &&
                         reason != CloseReason::slow_consumer_pending_bytes;
  if (!can_flush || (nothing_to_send && !write_in_flight_)) {
    finish_close();
    return;
  }
  // Let the last bytes (an -ERR, buffered messages) go out first, bounded in time.
  close_deadline_ = Clock::now() + std::min<Clock::duration>(write_deadline_, kMaxCloseFlush);
  start_write();
}

void ClientConn::finish_close() {
  if (closed_) return;
  closed_ = true;
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
  const auto reason = close_reason_;
  server_.log().debug("{} - Client connection closed: {}", describe(), close_reason_text(reason));
  ConnSnapshot snap = snapshot(false);
  snap.stop = std::chrono::system_clock::now();
  snap.reason = reason;
  server_.client_closed(*this, std::move(snap));
}

void ClientConn::on_tick(Clock::time_point now) {
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
  // Like nats-server, the auth timer stops once a CONNECT arrived (its check may take a while).
  if (auth_required_ && !connect_received_ && !pending_connect_ && now >= auth_deadline_) {
    send_err(protocol::err::kAuthenticationTimeout);
    close(CloseReason::authentication_timeout);
    return;
  }
  if (now < next_ping_) return;
  next_ping_ = now + ping_interval_;
  // Until one of our PINGs measured it (and again every hour), the RTT is worth a PING.
  const bool need_rtt = !rtt_measured_ || now - rtt_start_ > kRttInterval;
  if (!need_rtt && (now - last_activity_steady_ < ping_interval_ || now - last_ping_from_client_ < ping_interval_)) {
    return;  // recent traffic proves the client is alive
  }
  if (pings_out_ + 1 > ping_max_) {
    server_.log().debug("{} - Stale Client Connection - Closing", describe());
    send_err(protocol::err::kStaleConnection);
    close(CloseReason::stale_connection);
    return;
  }
  ++pings_out_;
  rtt_start_ = now;
  rtt_pending_ = true;
  if (trace_) server_.log().trace("{} - ->> [PING]", describe());
  send(protocol::kPing);
}

void ClientConn::notify_lame_duck() {
  asio::post(io_.context(), [self = shared_from_this()] {
    if (self->closing_ || self->protocol_ < 1 || !self->connect_received_) return;
    // info_line() carries "ldm":true from the moment lame-duck mode began.
    self->send(self->server_.info_line(self->cid_, self->ip_));
  });
}

ConnSnapshot ClientConn::snapshot(bool with_subs) const {
  ConnSnapshot s;
  s.cid = cid_;
  s.ip = ip_;
  s.port = port_;
  s.start = start_time_;
  s.last_activity = SystemTime(std::chrono::duration_cast<SystemTime::duration>(
      std::chrono::nanoseconds(last_activity_ns_.load(std::memory_order_relaxed))));
  s.rtt = std::chrono::nanoseconds(rtt_ns_.load(std::memory_order_relaxed));
  s.in_msgs = in_msgs_.load(std::memory_order_relaxed);
  s.in_bytes = in_bytes_.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(out_mu_);
    s.pending_bytes = pending_locked();
    s.out_msgs = out_msgs_;
    s.out_bytes = out_bytes_;
  }
  std::lock_guard lock(info_mu_);
  s.name = name_;
  s.lang = lang_;
  s.version = version_;
  s.authorized_user = user_;
  s.account = account_ != nullptr ? account_->name() : "";
  s.num_subs = static_cast<uint32_t>(subs_.size());
  if (with_subs) {
    for (const auto& [sid, sub] : subs_) {
      SubInfo si;
      si.account = s.account;
      si.subject = sub->subject;
      si.queue = sub->queue;
      si.sid = sub->sid;
      si.msgs = static_cast<int64_t>(sub->delivered.load(std::memory_order_relaxed));
      si.max = sub->max_msgs.load(std::memory_order_relaxed);
      si.cid = cid_;
      s.subs.push_back(std::move(si));
    }
  }
  return s;
}

}  // namespace forest::broker
