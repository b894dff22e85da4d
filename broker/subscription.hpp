// A subscription and the interface of whatever receives its messages.
//
// Subscriptions are created by their owner's thread (a client connection, a route, an
// internal service) and shared (shared_ptr) with the subject index and the per-thread match
// caches, which deliver to them from publishers' threads. Fields other than the atomics are
// immutable after insertion.
#pragma once

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace forest::broker {

struct Subscription;

// Where a message came from: a route's messages are never sent to another route (one hop).
enum class MessageOrigin : uint8_t { local, route };

class ClientEndpoint;

// One message on its way to a subscriber. Views are valid during deliver() only.
struct Delivery {
  std::string_view subject;
  std::string_view reply;
  int64_t header_size = -1;  // -1: no headers; else the first header_size bytes of payload are headers
  std::string_view payload;  // headers + body
  std::string_view account;  // the account's name (routes carry it)
  MessageOrigin origin = MessageOrigin::local;
  // Non-empty: routed on `subject`, but clients see this subject in MSG (JetStream deliveries:
  // matched on the deliver subject, shown with the stored message's subject, as nats-server's
  // pa.deliver). Routes carry it after an '@' in the $JS.ACK reply.
  std::string_view shown_subject;
  // The client that published it on this server (null: a route, an internal publisher). Only
  // service latency tracking looks at it (broker/imports.cpp), to report who asked and answered.
  const ClientEndpoint* sender = nullptr;
  [[nodiscard]] std::string_view client_subject() const { return shown_subject.empty() ? subject : shown_subject; }
};

// Receives messages for subscriptions. deliver() runs on the publisher's thread: it must be
// cheap (append to an outbound buffer, queue work) and must not publish re-entrantly.
// It returns false when the message was not taken (closed receiver, auto-unsubscribe limit
// passed), so a queue group can pick another member and no-responders can be detected.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual bool deliver(Subscription& sub, const Delivery& msg) = 0;
  // Routes: one copy of a message, with the queue groups the far side should serve with it.
  virtual bool deliver_routed(const Delivery&, std::span<const std::string_view> /*queues*/) { return false; }
  // A run of messages for one subscription, in order (route_run: one subject, one lookup).
  // Returns whether any was taken. A sink that can take a run at once overrides this.
  virtual bool deliver_run(Subscription& sub, std::span<const Delivery> run) {
    bool taken = false;
    for (const Delivery& msg : run) taken |= deliver(sub, msg);
    return taken;
  }
};

enum class SubOrigin : uint8_t { local, route };

struct Subscription {
  std::shared_ptr<MessageSink> sink;
  std::string subject;
  std::string queue;  // empty: not a queue subscription
  std::string sid;
  SubOrigin origin = SubOrigin::local;
  // Remote queue subscriptions stand for this many members (RS+ weight); under the Sublist's
  // writer lock once indexed (Sublist::update_weight).
  int32_t queue_weight = 1;
  uint64_t owner_cid = 0;  // the connection it belongs to (monitoring)
  // The sink's own pointer for this subscription (set before indexing; never changes), so a
  // sink finds its state without a lookup per message (InProcessConn).
  void* sink_data = nullptr;
  // Interest that stays on this server: never sent to routes (RS+), so other nodes' clients
  // get "no responders" instead of a request that would be ignored here (JetStream, which is
  // local to the node). Set before the subscription is indexed; never changes.
  bool node_local = false;
  // The subscription of an account import (broker/imports.hpp), not of a client: a message an
  // import delivers into an account is not imported again from there. Set before indexing.
  bool import_sink = false;
  // Unique for the life of the process: a freed subscription's address may be reused by the
  // next one, its id never is.
  uint64_t id = next_id();

  // Delivery counting for auto-unsubscribe; atomics because publishers on any thread count
  // and the monitor reads them (see try_count_delivery()).
  std::atomic<uint64_t> delivered{0};
  std::atomic<int64_t> max_msgs{0};  // auto-unsubscribe after this many; 0: never
  std::atomic<bool> closed{false};

  // Position in its subject index node's list; owned by the Sublist, under its writer lock.
  uint32_t index_slot = kNotIndexed;
  static constexpr uint32_t kNotIndexed = UINT32_MAX;

  static uint64_t next_id() {
    static std::atomic<uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
  }
};

// Counts one delivery against the auto-unsubscribe limit, or refuses it. Safe against a
// concurrent UNSUB that sets the limit (which stores max_msgs, then re-reads delivered): a
// delivery counted while no limit was visible but found past it afterwards is taken back, so
// no subscription ever gets more than its maximum once the limit is set, and the delivery
// that reaches it (or else the UNSUB itself) sees it, so the subscription is always removed.
// `reached` is set when this delivery was the last one allowed.
inline bool try_count_delivery(Subscription& sub, bool& reached) {
  int64_t max = sub.max_msgs.load();
  if (max <= 0) {
    const uint64_t n = sub.delivered.fetch_add(1) + 1;
    max = sub.max_msgs.load();
    if (max <= 0 || n < static_cast<uint64_t>(max)) return true;
    if (n > static_cast<uint64_t>(max)) {
      sub.delivered.fetch_sub(1);
      return false;
    }
    reached = true;
    return true;
  }
  uint64_t n = sub.delivered.load();
  do {
    if (n >= static_cast<uint64_t>(max)) return false;
  } while (!sub.delivered.compare_exchange_weak(n, n + 1));
  reached = n + 1 == static_cast<uint64_t>(max);
  return true;
}

// try_count_delivery() for `want` deliveries at once: how many of them are allowed (the
// first ones). One atomic operation for the run instead of one per message; the same rules
// against a concurrent UNSUB. `reached` is set when the last allowed one reaches the limit.
inline uint64_t try_count_deliveries(Subscription& sub, uint64_t want, bool& reached) {
  int64_t max = sub.max_msgs.load();
  if (max <= 0) {
    const uint64_t before = sub.delivered.fetch_add(want);
    const uint64_t after = before + want;
    max = sub.max_msgs.load();
    if (max <= 0 || after < static_cast<uint64_t>(max)) return want;
    const auto limit = static_cast<uint64_t>(max);
    if (before >= limit) {
      sub.delivered.fetch_sub(want);
      return 0;
    }
    if (after > limit) sub.delivered.fetch_sub(after - limit);
    reached = true;
    return limit - before;
  }
  const auto limit = static_cast<uint64_t>(max);
  uint64_t n = sub.delivered.load();
  uint64_t granted = 0;
  do {
    if (n >= limit) return 0;
    granted = std::min(want, limit - n);
  } while (!sub.delivered.compare_exchange_weak(n, n + granted));
  reached = n + granted == limit;
  return granted;
}

// True once the auto-unsubscribe limit is reached (the subscription takes nothing more).
inline bool reached_delivery_limit(const Subscription& sub) {
  const int64_t max = sub.max_msgs.load();
  return max > 0 && sub.delivered.load() >= static_cast<uint64_t>(max);
}

// UNSUB <sid> <max>: sets the limit; true when it is already reached (remove now).
inline bool set_delivery_limit(Subscription& sub, int64_t max) {
  sub.max_msgs.store(max);
  return sub.delivered.load() >= static_cast<uint64_t>(max);
}

using SubPtr = std::shared_ptr<Subscription>;

}  // namespace forest::broker
