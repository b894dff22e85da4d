#pragma once
// StreamStore: the streams of one store (a RocksDB directory, or memory), their messages and
// their consumers' ack state. All changes go through apply/apply_batch (the op log, see
// op_record.hpp); everything else is a read.
//
// Threading: a store is NOT thread-safe. It has one owner thread (the JetStream service's
// storage executor) that calls every method, reads included. It starts no threads of its
// own (RocksDB runs its flush and compaction threads inside). Durability timers (sync every
// sync_interval, expire on max_age) are the owner's: see sync() and next_expiry().

#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/error.hpp"
#include "storage/op_record.hpp"
#include "storage/stream_config.hpp"
#include "storage/types.hpp"

namespace forest::storage {

struct StreamMeta {
  StreamConfig config;
  UnixNanos created_ns = 0;
};

struct ConsumerInfo {
  ConsumerConfig config;
  UnixNanos created_ns = 0;
  ConsumerState state;
};

class StreamStore {
 public:
  virtual ~StreamStore() = default;

  // ---- Writes ----

  // Applies ops in order, each seeing the previous ones. One op's rejection (discard new,
  // wrong last sequence, ...) is that op's outcome and the batch goes on. Each op is atomic
  // (message + index + stream state, or nothing). When this returns, every op of the batch
  // survives kill -9; with SyncPolicy::always it also survives power loss (one fsync for the
  // whole batch: group commit). The outer error is a storage failure: the store is then
  // failed and refuses every later call (the caller disables JetStream, as nats-server does).
  [[nodiscard]] virtual std::expected<std::vector<OpOutcome>, Error> apply_batch(std::span<const Op> ops) = 0;
  // A batch of one, with the op's rejection as the error.
  [[nodiscard]] std::expected<ApplyResult, Error> apply(const Op& op);

  // Fsyncs everything written so far. SyncPolicy::interval: the owner calls it every
  // sync_interval (default 2 min) and at shutdown. No-op for the memory store.
  [[nodiscard]] virtual std::expected<void, Error> sync() = 0;
  // Syncs and closes. Later calls fail with Errc::closed. The destructor closes too.
  [[nodiscard]] virtual std::expected<void, Error> close() = 0;

  // ---- Streams ----

  [[nodiscard]] virtual std::vector<std::string> stream_names() const = 0;  // sorted
  [[nodiscard]] virtual std::expected<StreamMeta, Error> stream_meta(std::string_view stream) const = 0;
  // `with_deleted` lists the interior gaps (walks first..last; for STREAM.INFO deleted_details).
  [[nodiscard]] virtual std::expected<StreamState, Error> stream_state(std::string_view stream,
                                                                       bool with_deleted = false) const = 0;

  // ---- Messages ----

  // Errc::message_not_found for a deleted sequence in range, Errc::end_of_stream past the end.
  [[nodiscard]] virtual std::expected<StoredMessage, Error> load(std::string_view stream, StreamSeq seq) const = 0;
  // The first message at or after `start` whose subject matches `filter` (wildcards; empty
  // or ">" = all); nullopt when there is none. Literal filters use the per-subject index
  // directly; wildcard filters scan a little, then go through the matching subjects' index.
  [[nodiscard]] virtual std::expected<std::optional<StoredMessage>, Error> load_next(
      std::string_view stream, std::string_view filter, StreamSeq start) const = 0;
  // The last message matching `filter` (KV get: a literal subject is one summary lookup).
  // Errc::message_not_found when none.
  [[nodiscard]] virtual std::expected<StoredMessage, Error> load_last(std::string_view stream,
                                                                      std::string_view filter) const = 0;
  // Per-subject counts for the subjects matching `filter` (nats-server's SubjectsState).
  [[nodiscard]] virtual std::expected<std::map<std::string, SubjectState>, Error> subjects_state(
      std::string_view stream, std::string_view filter) const = 0;
  // Count, first and last of the messages at or after `start` matching `filter`
  // (nats-server's FilteredState; consumers' num_pending).
  [[nodiscard]] virtual std::expected<SubjectState, Error> filtered_state(std::string_view stream,
                                                                          std::string_view filter,
                                                                          StreamSeq start) const = 0;
  // The first sequence whose time stamp is >= time_ns (last + 1 when none): deliver policy
  // by_start_time, dedupe rebuilds (nats-server's GetSeqFromTime).
  [[nodiscard]] virtual std::expected<StreamSeq, Error> seq_from_time(std::string_view stream,
                                                                      UnixNanos time_ns) const = 0;
  // When the first message reaches max_age (its time + max_age); nullopt with no max_age or
  // no messages. The owner runs ExpireOp{now} at that time and re-asks.
  [[nodiscard]] virtual std::expected<std::optional<UnixNanos>, Error> next_expiry(std::string_view stream) const = 0;

  // ---- Consumers ----

  [[nodiscard]] virtual std::expected<std::vector<std::string>, Error> consumer_names(std::string_view stream) const = 0;
  [[nodiscard]] virtual std::expected<ConsumerInfo, Error> consumer_info(std::string_view stream,
                                                                         std::string_view consumer) const = 0;
  // Interest and work-queue retention (nats-server's checkInterest/needAck): true when some
  // consumer other than `except_consumer` still has to see or acknowledge `seq` (its filter
  // matches the message, seq is above its ack floor and either pending or not delivered
  // yet). After an ack on such a stream the caller applies DeleteMsgOp{reason = retention}
  // when this turns false; after deleting a consumer of an interest stream it does the same
  // for the sequences above that consumer's ack floor. Errc::message_not_found when seq is
  // outside first..last (a deleted sequence inside may answer either way: there is nothing
  // to remove). Answered from memory plus one message read (only when some consumer has a
  // filter); the default goes through load and consumer_info and is slower.
  [[nodiscard]] virtual std::expected<bool, Error> needs_ack(std::string_view stream, StreamSeq seq,
                                                             std::string_view except_consumer = {}) const;

  // RocksDB properties ("rocksdb.num-files-at-level0", "rocksdb.estimate-num-keys", ...)
  // summed over the column families; nullopt for the memory store or an unknown name.
  [[nodiscard]] virtual std::optional<std::uint64_t> int_property(std::string_view name) const = 0;
};

// ---- Opening ----

[[nodiscard]] std::unique_ptr<StreamStore> open_memory_store();

enum class SyncPolicy : std::uint8_t {
  always,    // every apply_batch fsyncs the WAL before returning (group commit)
  interval,  // apply_batch writes the WAL to the OS; the owner calls sync() every interval
};

struct RocksOptions {
  std::string path;  // created (with parents) when missing
  SyncPolicy sync = SyncPolicy::interval;
  // RocksDB tuning. Server defaults; tests shrink them so flushes and compactions happen.
  std::size_t write_buffer_size = std::size_t{64} << 20;
  std::size_t target_file_size = std::size_t{64} << 20;
  std::size_t max_bytes_for_level_base = std::size_t{256} << 20;
  std::size_t block_cache_size = std::size_t{64} << 20;
  int max_background_jobs = 2;
};

// Opens (or creates) the store in options.path. A directory that cannot be used is an error
// naming the path and RocksDB's message, never an empty store: Errc::locked when another
// process holds it, Errc::open_failed for permissions, corruption, a non-empty directory that
// is not a store, or a store of an unknown format.
[[nodiscard]] std::expected<std::unique_ptr<StreamStore>, Error> open_rocks_store(const RocksOptions& options);

}  // namespace forest::storage
