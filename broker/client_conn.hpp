// A client connection, pinned to one IoThread for life. On that thread, without locks: reading,
// parsing, the subscriptions map, timers, and starting writes.
//
// Other threads touch it only through:
// - deliver() from publishers on any thread: inside a read batch it appends to the publisher
//   thread's own staging buffer for this receiver (no lock); otherwise it appends to
//   `out_queue_` under `out_mu_`;
// - take_staged(), the publisher thread's hand-over at the end of its batch, under `out_mu_`:
//   when no write is in flight and nothing is queued it sends the bytes on the socket itself
//   (non-blocking, so a full socket leaves the rest queued for the owner); else it queues them.
//   The owner closes the socket under `out_mu_`, so such a send never races a close;
// - posted work (close requests, reloaded limits, re-checks, a stalled producer's wake-up);
// - snapshot() for monitoring, under `info_mu_` / `out_mu_`.
//
// Pending bytes (for max_pending and /connz) are what is queued plus the write in flight. A
// receiver past max_pending is a slow consumer: from then on it takes no message. A receiver
// past half of it makes the publishing client pause its reads (nats-server's fast-producer
// stall) until the receiver drains or the stall times out; only that producer waits.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "asio.hpp"
#include "conn_info.hpp"
#include "io_thread.hpp"
#include "outbound_queue.hpp"
#include "protocol/parser.hpp"
#include "subscription.hpp"

namespace forest::broker {

class Account;
class Server;
struct AuthResult;
struct Options;

// What a CONNECT asked for (nats-server's defaults when a field is absent).
struct ConnectOptions {
  bool verbose = true, pedantic = true, echo = true, headers = false, no_responders = false;
  int64_t protocol = 0;
  std::string name, lang, version, user, pass, token;
};

// A tree, not a hash map: a client with 200,000 subscriptions must not stall its thread for a
// rehash (measured: one insert into a 131,072-entry unordered_map takes ~30 ms).
using SubsBySid = std::map<std::string, SubPtr, std::less<>>;

class ClientConn final : public MessageSink,
                         public FlushTarget,
                         public Tickable,
                         public StallableProducer,
                         public protocol::ParserHandler,
                         public std::enable_shared_from_this<ClientConn> {
 public:
  ClientConn(Server& server, IoThread& io, tcp::socket socket, uint64_t cid);
  ~ClientConn() override;

  // On the owning thread: sends INFO, starts reading.
  void start();
  // From any thread: closes on the owning thread.
  void request_close(CloseReason reason);
  // From any thread: tells the client (if it can take async INFO) that we are in lame-duck mode.
  void notify_lame_duck();
  // From any thread: new limits after a config reload.
  void apply_options();
  // From any thread, after a reload changed authorization: with `credentials_changed`, close
  // if our credentials no longer pass; before CONNECT, take on the new requirement and timeout.
  void recheck_authorization(bool credentials_changed);
  // From any thread: sends `-ERR '<text>'` and closes.
  void close_with_error(std::string_view text, CloseReason reason);

  [[nodiscard]] uint64_t cid() const { return cid_; }
  [[nodiscard]] ConnSnapshot snapshot(bool with_subs) const;

  // MessageSink
  bool deliver(Subscription& sub, const Delivery& msg) override;
  bool take_staged(StagedOutput& staged) override;
  // FlushTarget
  [[nodiscard]] IoThread& owner() const override { return io_; }
  std::shared_ptr<FlushTarget> flush_ref() override { return shared_from_this(); }
  void flush_now() override { start_write(); }
  void post_flush() override;
  // Tickable
  void on_tick(std::chrono::steady_clock::time_point now) override;
  // StallableProducer
  std::weak_ptr<StallableProducer> stall_ref() override { return weak_from_this(); }
  [[nodiscard]] uint64_t stall_epoch() const override { return stall_epoch_; }
  void resume_after_stall(uint64_t epoch) override;

 private:
  // ParserHandler
  bool on_connect(std::string_view json) override;
  bool on_info(std::string_view json) override;
  bool on_message(const protocol::MessageArgs& args, std::string_view payload) override;
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) override;
  bool on_unsub(std::string_view sid, int64_t max) override;
  bool on_ping() override;
  bool on_pong() override;
  bool on_ok() override;
  bool on_err(std::string_view text) override;
  bool on_op_before_connect() override { return adopt_no_auth_user(); }

