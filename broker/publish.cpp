#include "publish.hpp"

#include <random>

namespace forest::broker {
namespace {

// A cheap per-thread generator for picking queue members (nats-server picks at random too).
uint32_t next_random() {
  thread_local uint32_t state = [] {
    std::random_device rd;
    return rd() | 1u;
  }();
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

}  // namespace

bool route_message(MatchCache& cache, const Delivery& msg, const MessageSink* skip) {
  // A reference into the thread's cache: valid because deliver() never re-enters the cache
  // (it only appends to buffers and posts work), see MessageSink.
  const MatchResultPtr& result = cache.lookup(msg.subject);
  bool delivered = false;
  for (const SubPtr& sub : result->plain) {
    if (sub->sink.get() == skip || sub->closed.load(std::memory_order_relaxed)) continue;
    delivered |= sub->sink->deliver(*sub, msg);
  }
  for (const QueueGroup& group : result->queues) {
    const std::size_t n = group.members.size();
    const std::size_t start = next_random() % n;
    for (std::size_t i = 0; i < n; ++i) {
      const SubPtr& sub = group.members[(start + i) % n];
      if (sub->sink.get() == skip || sub->closed.load(std::memory_order_relaxed)) continue;
      if (sub->sink->deliver(*sub, msg)) {
        delivered = true;
        break;
      }
    }
  }
  return delivered;
}

}  // namespace forest::broker
