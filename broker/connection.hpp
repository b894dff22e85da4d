// The machinery every TCP connection kind shares (clients, routes, later leaf nodes): the read
// loop and its buffer, the parser, batches, the outbound queue with gathered and direct writes,
// pending-byte accounting, slow consumers, fast-producer stalls, pings, close and flush, the
// thread's ticker. A kind adds its verbs (the ParserHandler callbacks) and its rules through
// the hooks below; it never copies this.
//
// Pinned to one IoThread for life. On that thread, without locks: reading, parsing, timers,
// and starting writes. Other threads touch a connection only through:
// - deliver() of the kind from publishers on any thread: inside a read batch, appending to the
//   publisher thread's own staging buffer for this receiver (no lock), otherwise appending to
//   `out_queue_` under `out_mu_` (see enqueue_encoded());
// - take_staged(), a publisher thread's hand-over at the end of its batch, under `out_mu_`:
//   when no write is in flight and nothing is queued it sends the bytes on the socket itself
//   (non-blocking, a full socket leaves the rest queued for the owner); else it queues them.
//   The owner gives up the socket under `out_mu_`, so such a send never races a close;
// - posted work (close requests, reloaded limits, a stalled producer's wake-up);
// - snapshots for monitoring, under `info_mu_` / `out_mu_`.
//
// Pending bytes (for max_pending and monitoring) are what is queued plus the write in flight.
// A receiver past max_pending is a slow consumer: from then on it takes no message. A receiver
// past half of it makes the publishing connection pause its reads (nats-server's fast-producer
// stall) until the receiver drains or the stall times out; only that producer waits.
//
// Transport: the plain socket, or TLS over it (enable_tls() before start()). With TLS the
// greeting goes out in plain text, then the server-side handshake runs (bounded by its
// timeout), then reads and writes go through the TLS stream; publishers never write to a TLS
// connection's socket themselves (OpenSSL's state is the owner's), they queue and wake it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "asio.hpp"
#include "conn_info.hpp"
#include "io_thread.hpp"
#include "outbound_queue.hpp"
#include "protocol/parser.hpp"
#include "subscription.hpp"

namespace forest::broker {

class Server;
struct Options;
struct TlsContext;
struct TlsStream;
struct CertIdentity;

enum class ConnKind : uint8_t { client, route };

class Connection : public MessageSink,
                   public FlushTarget,
                   public Tickable,
                   public StallableProducer,
                   public protocol::ParserHandler,
                   public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(Server& server, IoThread& io, tcp::socket socket, uint64_t cid, ConnKind kind,
             protocol::PeerKind peer);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // On the owning thread: registers with the ticker, lets the kind greet (on_start), reads.
  void start();
  // From any thread: closes on the owning thread.
  void request_close(CloseReason reason);
  // From any thread: new limits after a config reload.
  void apply_options();
  // From any thread: takes no more messages from now on (a route being replaced).
  void refuse_messages() { refuses_messages_.store(true, std::memory_order_relaxed); }

