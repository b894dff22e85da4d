#pragma once
// The sorted key-value layer under the store engine: four families (column families in
// RocksDB), point reads, bounded iterators and atomic write batches. Two backends: MemKv
// (std::map per family) and RocksKv. The engine holds all JetStream semantics, so both stores
// behave identically by construction; the backends only differ in durability.
//
// Owned by the store; used from the store's owner thread only.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/error.hpp"

namespace forest::storage {

enum class Family : std::uint8_t { meta = 0, messages = 1, subjects = 2, consumers = 3 };
inline constexpr std::size_t family_count = 4;

// Iterates the keys of one family inside [lower, upper). Invalid after any write.
class KvIterator {
 public:
  virtual ~KvIterator() = default;
  virtual void seek(std::string_view key) = 0;           // first key >= key
  virtual void seek_for_prev(std::string_view key) = 0;  // last key <= key
  virtual void next() = 0;
  virtual void prev() = 0;
  [[nodiscard]] virtual bool valid() const = 0;
  [[nodiscard]] virtual std::string_view key() const = 0;
  [[nodiscard]] virtual std::string_view value() const = 0;
  // An iterator that stopped because of a read error (RocksDB corruption) says so here.
  [[nodiscard]] virtual std::expected<void, Error> status() const = 0;
};

// Mutations applied together, in order, by Kv::write.
class KvBatch {
 public:
  virtual ~KvBatch() = default;
  virtual void put(Family f, std::string_view key, std::string_view value) = 0;
  virtual void del(Family f, std::string_view key) = 0;
  virtual void del_range(Family f, std::string_view begin, std::string_view end) = 0;  // [begin, end)
  [[nodiscard]] virtual std::size_t count() const = 0;
};

class Kv {
 public:
  virtual ~Kv() = default;
  // Reads into `value`; false when the key is absent.
  [[nodiscard]] virtual std::expected<bool, Error> get(Family f, std::string_view key,
                                                       std::string& value) const = 0;
  [[nodiscard]] virtual std::unique_ptr<KvIterator> iterate(Family f, std::string lower,
                                                            std::string upper) const = 0;
  [[nodiscard]] virtual std::unique_ptr<KvBatch> batch() = 0;
  // Atomic: all of the batch or none of it; visible to reads as soon as it returns. Not yet
  // durable: see commit.
  [[nodiscard]] virtual std::expected<void, Error> write(KvBatch& batch) = 0;
  // End of an apply_batch: makes every write so far survive a process kill (RocksDB: the WAL
  // buffer is written to the file) and, with `fsync`, a power failure.
  [[nodiscard]] virtual std::expected<void, Error> commit(bool fsync) = 0;
  // Erase support: drops deleted values in [begin, end) from the files (compaction).
  [[nodiscard]] virtual std::expected<void, Error> scrub(Family f, std::string_view begin,
                                                         std::string_view end) = 0;
  [[nodiscard]] virtual std::optional<std::uint64_t> int_property(std::string_view name) const = 0;
  [[nodiscard]] virtual std::expected<void, Error> close() = 0;
};

[[nodiscard]] std::unique_ptr<Kv> make_mem_kv();

}  // namespace forest::storage
