// The RocksDB store: the engine over RocksKv. SyncPolicy::always makes every apply_batch
// fsync the WAL once before it returns (group commit); interval leaves the fsync to sync().

#include "storage/engine.hpp"
#include "storage/rocks_kv.hpp"

namespace forest::storage {

std::expected<std::unique_ptr<StreamStore>, Error> open_rocks_store(const RocksOptions& options) {
  auto kv = open_rocks_kv(options);
  if (!kv) return std::unexpected(std::move(kv.error()));
  auto engine = detail::Engine::open(std::move(*kv), options.sync == SyncPolicy::always, "store " + options.path);
  if (!engine) return std::unexpected(std::move(engine.error()));
  return std::unique_ptr<StreamStore>(std::move(*engine));
}

}  // namespace forest::storage
