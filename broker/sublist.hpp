// The subject index: a trie of subject tokens with '*' and '>' levels and queue groups per
// node, one per account.
//
// Thread-safety: shared by all I/O threads. Writers (insert/remove) take the exclusive lock,
// record which subject changed in a short change log and bump the generation; match() takes
// the shared lock. The hot path does not call match() directly: each thread asks its
// MatchCache, which answers from a hash map and, when the generation moved, drops only the
// entries the logged changes can affect (as nats-server's cache does).
//
// Costs: insert and remove are O(tokens) (a subscription knows its slot in its node), a
// closing connection removes all its subscriptions in one batch, and a change to one subject
// never empties the caches of unrelated subjects.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "subscription.hpp"

namespace forest::broker {

struct QueueGroup {
  std::string_view name;  // points into a member's queue string (members are held alive)
  std::vector<SubPtr> members;  // local members first, then remote ones (routes)
  uint32_t local_count = 0;
  // With remote members: cumulative weights over `members` (a remote subscription stands for
  // `queue_weight` members of its server), so a pick is weighted as nats-server's is.
  std::vector<uint32_t> weight_ends;
};

// Everything a literal subject matches. Immutable once built.
struct MatchResult {
  std::vector<SubPtr> plain;   // local subscriptions
  std::vector<SubPtr> routes;  // remote plain interest: one subscription per route
  std::vector<QueueGroup> queues;
  bool remote = false;  // routes, or remote queue members: routing has more to do
  [[nodiscard]] bool empty() const { return plain.empty() && routes.empty() && queues.empty(); }
  // Memory held by this result (for cache accounting).
  [[nodiscard]] std::size_t footprint() const;
};

using MatchResultPtr = std::shared_ptr<const MatchResult>;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct SublistStats {
  uint64_t subscriptions = 0;
  uint64_t inserts = 0;
  uint64_t removes = 0;
  uint64_t matches = 0;  // trie walks (cache misses and direct matches)
};

class Sublist {
 public:
  // Changes remembered for cache invalidation; a cache further behind than this starts over.
  static constexpr std::size_t kChangeLogSize = 1024;

  Sublist();
  ~Sublist();
  Sublist(const Sublist&) = delete;
  Sublist& operator=(const Sublist&) = delete;

  // False when the subject is not a valid subscription subject.
  [[nodiscard]] bool insert(const SubPtr& sub);
  // False when the subscription was not in the index.
  bool remove(const SubPtr& sub);
  // Removes many (a closing connection's) with one generation step; returns how many were in
  // the index. Takes the lock in slices so that readers are never held up for long.
  std::size_t remove_batch(std::span<const SubPtr> subs, std::vector<SubPtr>* removed = nullptr);
  // A remote queue subscription now stands for `weight` members (caches are told).
  void update_weight(const SubPtr& sub, int32_t weight);

  // Walks the trie (shared lock). Use a MatchCache on hot paths.
  [[nodiscard]] MatchResultPtr match(std::string_view subject) const;

  [[nodiscard]] uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  [[nodiscard]] uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  [[nodiscard]] SublistStats stats() const;

  // Visits every subscription (shared lock held: the callback must not touch the sublist,
  // and should be cheap, e.g. copy the pointer).
  void for_each(const std::function<void(const SubPtr&)>& fn) const;

  // For caches: calls fn(subject, is_wildcard) for every subject changed after generation
  // `since` (a subject may come more than once) and returns the current generation. When the
  // log no longer reaches back to `since`, calls nothing and sets `complete` to false.
  template <typename Fn>
  uint64_t changes_since(uint64_t since, bool& complete, Fn&& fn) const {
    std::shared_lock lock(mu_);
    complete = forgotten_generation_ <= since;
    if (complete) {
      for (std::size_t i = 0; i < change_count_; ++i) {
        const Change& c = changes_[(change_next_ + kChangeLogSize - 1 - i) % kChangeLogSize];
        if (c.generation <= since) break;
        fn(std::string_view(c.subject), c.wildcard);
      }
    }
    return generation_.load(std::memory_order_relaxed);
  }

 private:
  struct Level;
  struct Node;
  struct Change {
    uint64_t generation = 0;
    std::string subject;
    bool wildcard = false;
  };

  bool remove_locked(const SubPtr& sub);
  void log_change(std::string_view subject, uint64_t generation);

  mutable std::shared_mutex mu_;
  std::unique_ptr<Level> root_;
  std::atomic<uint64_t> generation_{1};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> inserts_{0};
  std::atomic<uint64_t> removes_{0};
  mutable std::atomic<uint64_t> matches_{0};

  // Ring of the last changes (under mu_), oldest overwritten first.
  std::vector<Change> changes_;
  std::size_t change_next_ = 0;   // where the next change goes
  std::size_t change_count_ = 0;  // valid records (<= kChangeLogSize)
  uint64_t forgotten_generation_ = 0;  // newest generation among overwritten records
};

}  // namespace forest::broker
