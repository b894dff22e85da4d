// A subscription and the interface of whatever receives its messages.
//
// Subscriptions are created by their owner's thread (a client connection, a route, an
// internal service) and shared (shared_ptr) with the subject index and the per-thread match
// caches, which deliver to them from publishers' threads. Fields other than the atomics are
// immutable after insertion.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace forest::broker {

struct Subscription;

// One message on its way to a subscriber. Views are valid during deliver() only.
struct Delivery {
  std::string_view subject;
  std::string_view reply;
  int64_t header_size = -1;  // -1: no headers; else the first header_size bytes of payload are headers
  std::string_view payload;  // headers + body
};

// Receives messages for subscriptions. deliver() runs on the publisher's thread: it must be
// cheap (append to an outbound buffer, queue work) and must not publish re-entrantly.
// It returns false when the message was not taken (closed receiver, auto-unsubscribe limit
// passed), so a queue group can pick another member and no-responders can be detected.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual bool deliver(Subscription& sub, const Delivery& msg) = 0;
};

enum class SubOrigin : uint8_t { local, route };

struct Subscription {
  std::shared_ptr<MessageSink> sink;
  std::string subject;
  std::string queue;  // empty: not a queue subscription
  std::string sid;
  SubOrigin origin = SubOrigin::local;
  int32_t queue_weight = 1;  // remote queue subscriptions stand for this many members

  // Counted by the sink under its own outbound lock; atomics so the monitor may read them.
  std::atomic<uint64_t> delivered{0};
  std::atomic<int64_t> max_msgs{0};  // auto-unsubscribe after this many; 0: never
  std::atomic<bool> closed{false};
};

using SubPtr = std::shared_ptr<Subscription>;

}  // namespace forest::broker
