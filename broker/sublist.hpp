// The subject index: a trie of subject tokens with '*' and '>' levels and queue groups per
// node, one per account.
//
// Thread-safety: shared by all I/O threads. Writers (insert/remove) take the exclusive lock and
// bump the generation; match() takes the shared lock. The hot path does not call match()
// directly: each thread asks its MatchCache, which answers from a hash map and re-reads the
// trie only when the generation moved.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "subscription.hpp"

namespace forest::broker {

struct QueueGroup {
  std::string_view name;  // points into a member's queue string (members are held alive)
  std::vector<SubPtr> members;
};

// Everything a literal subject matches. Immutable once built.
struct MatchResult {
  std::vector<SubPtr> plain;
  std::vector<QueueGroup> queues;
  [[nodiscard]] bool empty() const { return plain.empty() && queues.empty(); }
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
  Sublist();
  ~Sublist();
  Sublist(const Sublist&) = delete;
  Sublist& operator=(const Sublist&) = delete;

  // False when the subject is not a valid subscription subject.
  [[nodiscard]] bool insert(const SubPtr& sub);
  // False when the subscription was not in the index.
  bool remove(const SubPtr& sub);

  // Walks the trie (shared lock). Use a MatchCache on hot paths.
  [[nodiscard]] MatchResultPtr match(std::string_view subject) const;

  [[nodiscard]] uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  [[nodiscard]] uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  [[nodiscard]] SublistStats stats() const;

  // Visits every subscription (shared lock held: the callback must not touch the sublist).
  void for_each(const std::function<void(const SubPtr&)>& fn) const;

 private:
  struct Level;
  struct Node;

  mutable std::shared_mutex mu_;
  std::unique_ptr<Level> root_;
  std::atomic<uint64_t> generation_{1};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> inserts_{0};
  std::atomic<uint64_t> removes_{0};
  mutable std::atomic<uint64_t> matches_{0};
};

// A per-thread cache of match results for one Sublist. Owned and used by one thread only.
// A hit is one hash lookup and one atomic load; any insert or remove in the sublist empties
// the cache on its next use (generation check).
class MatchCache {
 public:
  explicit MatchCache(const Sublist& sublist, std::size_t max_entries = 1u << 18)
      : sublist_(sublist), max_entries_(max_entries) {}

  // The reference stays valid until the next lookup() or sweep() on this cache.
  const MatchResultPtr& lookup(std::string_view subject);
  // Drops everything when the sublist changed since the last fill (frees held subscriptions).
  void sweep();

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  const Sublist& sublist_;
  std::size_t max_entries_;
  uint64_t generation_ = 0;
  using Entries = std::unordered_map<std::string, MatchResultPtr, StringHash, std::equal_to<>>;
  Entries entries_;
  // The last entry used: a stream of publishes to one subject skips hashing (map nodes do
  // not move; reset whenever entries are dropped).
  const Entries::value_type* last_ = nullptr;
  // Written by the owning thread only; atomics so /subsz may read them from elsewhere.
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

}  // namespace forest::broker
