#pragma once
// The duplicate window of one stream: Nats-Msg-Id -> (sequence, time). A message is a
// duplicate when its id was stored less than duplicate_window before the new message's time
// stamp; expiry is exact and driven by the records' time stamps (never a clock), so every
// replica, restarted or not, decides the same. Persisted entry by entry in the meta family
// (see keys.hpp) and loaded on first use after an open, not during it.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "storage/records.hpp"
#include "storage/types.hpp"

namespace forest::storage {

class DedupeWindow {
 public:
  void clear() {
    by_id_.clear();
    by_time_.clear();
  }
  [[nodiscard]] std::size_t size() const { return by_id_.size(); }

  // Adds or replaces the entry for `id`.
  void insert(const std::string& id, std::uint64_t seq, UnixNanos time_ns);

  // The entry for `id` if it is still inside the window at `now_ns`.
  [[nodiscard]] std::optional<records::DedupeEntry> find(std::string_view id, UnixNanos now_ns,
                                                         std::int64_t window_ns) const;

  // Removes every entry with time <= cutoff_ns, calling on_removed(id) for each.
  template <class F>
  void prune(UnixNanos cutoff_ns, F&& on_removed) {
    while (!by_time_.empty() && std::get<0>(*by_time_.begin()) <= cutoff_ns) {
      auto node = by_time_.extract(by_time_.begin());
      const std::string& id = std::get<2>(node.value());
      on_removed(id);
      by_id_.erase(id);
    }
  }

 private:
  std::unordered_map<std::string, records::DedupeEntry> by_id_;
  std::set<std::tuple<UnixNanos, std::uint64_t, std::string>> by_time_;  // (time, seq, id)
};

}  // namespace forest::storage
