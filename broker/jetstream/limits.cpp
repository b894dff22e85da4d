// The server's JetStream storage limits (jetstream { max_memory_store, max_file_store }), as
// nats-server 2.9.10 applies them on a single server: a stream's max_bytes is a reservation
// that must fit what the other streams reserved (10047 / 10028 at create and update), and a
// publish while the stored bytes of its storage type are above the limit gets "insufficient
// resources" (10023). Without a configured limit nats-server takes 75% of the disk or memory;
// we apply none then.
#include "../server.hpp"
#include "service.hpp"

namespace forest::broker::js {

int64_t JetStreamService::storage_limit(Storage storage) const {
  const auto o = server_.options();
  return storage == Storage::memory ? o->jetstream.max_memory : o->jetstream.max_store;
}

int64_t JetStreamService::reserved_bytes(Storage storage, std::string_view except) const {
  int64_t total = 0;
  for (const auto& [name, s] : streams_) {
    if (name != except && s.config.storage == storage && s.config.max_bytes > 0) total += s.config.max_bytes;
  }
  return total;
}

std::optional<ApiError> JetStreamService::reservation_error(const StreamConfig& c, std::string_view except) const {
  const Storage storage = c.storage.value_or(Storage::file);
  const int64_t limit = storage_limit(storage);
  if (limit <= 0 || c.max_bytes <= 0) return std::nullopt;
  if (reserved_bytes(storage, except) + c.max_bytes <= limit) return std::nullopt;
  return api_error(c.storage == Storage::memory ? JsErr::JSMemoryResourcesExceededErr : JsErr::JSStorageResourcesExceededErr);
}

void JetStreamService::refresh_usage() {
  if (storage_limit(Storage::file) <= 0 && storage_limit(Storage::memory) <= 0) return;
  used_file_ = used_memory_ = 0;
  for (const auto& [name, s] : streams_) {
    auto st = state_of(s);
    if (!st) continue;
    (s.config.storage == Storage::memory ? used_memory_ : used_file_) += static_cast<int64_t>(st->bytes);
  }
}

bool JetStreamService::over_limit(Storage storage) const {
  const int64_t limit = storage_limit(storage);
  return limit > 0 && (storage == Storage::memory ? used_memory_ : used_file_) > limit;
}

}  // namespace forest::broker::js