  void read_some();
  void on_read(const error_code& ec, std::size_t n);
  // Reads on, unless the last batch asked this producer to pause (fast-producer stall).
  void continue_reading();
  void end_stall();
  // Parses input as one batch; false when reading must not continue (closing, or paused
  // while a slow authorization check runs).
  bool process_input(std::string_view data);
  // The rest of CONNECT once its credentials were checked; false when it closed.
  bool finish_connect(ConnectOptions& f, const std::optional<AuthResult>& auth);
  void on_async_auth(const std::optional<AuthResult>& auth);
  void handle_parse_status(protocol::ParseStatus st);
  void start_write();
  void on_write(const error_code& ec, std::size_t n);
  void close(CloseReason reason);
  void finish_close();
  // Appends protocol bytes for this client (own thread) and schedules the flush.
  void send(std::string_view bytes);
  void send_err(std::string_view text);
  // out_mu_ held: queued plus still being written (what nats-server counts as pending).
  [[nodiscard]] std::size_t pending_locked() const { return out_queue_.bytes() + in_flight_bytes_; }
  void note_pending_locked() { pending_hint_.store(static_cast<int64_t>(pending_locked()), std::memory_order_relaxed); }
  bool check_slow_consumer_locked();  // out_mu_ held
  // out_mu_ held: past half of max_pending, asks the batch's producer to pause.
  void maybe_stall_producer_locked();
  void wake_stalled_producers(std::unique_lock<std::mutex>& lock);
  void mark_slow_consumer();  // from a publisher's batch, without out_mu_
  void on_slow_consumer();
  void send_ok() { if (verbose_) send("+OK\r\n"); }
  void remove_subscription(const std::string& sid);
  void auto_unsubscribed(const Subscription& sub);  // any thread: the max was reached
  void remove_all_subscriptions();
  void remove_subscription_slice(std::shared_ptr<SubsBySid> doomed);
  void load_limits();
  void publish(std::string_view subject, std::string_view reply, int64_t header_size, std::string_view payload);
  void send_no_responders(std::string_view reply);
  void trace_in(std::string_view op, std::string_view arg);
  // The no_auth_user for an operation before CONNECT; false refuses the operation.
  bool adopt_no_auth_user();
  // Until CONNECT: whether it is required (or no_auth_user), and by when.
  void require_auth(const Options& opts, std::chrono::steady_clock::time_point from);
  void recheck_credentials();
  void schedule_first_ping();
  [[nodiscard]] std::chrono::steady_clock::duration first_ping_delay() const;
  [[nodiscard]] std::string describe() const;  // "ip:port - cid:N" as nats-server logs it

  Server& server_;
  IoThread& io_;
  tcp::socket socket_;
  int fd_ = -1;  // socket_'s descriptor, for direct sends from publisher threads
  const uint64_t cid_;
  protocol::Parser parser_;
  Account* account_ = nullptr;
  std::string ip_;
  int port_ = 0;

  // Read side (owning thread only)
  std::vector<char> read_buf_;
  std::string paused_input_;  // bytes after a CONNECT whose authorization is being checked
  std::unique_ptr<ConnectOptions> pending_connect_;
  int short_reads_ = 0;
  // Fast-producer stall (owning thread): reads pause until a receiver drains or time is up.
  std::chrono::steady_clock::duration stall_for_{};
  bool stalled_ = false;
  uint64_t stall_epoch_ = 0;
  std::unique_ptr<asio::steady_timer> stall_timer_;

  // CONNECT options (owning thread)
  bool connect_received_ = false;
  bool verbose_ = true;   // nats-server's defaults before a CONNECT
  bool pedantic_ = true;
  bool echo_ = true;
  std::atomic<bool> headers_{false};  // read by publishers on any thread
  bool no_responders_ = false;
  int protocol_ = 0;
  bool auth_required_ = false;
  bool recheck_after_connect_ = false;  // a reload came while our CONNECT was being checked
  bool trace_ = false;

  // Subscriptions by sid (owning thread writes; monitor reads under info_mu_).
  SubsBySid subs_;

  // Timers, driven by the thread's tick (owning thread only)
  using Clock = std::chrono::steady_clock;
  Clock::time_point auth_deadline_{};
  Clock::time_point connected_at_{};
  Clock::time_point next_ping_{};
  Clock::time_point last_activity_steady_{};
  Clock::time_point last_ping_from_client_{};
  Clock::time_point rtt_start_{};
  Clock::time_point write_started_{};
  int pings_out_ = 0;
  bool rtt_pending_ = false;   // a PING of ours is out; its PONG measures the RTT
  bool rtt_measured_ = false;
  bool write_in_flight_ = false;  // written by the owner under out_mu_; others read it under out_mu_
  bool closing_ = false;       // close() ran; waiting for the last bytes to go out
  // Closing or a slow consumer: takes no more messages (read by publishers on any thread, so
  // that a queue group picks another member and no-responders is detected).
  std::atomic<bool> refuses_messages_{false};
  bool closed_ = false;        // socket closed, unregistered
  CloseReason close_reason_ = CloseReason::none;
  Clock::time_point close_deadline_{};

  // Limits (owning thread; refreshed by apply_options). max_pending_ is read by publishers.
  std::atomic<int64_t> max_pending_{0};
  int64_t max_subs_ = 0;
  Clock::duration ping_interval_{};
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

  // Monitoring data (written by the owning thread under info_mu_ or atomically)
  mutable std::mutex info_mu_;
  std::string name_, lang_, version_, user_;
  std::string given_user_, given_pass_, given_token_;  // CONNECT credentials, for reloads
  SystemTime start_time_;
  std::atomic<int64_t> last_activity_ns_{0};  // system clock, for /connz
  std::atomic<uint64_t> in_msgs_{0}, in_bytes_{0};
  std::atomic<int64_t> rtt_ns_{0};
  uint64_t batch_in_msgs_ = 0, batch_in_bytes_ = 0;
  bool batch_active_ = false;  // the read batch had messages or subscription changes
};

}  // namespace forest::broker
