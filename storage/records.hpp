#pragma once
// Values stored under the keys of keys.hpp. Each record starts with nothing but its fields
// (the global record carries the format version for the whole store).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/stream_config.hpp"
#include "storage/types.hpp"

namespace forest::storage::records {

inline constexpr std::uint64_t store_format_version = 1;

struct Global {
  std::uint64_t format_version = store_format_version;
  std::uint64_t next_stream_id = 1;
};
[[nodiscard]] std::string encode(const Global& g);
[[nodiscard]] std::optional<Global> decode_global(std::string_view v);

struct StreamMetaRecord {
  std::uint64_t id = 0;
  UnixNanos created_ns = 0;
  StreamConfig config;
};
[[nodiscard]] std::string encode(const StreamMetaRecord& r);
[[nodiscard]] std::optional<StreamMetaRecord> decode_stream_meta(std::string_view v);

// The part of a stream's state that every op may change; persisted with each op so opening
// a store never scans messages.
struct StreamStateRecord {
  std::uint64_t msgs = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seq = 0;
  UnixNanos first_ts_ns = 0;
  std::uint64_t last_seq = 0;
  UnixNanos last_ts_ns = 0;
  std::uint64_t num_subjects = 0;
  std::uint64_t next_consumer_id = 1;
  std::string last_msg_id;  // Nats-Msg-Id of the last stored message (expected-last-msg-id)
  bool operator==(const StreamStateRecord&) const = default;
};
[[nodiscard]] std::string encode(const StreamStateRecord& r);
[[nodiscard]] std::optional<StreamStateRecord> decode_stream_state(std::string_view v);

// A message value: time first, then the subject, so filters read the subject without copying.
[[nodiscard]] std::string encode_message(UnixNanos time_ns, std::string_view subject,
                                         std::string_view headers, std::string_view data);
struct MessageView {
  UnixNanos time_ns = 0;
  std::string_view subject;
  std::string_view headers;
  std::string_view data;
};
[[nodiscard]] std::optional<MessageView> decode_message(std::string_view v);

[[nodiscard]] std::string encode(const SubjectState& s);
[[nodiscard]] std::optional<SubjectState> decode_summary(std::string_view v);

[[nodiscard]] std::string encode_index_value(std::uint64_t stored_size);
[[nodiscard]] std::uint64_t decode_index_value(std::string_view v);

struct ConsumerRecord {
  std::uint64_t id = 0;
  UnixNanos created_ns = 0;
  ConsumerConfig config;
  SequencePair delivered;
  SequencePair ack_floor;
};
[[nodiscard]] std::string encode(const ConsumerRecord& r);
[[nodiscard]] std::optional<ConsumerRecord> decode_consumer(std::string_view v);

// The small record a delivery or an ack rewrites (the config stays in ConsumerRecord).
struct ConsumerPosition {
  SequencePair delivered;
  SequencePair ack_floor;
};
[[nodiscard]] std::string encode(const ConsumerPosition& p);
[[nodiscard]] std::optional<ConsumerPosition> decode_position(std::string_view v);

[[nodiscard]] std::string encode(const PendingAck& p);
[[nodiscard]] std::optional<PendingAck> decode_pending(std::string_view v);

struct DedupeEntry {
  std::uint64_t seq = 0;
  UnixNanos time_ns = 0;
};
[[nodiscard]] std::string encode(const DedupeEntry& d);
[[nodiscard]] std::optional<DedupeEntry> decode_dedupe(std::string_view v);

[[nodiscard]] std::string encode_count(std::uint64_t n);
[[nodiscard]] std::optional<std::uint64_t> decode_count(std::string_view v);

}  // namespace forest::storage::records
