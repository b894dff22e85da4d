#pragma once
// RocksKv: the Kv over one RocksDB instance (rocks_kv.cpp). Internal to storage/; the public
// entry point is open_rocks_store (stream_store.hpp).

#include <expected>
#include <memory>

#include "storage/kv.hpp"
#include "storage/stream_store.hpp"

namespace forest::storage {

// Opens or creates the RocksDB in options.path with the store's column families. Errors as
// open_rocks_store documents (Errc::locked, Errc::open_failed naming the path).
[[nodiscard]] std::expected<std::unique_ptr<Kv>, Error> open_rocks_kv(const RocksOptions& options);

}  // namespace forest::storage
