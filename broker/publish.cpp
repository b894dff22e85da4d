#include "publish.hpp"

#include "sublist.hpp"

#include <algorithm>
#include <random>
#include <vector>

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

// The routes one message goes to, with the queue groups each should serve. Per thread and
// reused, so routing allocates nothing once warm (deliver never re-enters route_message).
struct RouteTargets {
  struct Target {
    MessageSink* route = nullptr;
    std::vector<std::string_view> queues;
  };
  std::vector<Target> list;
  std::size_t count = 0;

  Target& add(MessageSink* route) {
    for (std::size_t i = 0; i < count; ++i) {
      if (list[i].route == route) return list[i];
    }
    if (count == list.size()) list.emplace_back();
    Target& t = list[count++];
    t.route = route;
    t.queues.clear();
    return t;
  }
};

bool deliver_local(const SubPtr& sub, const Delivery& msg, const MessageSink* skip) {
  if (sub->sink.get() == skip || sub->closed.load(std::memory_order_relaxed)) return false;
  return sub->sink->deliver(*sub, msg);
}

// One local member, tried from a random start until one takes the message.
bool pick_local(const QueueGroup& group, const Delivery& msg, const MessageSink* skip) {
  const std::size_t n = group.local_count;
  if (n == 0) return false;
  const std::size_t start = next_random() % n;
  for (std::size_t i = 0; i < n; ++i) {
    if (deliver_local(group.members[(start + i) % n], msg, skip)) return true;
  }
  return false;
}

// A member over the whole cluster, weighted by how many members each remote subscription
// stands for (nats-server 2.9 picks among all members alike, local or not). A remote pick
// adds the group to that route's copy.
bool pick_weighted(const QueueGroup& group, const Delivery& msg, const MessageSink* skip, RouteTargets& targets) {
  const std::size_t n = group.members.size();
  const uint32_t pick = next_random() % group.weight_ends.back();
  const std::size_t start =
      static_cast<std::size_t>(std::upper_bound(group.weight_ends.begin(), group.weight_ends.end(), pick) -
                               group.weight_ends.begin());
  for (std::size_t i = 0; i < n; ++i) {
    const SubPtr& sub = group.members[(start + i) % n];
    if (sub->origin == SubOrigin::route) {
      targets.add(sub->sink.get()).queues.push_back(group.name);
      return true;
    }
    if (deliver_local(sub, msg, skip)) return true;
  }
  return false;
}

// What route_message() does after the plain subscribers: the queue groups and the routes.
bool route_beyond_plain(const MatchResult& result, const Delivery& msg, const MessageSink* skip,
                        std::span<const std::string_view> queue_filter) {
  bool delivered = false;
  if (msg.origin == MessageOrigin::route) {
    // Only the groups the sending server chose us for, and only our own members.
    for (const QueueGroup& group : result.queues) {
      if (std::find(queue_filter.begin(), queue_filter.end(), group.name) == queue_filter.end()) continue;
      delivered |= pick_local(group, msg, skip);
    }
    return delivered;
  }

  if (!result.remote) {
    for (const QueueGroup& group : result.queues) delivered |= pick_local(group, msg, skip);
    return delivered;
  }

  thread_local RouteTargets targets;
  targets.count = 0;
  for (const SubPtr& sub : result.routes) targets.add(sub->sink.get());
  for (const QueueGroup& group : result.queues) {
    delivered |= group.weight_ends.empty() ? pick_local(group, msg, skip) : pick_weighted(group, msg, skip, targets);
  }
  for (std::size_t i = 0; i < targets.count; ++i) {
    const auto& t = targets.list[i];
    delivered |= t.route->deliver_routed(msg, t.queues);
  }
  return delivered;
}

}  // namespace

bool route_message(MatchCache& cache, const Delivery& msg, const MessageSink* skip,
                   std::span<const std::string_view> queue_filter) {
  // A reference into the thread's cache: valid because deliver() never re-enters the cache
  // (it only appends to buffers and posts work), see MessageSink.
  const MatchResultPtr& result = cache.lookup(msg.subject);
  bool delivered = false;
  for (const SubPtr& sub : result->plain) delivered |= deliver_local(sub, msg, skip);
  if (result->queues.empty() && !result->remote) return delivered;
  return route_beyond_plain(*result, msg, skip, queue_filter) || delivered;
}

void route_run(MatchCache& cache, std::span<const Delivery> run, const MessageSink* skip) {
  if (run.empty()) return;
  const MatchResultPtr& result = cache.lookup(run.front().subject);
  for (const SubPtr& sub : result->plain) {
    if (sub->sink.get() == skip || sub->closed.load(std::memory_order_relaxed)) continue;
    (void)sub->sink->deliver_run(*sub, run);
  }
  if (result->queues.empty() && !result->remote) return;
  // Each message picks its own queue members, as it would alone.
  for (const Delivery& msg : run) (void)route_beyond_plain(*result, msg, skip, {});
}

bool route_imported(const Sublist& index, const Delivery& msg, bool local_only) {
  const MatchResultPtr result = index.match(msg.subject);
  bool delivered = false;
  for (const SubPtr& sub : result->plain) {
    if (local_only && sub->import_sink) continue;
    delivered |= deliver_local(sub, msg, nullptr);
  }
  if (local_only || !result->remote) {
    for (const QueueGroup& group : result->queues) delivered |= pick_local(group, msg, nullptr);
    return delivered;
  }
  RouteTargets targets;
  for (const SubPtr& sub : result->routes) targets.add(sub->sink.get());
  for (const QueueGroup& group : result->queues) {
    delivered |= group.weight_ends.empty() ? pick_local(group, msg, nullptr) : pick_weighted(group, msg, nullptr, targets);
  }
  for (std::size_t i = 0; i < targets.count; ++i) {
    const auto& t = targets.list[i];
    delivered |= t.route->deliver_routed(msg, t.queues);
  }
  return delivered;
}

}  // namespace forest::broker
