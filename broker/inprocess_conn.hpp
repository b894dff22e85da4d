// An in-process client connection: the embedding app's client, a connection kind of the
// server next to TCP clients (ClientConn) and routes, without a socket and without protocol
// text.
//
// To the server it is a client like any other: it has a connection id, it authenticates
// against the configured users, it counts toward max_connections and in /varz, /connz lists it
// (ip "pipe", port 0), reload, lame duck and shutdown close it. Its subscriptions go into its
// account's subject index like a TCP client's, so they reach routes the same way. It has a TCP
// client's semantics: echo (off: its own publishes skip it), auto-unsubscribe after N
// messages, max_subscriptions, max_payload, headers, and no-responders (a request nobody took
// gets the 503 status message on its reply subscription).
//
// Threads:
// - publish(), subscribe(), unsubscribe(), close() from any thread (publish() routes on the
//   caller's thread through this connection's own match cache);
// - a `Dispatch` subscription's handler runs on the connection's dispatch thread (an IoThread
//   that serves no sockets, given by the owner), one message at a time, in order; never on an
//   I/O thread. What a handler publishes is staged per turn and handed over once per receiver;
// - a `Direct` subscription's handler runs inside deliver(), on the publisher's thread: it must
//   only copy the message somewhere and wake a waiter (request replies, synchronous
//   subscriptions), never publish or close.
//
// Slow consumer: past the pending limits (messages or bytes queued for the dispatch thread)
// new messages are dropped and counted, and the event handler hears of it once per episode, as
// a NATS client library reports its own slow consumer. Closing the app's own connection, as
// the server does with a slow TCP client, would take the app down with it.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "client_endpoint.hpp"
#include "io_thread.hpp"
#include "spin_mutex.hpp"
#include "subscription.hpp"

namespace forest::broker {

class Account;
class ConnPermissions;
class MatchCache;
class PermissionRules;
class Server;

struct InProcessOptions {
  std::string name;
  std::string lang = "C++";
  std::string version;
  bool echo = true;
  std::string user, pass, token;  // as in CONNECT, when the server requires authorization
  int64_t max_pending_msgs = 65536;          // libnats' defaults; <= 0: no limit
  int64_t max_pending_bytes = 64LL << 20;
};

// A message as a dispatch handler sees it: views into the connection's queue, valid during the
// call (no copy per message on the way to the handler).
struct InProcessMessage {
  std::string_view subject;
  std::string_view reply;
  int64_t header_size = -1;  // -1: no headers; else the first header_size bytes of payload
  std::string_view payload;  // headers + body