  [[nodiscard]] uint64_t cid() const { return cid_; }
  [[nodiscard]] ConnKind kind() const { return kind_; }
  [[nodiscard]] const std::string& ip() const { return ip_; }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] IoThread& io() const { return io_; }
  // Why it closed (none while open); on the owning thread.
  [[nodiscard]] CloseReason close_reason() const { return close_reason_; }

  // FlushTarget
  bool take_staged(StagedOutput& staged) override;
  [[nodiscard]] IoThread& owner() const override { return io_; }
  std::shared_ptr<FlushTarget> flush_ref() override { return shared_from_this(); }
  void flush_now() override { start_write(); }
  void post_flush() override;
  // Tickable
  void on_tick(Clock::time_point now) override;
  // StallableProducer
  std::weak_ptr<StallableProducer> stall_ref() override { return weak_from_this(); }
  [[nodiscard]] uint64_t stall_epoch() const override { return stall_epoch_; }
  void resume_after_stall(uint64_t epoch) override;

 protected:
  // Hooks of the kind (on the owning thread).
  // After start(): greet the peer (INFO, CONNECT). False when it closed the connection.
  virtual bool on_start() = 0;
  // close() ran: stop taking part (remove subscriptions, leave registries that route to us).
  virtual void on_closing() = 0;
  // The socket is gone: leave the server's registry (keep a last snapshot for monitoring).
  virtual void on_closed() = 0;
  // Each tick before the shared checks; false when it closed the connection.
  virtual bool on_kind_tick(Clock::time_point) { return true; }
  // After a reload, the kind's own limits.
  virtual void load_kind_limits(const Options&) {}
  // The TLS handshake succeeded: start what waited for it (the authorization timer).
  virtual void on_secured() {}
  // "Client" or "Route", as nats-server names the kind in its logs.
  [[nodiscard]] virtual const char* kind_label() const = 0;
  // "ip:port - cid:N" for clients, "ip:port - rid:N" for routes, as nats-server logs them.
  [[nodiscard]] virtual std::string describe() const;

  // How a TLS connection starts. after_greeting (the client port): the greeting (the first
  // bytes on_start() sends) goes out in plain text, then the server side of the handshake.
  // server_first / client_first (routes): the handshake comes first, as the accepting or the
  // dialing side; on_start() runs once it succeeded. A dialing side checks the peer's
  // certificate against `peer_name` (a host name, or an IP address's SANs), unless the
  // context is insecure.
  enum class TlsHandshake : uint8_t { after_greeting, server_first, client_first };
  // Before start(), on the owning thread; the handshake must complete within `timeout`.
  void enable_tls(std::shared_ptr<TlsContext> ctx, Clock::duration timeout,
                  TlsHandshake how = TlsHandshake::after_greeting, const std::string& peer_name = {});
  [[nodiscard]] bool uses_tls() const { return tls_ != nullptr; }
  // After the TLS handshake: the peer's certificate (null without one, or without TLS).
  [[nodiscard]] const std::shared_ptr<const CertIdentity>& peer_certificate() const { return peer_cert_; }

  template <typename T>
  std::shared_ptr<T> self() { return std::static_pointer_cast<T>(shared_from_this()); }

  // Output. send() appends protocol bytes (own thread: staged with the batch; other threads:
  // queued and flushed) and may be called from any thread.
  void send(std::string_view bytes);
  void send_err(std::string_view text);
  // Never staged with a read batch: straight into the queue under out_mu_, so that bytes sent
  // from several threads under one outside lock (interest changes) keep that lock's order.
  void send_ordered(std::string_view bytes);
  // A message for this receiver, written by `encode(std::string&)` (about `estimate` bytes,
  // carrying `payload_size` payload bytes). False when not taken (closed, slow consumer).
  template <typename Encode>
  bool enqueue_encoded(std::size_t estimate, std::size_t payload_size, Encode&& encode);
  [[nodiscard]] bool refuses_messages() const { return refuses_messages_.load(std::memory_order_relaxed); }

  void close(CloseReason reason);
  void handle_parse_status(protocol::ParseStatus st);
  // Input processing of a kind that pauses (slow authorization): resumes with the rest.
  bool process_input(std::string_view data);
  void continue_reading();
  // Parsing was paused: what follows in the buffer, fed again by resume_input().
  void resume_input();

  // Pings: the first comes early, to measure the round trip (clients 2 s, others 1 s).
  void schedule_first_ping(Clock::duration first);
  void note_pong();
  void note_ping_from_peer() { last_ping_from_peer_ = Clock::now(); }
  void trace_in(std::string_view op, std::string_view arg);
  void trace_out(std::string_view text);

  // Monitoring.
  void fill_snapshot(ConnSnapshot& s) const;  // the shared fields; takes out_mu_

  Server& server_;
  IoThread& io_;
  const uint64_t cid_;
  const ConnKind kind_;
  protocol::Parser parser_;
  std::string ip_;
  int port_ = 0;
  bool trace_ = false;

  // Read batch (owning thread): what the kind's callbacks count.
  uint64_t batch_in_msgs_ = 0, batch_in_bytes_ = 0;
  bool batch_active_ = false;  // the read batch had messages or subscription changes
  Clock::time_point connected_at_{};
  Clock::time_point last_activity_steady_{};
  bool closing_ = false;  // close() ran; waiting for the last bytes to go out
  Clock::duration ping_interval_{};

  // Monitoring data written by the kind under info_mu_.
  mutable std::mutex info_mu_;
  std::atomic<int64_t> rtt_ns_{0};

 private:
  void read_some();
  void on_read(const error_code& ec, std::size_t n);
  void end_stall();
  void start_write();
  void on_write(const error_code& ec, std::size_t n);
  void finish_close();
  void start_tls_handshake();
  void on_tls_handshake(const error_code& ec);
  void load_limits();
  [[nodiscard]] std::size_t pending_locked() const { return out_queue_.bytes() + in_flight_bytes_; }
  void note_pending_locked() { pending_hint_.store(static_cast<int64_t>(pending_locked()), std::memory_order_relaxed); }
  bool check_slow_consumer_locked();
  void maybe_stall_producer_locked();
  void wake_stalled_producers(std::unique_lock<std::mutex>& lock);
  void mark_slow_consumer();
  void on_slow_consumer();
  void count_out_elsewhere(std::size_t payload_size);

  tcp::socket socket_;
  int fd_ = -1;  // socket_'s descriptor, for direct sends from publisher threads

  // TLS (owning thread; tls_ is set before start() and never changes, so publishers may test it).
  // greeting: writes are plain (the INFO); handshake: writes wait; ready: all through tls_.
  enum class TlsState : uint8_t { off, greeting, handshake, ready };
  std::unique_ptr<TlsStream> tls_;
  TlsState tls_state_ = TlsState::off;
  Clock::duration tls_timeout_{};
  TlsHandshake tls_how_ = TlsHandshake::after_greeting;
  std::unique_ptr<asio::steady_timer> tls_timer_;
  std::shared_ptr<const CertIdentity> peer_cert_;

  // Read side (owning thread only)
  std::vector<char> read_buf_;
  std::string paused_input_;  // bytes after an operation that paused parsing
  int short_reads_ = 0;
  // Fast-producer stall: reads pause until a receiver drains or time is up.
  Clock::duration stall_for_{};
  bool stalled_ = false;
  uint64_t stall_epoch_ = 0;
  std::unique_ptr<asio::steady_timer> stall_timer_;

  // Timers, driven by the thread's tick (owning thread only)
  Clock::time_point next_ping_{};
  Clock::time_point last_ping_from_peer_{};
  Clock::time_point rtt_start_{};
  Clock::time_point write_started_{};
  int pings_out_ = 0;
  bool rtt_pending_ = false;  // a PING of ours is out; its PONG measures the RTT
  bool rtt_measured_ = false;
  bool write_in_flight_ = false;  // written by the owner under out_mu_; others read it under out_mu_
  // Closing or a slow consumer: takes no more messages (read by publishers on any thread, so
  // that a queue group picks another member and no-responders is detected).
  std::atomic<bool> refuses_messages_{false};
  bool closed_ = false;  // socket gone, unregistered
  CloseReason close_reason_ = CloseReason::none;
  Clock::time_point close_deadline_{};

  // Limits (owning thread; refreshed by apply_options). max_pending_ is read by publishers.
  std::atomic<int64_t> max_pending_{0};
  int ping_max_ = 2;
  Clock::duration write_deadline_{};

  // Outbound (any thread, under out_mu_)
  mutable std::mutex out_mu_;
  OutboundQueue out_queue_;
  bool out_closed_ = false;
  bool slow_consumer_ = false;
  std::size_t in_flight_bytes_ = 0;  // of the write in progress
  uint64_t out_msgs_ = 0, out_bytes_ = 0;
  struct StalledProducer {
    std::weak_ptr<StallableProducer> ref;
    StallableProducer* raw;  // identity, for de-duplication
    uint64_t epoch;
  };
  std::vector<StalledProducer> stalled_producers_;
  // pending_locked(), readable without the lock (bounds what a publisher's batch stages).
  std::atomic<int64_t> pending_hint_{0};
  std::atomic<bool> wake_posted_{false};
  std::vector<std::string> out_writing_;  // chunks of the write in flight (owning thread only)
  std::vector<asio::const_buffer> out_buffers_;

  SystemTime start_time_;
  std::atomic<int64_t> last_activity_ns_{0};  // system clock, for monitoring
  std::atomic<uint64_t> in_msgs_{0}, in_bytes_{0};
};

