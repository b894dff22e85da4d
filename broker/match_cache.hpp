// A per-thread cache of Sublist match results, kept correct by the Sublist's change log.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sublist.hpp"

namespace forest::broker {

// A per-thread cache of match results for one Sublist. Owned and used by one thread only.
//
// A hit is one hash lookup and one atomic load. When the Sublist's generation moved, the
// cache reads the change log and drops just the entries those subjects can affect; when it
// fell too far behind, it marks every entry stale instead of clearing them (a stale entry is
// recomputed when next used and dropped by the ticker's sweep), so the publish path never pays
// for a large clear. Bounded in entries and bytes: an insert past a limit evicts a few random
// entries, the sweep evicts the rest, so subjects nobody subscribes to cannot make it grow.
class MatchCache {
 public:
  struct Limits {
    std::size_t min_entries = 4096;      // always allowed
    std::size_t max_entries = 1u << 18;  // never more, however many subscriptions
    std::size_t max_bytes = 32u << 20;   // keys plus the results held
  };

  explicit MatchCache(const Sublist& sublist) : MatchCache(sublist, Limits{}) {}
  MatchCache(const Sublist& sublist, Limits limits) : sublist_(sublist), limits_(limits) {}
  MatchCache(const MatchCache&) = delete;
  MatchCache& operator=(const MatchCache&) = delete;

  // The reference stays valid until the next lookup() or sweep() on this cache.
  const MatchResultPtr& lookup(std::string_view subject);
  // Catches up with the change log, drops stale entries and evicts down to the limits, a
  // bounded amount per call; run by the thread's ticker, so removed subscriptions are let go
  // even when nobody publishes.
  void sweep();

  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  // Entries allowed now: twice the subscriptions, within [min_entries, max_entries] (a cache
  // as large as the interest it serves, not as large as the subjects it is asked about).
  [[nodiscard]] std::size_t entry_limit() const;
  [[nodiscard]] uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    MatchResultPtr result;
    std::size_t bytes = 0;
    uint64_t built_at = 0;  // generation the cache was at when the result was computed
  };
  using Entries = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;

  void catch_up();
  void fill(Entry& e, std::string_view subject);
  void erase(Entries::iterator it);
  // Evicts up to `budget` random entries (never `keep`) while over `entries`/`bytes`.
  void evict(std::size_t entries, std::size_t bytes, std::size_t budget, const Entries::value_type* keep);
  [[nodiscard]] bool over_limits() const { return entries_.size() > entry_limit() || bytes_ > limits_.max_bytes; }

  const Sublist& sublist_;
  Limits limits_;
  uint64_t generation_ = 0;    // the Sublist generation this cache has caught up with
  uint64_t stale_before_ = 0;  // entries built before this generation are stale
  Entries entries_;
  std::size_t bytes_ = 0;
  std::size_t stale_count_ = 0;  // upper bound on stale entries, for the sweep
  std::size_t evict_cursor_ = 0;
  std::size_t sweep_cursor_ = 0;
  // The last entry used: a stream of publishes to one subject skips hashing (map nodes do
  // not move; reset whenever entries are dropped).
  Entries::value_type* last_ = nullptr;
  // Results dropped while catching up (under the Sublist's lock) are released after it.
  std::vector<MatchResultPtr> retired_;
  // Written by the owning thread only; atomics so /subsz may read them from elsewhere.
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

}  // namespace forest::broker
