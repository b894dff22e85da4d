#pragma once
// Errors of the storage module: a small enum plus a text for logs and API descriptions.
// No exceptions cross the module boundary; everything that can fail returns
// std::expected<T, Error>.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace forest::storage {

enum class Errc : std::uint8_t {
  // Lookups.
  stream_not_found,
  consumer_not_found,
  message_not_found,  // the sequence is in the stream's range but was deleted
  end_of_stream,      // the sequence is past the last one
  stream_exists,
  consumer_exists,
  // Store-message rejections (decided in apply from stream state; nothing is written).
  max_msgs,              // "maximum messages exceeded" (discard new)
  max_bytes,             // "maximum bytes exceeded" (discard new)
  max_msgs_per_subject,  // "maximum messages per subject exceeded" (discard new per subject)
  msg_too_large,         // headers + data above max_msg_size
  header_too_large,      // headers above 65535 bytes
  wrong_last_sequence,   // Nats-Expected-Last-Sequence / -Last-Subject-Sequence; Error::seq has the actual
  wrong_last_msg_id,     // Nats-Expected-Last-Msg-Id; Error::text names the actual one
  rollup_not_permitted,  // Nats-Rollup on a stream without allow_rollup (or with deny_purge)
  sealed,                // the stream is sealed: no stores, deletes or purges
  deny_delete,
  deny_purge,
  purge_arg_mismatch,    // purge with both seq > 1 and keep > 0
  max_consumers,         // the stream's max_consumers reached
  wq_requires_explicit_ack,  // work-queue stream: consumers must ack explicitly
  wq_multiple_unfiltered,    // work-queue stream: a second consumer without a filter
  wq_not_unique,             // work-queue stream: overlapping consumer filters
  wq_not_deliver_all,        // work-queue stream: deliver policy must be all
  no_ack_policy,         // an ack for a consumer with ack policy none
  invalid_argument,      // a malformed op (empty or NUL-bearing subject, bad names...)
  // Storage failures.
  corrupt,      // a record that does not decode, an unknown format version
  io,           // RocksDB reported an error; the store refuses further work (see README)
  open_failed,  // the directory cannot be opened (permissions, not a store, corruption)
  locked,       // another process holds the store directory's LOCK
  closed,
};

// What failed, with a text that names the object (stream, path) and, for RocksDB, its own
// message. `seq` carries a number the API layer needs for its reply (the actual last
// sequence for wrong_last_sequence).
struct Error {
  Errc code;
  std::string text;
  std::uint64_t seq = 0;
};

[[nodiscard]] std::string_view errc_name(Errc code) noexcept;

[[nodiscard]] inline std::unexpected<Error> fail(Errc code, std::string text, std::uint64_t seq = 0) {
  return std::unexpected<Error>(Error{code, std::move(text), seq});
}

}  // namespace forest::storage
