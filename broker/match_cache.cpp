#include "match_cache.hpp"

#include <algorithm>

#include "subject.hpp"

namespace forest::broker {
namespace {

// Bytes an entry costs beyond its key and result: hash node, key header, bucket share.
constexpr std::size_t kEntryOverhead = 64;
// Subject comparisons one catch-up may spend on wildcard changes; past it, every entry is
// marked stale instead (O(1)), and recomputed when used.
constexpr std::size_t kWildcardScanBudget = 32 * 1024;
// Entries an insert past the limits evicts (amortised O(1) per miss); the sweep does the rest.
constexpr std::size_t kEvictPerInsert = 4;
// Buckets (sweeping stale entries) and evictions one sweep may spend.
constexpr std::size_t kSweepBudget = 16 * 1024;

void bump(std::atomic<uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

std::size_t MatchCache::entry_limit() const {
  return std::clamp<std::size_t>(2 * sublist_.count(), limits_.min_entries, limits_.max_entries);
}

const MatchResultPtr& MatchCache::lookup(std::string_view subject) {
  if (sublist_.generation() != generation_) {
    catch_up();
  } else if (last_ != nullptr && last_->first == subject) {
    // last_ is always fresh: it is reset by every catch-up, the only place entries go stale.
    bump(hits_);
    return last_->second.result;
  }
  auto it = entries_.find(subject);
  if (it != entries_.end()) {
    if (it->second.built_at < stale_before_) {
      bump(misses_);
      --stale_count_;
      fill(it->second, subject);
    } else {
      bump(hits_);
    }
    last_ = &*it;
    return it->second.result;
  }
  bump(misses_);
  it = entries_.emplace(std::string(subject), Entry{}).first;
  fill(it->second, subject);
  last_ = &*it;
  if (over_limits()) evict(entry_limit(), limits_.max_bytes, kEvictPerInsert, last_);
  if (!retired_.empty()) retired_.clear();
  return last_->second.result;
}

void MatchCache::fill(Entry& e, std::string_view subject) {
  bytes_ -= e.bytes;
  e.result = sublist_.match(subject);
  e.bytes = subject.size() + kEntryOverhead + (e.result->empty() ? 0 : e.result->footprint());
  e.built_at = generation_;
  bytes_ += e.bytes;
}

void MatchCache::erase(Entries::iterator it) {
  if (&*it == last_) last_ = nullptr;
  if (it->second.built_at < stale_before_) --stale_count_;
  bytes_ -= it->second.bytes;
  // Not released here: this may run under the Sublist's lock, and the last reference to a
  // subscription may be the last reference to its connection.
  retired_.push_back(std::move(it->second.result));
  entries_.erase(it);
}

void MatchCache::catch_up() {
  last_ = nullptr;
  if (entries_.empty()) {
    // Nothing to invalidate; results computed from now on are at least this new.
    generation_ = sublist_.generation();
    return;
  }
  bool complete = true;
  bool all_stale = false;
  std::size_t scan_budget = kWildcardScanBudget;
  const uint64_t now = sublist_.changes_since(generation_, complete, [&](std::string_view subject, bool wildcard) {
    if (all_stale) return;
    if (!wildcard) {
      // A literal subscription only ever matches the literal subject itself.
      auto it = entries_.find(subject);
      if (it != entries_.end()) erase(it);
      return;
    }
    if (entries_.size() > scan_budget) {
      all_stale = true;
      return;
    }
    scan_budget -= entries_.size();
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto next = std::next(it);
      if (subject_matches(subject, it->first)) erase(it);
      it = next;
    }
  });
  generation_ = now;
  if (!complete || all_stale) {
    // Everything built before now is stale: recomputed when used, dropped by the sweep.
    stale_before_ = now;
    stale_count_ = entries_.size();
  }
  retired_.clear();
}

void MatchCache::evict(std::size_t max_entries, std::size_t max_bytes, std::size_t budget,
                       const Entries::value_type* keep) {
  const std::size_t buckets = entries_.bucket_count();
  std::size_t probes = 0;
  while ((entries_.size() > max_entries || bytes_ > max_bytes) && budget > 0 && probes < buckets) {
    // Buckets in turn from a moving cursor: hash order, so in effect random entries.
    const std::size_t b = evict_cursor_++ % buckets;
    ++probes;
    auto local = entries_.begin(b);
    if (local != entries_.end(b) && &*local == keep) ++local;
    if (local == entries_.end(b)) continue;
    erase(entries_.find(local->first));
    --budget;
  }
}

void MatchCache::sweep() {
  if (sublist_.generation() != generation_) catch_up();
  if (stale_count_ > 0) {
    // Stale entries, a slice of buckets per sweep.
    const std::size_t buckets = entries_.bucket_count();
    std::vector<const std::string*> stale;
    for (std::size_t i = 0; i < std::min(buckets, kSweepBudget) && stale.size() < stale_count_; ++i) {
      const std::size_t b = sweep_cursor_++ % buckets;
      for (auto local = entries_.begin(b); local != entries_.end(b); ++local) {
        if (local->second.built_at < stale_before_) stale.push_back(&local->first);
      }
    }
    // Each key stays valid until its own entry is erased.
    for (const std::string* key : stale) erase(entries_.find(*key));
  }
  // Near a limit: make room ahead, so that misses between ticks rarely have to evict.
  const std::size_t limit = entry_limit();
  if (entries_.size() > limit / 8 * 7 || bytes_ > limits_.max_bytes / 8 * 7) {
    evict(limit / 4 * 3, limits_.max_bytes / 4 * 3, kSweepBudget, nullptr);
  }
  retired_.clear();
  if (retired_.capacity() > 1024) std::vector<MatchResultPtr>().swap(retired_);
}

}  // namespace forest::broker
