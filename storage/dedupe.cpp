#include "storage/dedupe.hpp"

namespace forest::storage {

void DedupeWindow::insert(const std::string& id, std::uint64_t seq, UnixNanos time_ns) {
  auto [it, inserted] = by_id_.try_emplace(id, records::DedupeEntry{seq, time_ns});
  if (!inserted) {
    by_time_.erase({it->second.time_ns, it->second.seq, id});
    it->second = records::DedupeEntry{seq, time_ns};
  }
  by_time_.emplace(time_ns, seq, id);
}

std::optional<records::DedupeEntry> DedupeWindow::find(std::string_view id, UnixNanos now_ns,
                                                       std::int64_t window_ns) const {
  auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return std::nullopt;
  if (now_ns - it->second.time_ns >= window_ns) return std::nullopt;  // nats-server: now-ts >= window expires
  return it->second;
}

}  // namespace forest::storage