  [[nodiscard]] std::string_view headers() const {
    return header_size < 0 ? std::string_view{} : payload.substr(0, static_cast<std::size_t>(header_size));
  }
  [[nodiscard]] std::string_view body() const {
    return header_size < 0 ? payload : payload.substr(static_cast<std::size_t>(header_size));
  }
};

enum class InProcessEvent : uint8_t {
  closed,         // text: the reason
  lame_duck,      // the server entered lame-duck mode
  slow_consumer,  // text: the subject whose message was dropped first
  error,          // text: what the server said (`-ERR` text for a TCP client)
};

class InProcessConn final : public MessageSink,
                            public ClientEndpoint,
                            public Tickable,
                            public std::enable_shared_from_this<InProcessConn> {
 public:
  using Handler = std::function<void(const InProcessMessage&)>;
  // Direct handlers see the message as routed (views valid during the call).
  using DirectHandler = std::function<void(const Delivery&)>;
  using EventHandler = std::function<void(InProcessEvent, std::string_view)>;

  // Authenticates and registers the connection. `dispatch` must outlive it (the owner stops
  // and joins it after close()). `events` runs on the dispatch thread.
  [[nodiscard]] static std::expected<std::shared_ptr<InProcessConn>, std::string> connect(
      Server& server, IoThread& dispatch, InProcessOptions opts, EventHandler events);
  ~InProcessConn() override;

  // A subscription; its sid (unique per connection) or why it was refused.
  [[nodiscard]] std::expected<uint64_t, std::string> subscribe(std::string_view subject, std::string_view queue,
                                                               Handler handler);
  [[nodiscard]] std::expected<uint64_t, std::string> subscribe_direct(std::string_view subject, DirectHandler handler);
  // max > 0: auto-unsubscribe once it got `max` messages in all (as UNSUB <sid> <max>).
  std::expected<void, std::string> unsubscribe(uint64_t sid, int64_t max = 0);
  // Routes a message as a TCP client's PUB/HPUB. `header_size`: -1 without headers, else the
  // length of the NATS/1.0 header block at the start of `payload`.
  std::expected<void, std::string> publish(std::string_view subject, std::string_view reply, std::string_view payload,
                                           int64_t header_size = -1);
  // Many messages at once, in order, as one TCP read of PUBs: one lock of the match cache for
  // all, and what goes to in-process subscribers is staged per receiver and handed over once
  // per receiver at the end (inprocess_stage.cpp). All are checked first: an invalid one
  // (its index in the error's text) means none was published.
  struct PublishItem {
    std::string_view subject;
    std::string_view reply;
    std::string_view payload;
    int64_t header_size = -1;
  };
  std::expected<void, std::string> publish_batch(std::span<const PublishItem> items);
  // Closes it (idempotent): unsubscribes everything, reports to the server, then the event
  // handler hears `closed`.
  void close() { close_with(CloseReason::client_closed, {}); }
  // On the dispatch thread inside a handler: hands what the handler published so far to its
  // receivers now instead of after the handler (a handler about to wait for an answer).
  void hand_over_staged();
  [[nodiscard]] bool closed() const { return closed_.load(); }

  [[nodiscard]] uint64_t cid() const { return cid_; }
  [[nodiscard]] uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  [[nodiscard]] IoThread& dispatch() const { return dispatch_; }
  [[nodiscard]] Server& server() const { return server_; }
  [[nodiscard]] int64_t max_payload() const { return max_payload_.load(std::memory_order_relaxed); }

  // MessageSink
  bool deliver(Subscription& sub, const Delivery& msg) override;
  // A batch's run on one subject (route_run): counted and staged at once.
  bool deliver_run(Subscription& sub, std::span<const Delivery> run) override;

  // ClientEndpoint
  [[nodiscard]] uint64_t client_id() const override { return cid_; }
  [[nodiscard]] ConnSnapshot snapshot(bool with_subs) const override;
  void request_close(CloseReason reason) override { close_with(reason, {}); }
  void close_with_error(std::string_view text, CloseReason reason) override { close_with(reason, text); }
  void notify_lame_duck() override;
  void send_async_info() override {}  // it has no server list to update
  void apply_options() override;
  void recheck_authorization(bool credentials_changed) override;
  [[nodiscard]] bool in_process() const override { return true; }

  // Tickable: sweeps this connection's match cache (on the dispatch thread).
  void on_tick(std::chrono::steady_clock::time_point now) override;
  // Its in and out counts (kept here: no shared atomics per message).
  void add_own_traffic(TrafficCounts& into) const override;

  // Use connect().
  InProcessConn(Server& server, IoThread& dispatch, InProcessOptions opts, EventHandler events, uint64_t cid);

 private:
  // What publishers read (sub, direct) and what the dispatch thread writes per message
  // (handled) sit on separate cache lines: otherwise each message would move the line between
  // the two threads' caches. The dispatch thread reads `removed` and `limit` here rather than
  // the Subscription's flags, which share a line with the counter publishers increment.
  struct Entry {
    SubPtr sub;
    DirectHandler direct;   // direct subscriptions
    alignas(64) Handler handler;  // dispatch subscriptions
    uint64_t handled = 0;   // messages handed to `handler` (dispatch thread): auto-unsubscribe
    std::atomic<bool> removed{false};  // set with sub->closed
    std::atomic<int64_t> limit{0};     // the auto-unsubscribe maximum, set before sub->max_msgs
  };
  // A queued message: its bytes are in the queue's arena (subject, reply, payload in a row).
  // `entry` is a plain pointer: a reference count shared by the publisher (taking) and the
  // dispatch thread (dropping) would bounce between their caches on every message. Entries
  // removed while messages may still point at them wait in retired_ (see drain()).
  struct Queued {
    Entry* entry;
    std::size_t offset;
    uint32_t subject_len, reply_len;
    int64_t header_size;
    std::size_t payload_len;
  };

  // A batch's deliveries to in-process receivers, per receiver (inprocess_stage.cpp).
  class Stage;
  [[nodiscard]] std::expected<void, std::string> check_publish(std::string_view subject, std::string_view reply,
                                                               std::string_view payload, int64_t header_size,
                                                               bool subject_checked = false) const;
  // deliver() while a batch of this thread is staging: queues into the batch, not into queue_.
  bool stage_delivery(Stage& stage, Subscription& sub, const Delivery& msg);
  bool deliver_now(Subscription& sub, const Delivery& msg);  // one message, under mu_
  void post_removal(const Subscription& sub);  // an auto-unsubscribe limit was reached
  // Under mu_: whether that many more messages and payload bytes pass the pending limits.
  [[nodiscard]] bool exceeds_pending(std::size_t more_msgs, std::size_t more_bytes) const;
  static void append_queued(std::vector<Queued>& queue, std::string& arena, Entry* entry, const Delivery& msg);
  void report_slow_consumer(std::string subject);
  // The end of a batch: what it staged for this receiver, into queue_ under one lock.
  struct Staged;
  void take_staged(Staged& staged);

  std::expected<uint64_t, std::string> add_subscription(std::string_view subject, std::string_view queue,
                                                        std::shared_ptr<Entry> entry);
  void remove_subscription(uint64_t sid, uint64_t sub_id);
  void close_with(CloseReason reason, std::string_view text);
  void post_event(InProcessEvent kind, std::string text);
  void send_no_responders(std::string_view reply);
  void drain();
  void linger_for_more();
  void reload_permissions(const std::shared_ptr<const PermissionRules>& rules);

  Server& server_;
  IoThread& dispatch_;
  const InProcessOptions opts_;
  const EventHandler events_;
  const uint64_t cid_;
  Account* account_ = nullptr;  // set by connect(), then fixed (a reload that moves the user closes it)
  std::string user_;
  SystemTime start_;
  std::atomic<int64_t> max_payload_{-1};  // -1: no limit
  std::atomic<int64_t> max_subs_{-1};

  std::atomic<bool> closed_{false};

  // Three groups on cache lines of their own (the alignas), so that what one thread writes
  // per message does not move a line another thread is using: the publisher's, the queue's
  // (under mu_) and the dispatch thread's.

  // Publishing: the match cache is used by one publisher at a time. A spin lock too: its
  // unlock is a plain store, where std::mutex's is one more locked instruction per message.
  alignas(64) SpinMutex pub_mu_;
  std::unique_ptr<MatchCache> cache_;
  std::atomic<uint64_t> in_msgs_{0}, in_bytes_{0};  // written under pub_mu_, read by snapshot()

  // Guards what follows. A spin lock: the publisher takes it per message and the dispatch
  // thread per batch, each for a few instructions (spin_mutex.hpp says why not std::mutex).
  alignas(64) mutable SpinMutex mu_;
  std::vector<Queued> queue_;
  std::string arena_;  // the queued messages' bytes
  std::size_t queued_bytes_ = 0;
  bool drain_posted_ = false;
  bool slow_ = false;  // in a slow-consumer episode (reported once)
  uint64_t out_msgs_ = 0, out_bytes_ = 0;  // also messages dropped as a slow consumer
  std::map<uint64_t, std::shared_ptr<Entry>> subs_;  // by sid
  std::vector<std::shared_ptr<Entry>> retired_;       // removed, maybe still queued
  uint64_t next_sid_ = 0;
  SystemTime last_activity_;

  // Set (under mu_) when a message lands in an empty queue_, cleared when drain() takes it:
  // what a drain lingering for more messages watches without taking mu_.
  alignas(64) std::atomic<bool> pending_{false};
  std::atomic<uint64_t> dropped_{0};
  // Batches of other threads that may hold messages for this receiver not yet in queue_:
  // while any does, no retired entry is freed (those messages may point at one), and
  // close_with() waits for them. Raised before the batch reads a subscription's closed flag
  // (both sequentially consistent, as is the closing store): a drain or close that reads 0
  // here is ordered before any such read.
  std::atomic<uint32_t> stagers_{0};

  // The dispatch thread's.
  alignas(64) std::vector<Queued> draining_;
  std::vector<std::shared_ptr<Entry>> draining_retired_;  // retired before draining_ was taken
  std::string draining_arena_;

  // Its user's permissions (null: none); read under pub_mu_ (publish) or mu_ (subscribe,
  // deliver), replaced under both (reload).
  std::shared_ptr<ConnPermissions> perms_;
  std::atomic<bool> has_perms_{false};  // perms_ != null, for batches that read it without mu_
};

}  // namespace forest::broker