template <typename Encode>
bool Connection::enqueue_encoded(std::size_t estimate, std::size_t payload_size, Encode&& encode) {
  IoThread* thread = IoThread::current();
  if (thread != nullptr && thread->in_batch()) {
    // The hot path: no lock; handed over once per batch by take_staged().
    StagedOutput& staged = thread->stage_for(*this);
    // A buffer adopted by a receiver's queue leaves none behind: start the next one at a size
    // that skips the smallest growth steps without costing much in a wide fan-out.
    if (staged.bytes.capacity() < 512) staged.bytes.reserve(2048);
    encode(staged.bytes);
    ++staged.msgs;
    staged.payload_bytes += payload_size;
    thread->count_out(payload_size);
    // What one batch stages counts against max_pending at once, not only at the hand-over:
    // a wide overlap of subscriptions must not buffer far more than the limit first.
    const int64_t max_pending = max_pending_.load(std::memory_order_relaxed);
    if (max_pending > 0 &&
        static_cast<int64_t>(staged.bytes.size()) + pending_hint_.load(std::memory_order_relaxed) > max_pending) {
      mark_slow_consumer();
    }
    return true;
  }
  bool became_slow = false;
  {
    std::lock_guard lock(out_mu_);
    if (out_closed_ || slow_consumer_) return false;
    out_queue_.append_with(estimate, encode);
    ++out_msgs_;
    out_bytes_ += payload_size;
    note_pending_locked();
    became_slow = check_slow_consumer_locked();
  }
  if (thread != nullptr) {
    thread->count_out(payload_size);
  } else {
    count_out_elsewhere(payload_size);
  }
  if (became_slow) {
    on_slow_consumer();
    return true;
  }
  schedule_flush(*this);
  return true;
}

}  // namespace forest::broker
