#pragma once
// Stream and consumer configuration as the store needs it. The JetStream API layer parses
// nats-server's JSON, applies its defaults and validation (names, subject overlap between
// streams, immutable fields on update, num_replicas...), fills these and keeps the full JSON
// in `api_json`, which the store persists and hands back but never interprets.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/types.hpp"

namespace forest::storage {

enum class Retention : std::uint8_t { limits = 0, interest = 1, workqueue = 2 };
enum class Discard : std::uint8_t { old_msgs = 0, new_msgs = 1 };
enum class StorageType : std::uint8_t { file = 0, memory = 1 };

struct StreamConfig {
  std::string name;
  std::vector<std::string> subjects;
  Retention retention = Retention::limits;
  std::int64_t max_consumers = -1;  // <= 0: unlimited (account limits are the API layer's)
  std::int64_t max_msgs = -1;       // <= 0: unlimited
  std::int64_t max_bytes = -1;      // <= 0: unlimited
  std::int64_t max_age_ns = 0;      // 0: unlimited; enforced by the caller's expire op
  std::int64_t max_msgs_per_subject = -1;  // <= 0: unlimited
  std::int32_t max_msg_size = -1;   // < 0: unlimited (headers + data)
  Discard discard = Discard::old_msgs;
  bool discard_new_per_subject = false;
  std::int64_t duplicate_window_ns = 0;  // 0: no dedupe (the API layer applies the 2 min default)
  StorageType storage = StorageType::file;
  bool deny_delete = false;
  bool deny_purge = false;
  bool sealed = false;
  bool allow_rollup = false;
  std::string api_json;  // the API layer's full config (mirror, sources, republish...), opaque here
  bool operator==(const StreamConfig&) const = default;
};

enum class AckPolicy : std::uint8_t { none = 0, all = 1, explicit_ack = 2 };
enum class DeliverPolicy : std::uint8_t {
  all = 0,
  last = 1,
  new_msgs = 2,
  by_start_sequence = 3,
  by_start_time = 4,
  last_per_subject = 5,
};

struct ConsumerConfig {
  std::string name;  // durable name or the generated ephemeral name
  bool durable = false;
  bool direct = false;  // internal (mirror/source) consumer: exempt from work-queue rules
  AckPolicy ack_policy = AckPolicy::explicit_ack;
  DeliverPolicy deliver_policy = DeliverPolicy::all;
  StreamSeq opt_start_seq;          // by_start_sequence
  UnixNanos opt_start_time_ns = 0;  // by_start_time
  std::string filter_subject;       // empty: the whole stream
  std::string api_json;             // opaque, as for streams
  bool operator==(const ConsumerConfig&) const = default;
};

// Bytes a message counts for in StreamState::bytes and against max_bytes, exactly as
// nats-server accounts them (filestore.go fileStoreMsgSize, memstore.go memStoreMsgSize), so
// stream info and byte limits match the reference for both storage types.
[[nodiscard]] constexpr std::uint64_t stored_size(StorageType storage, std::size_t subject_len,
                                                  std::size_t headers_len, std::size_t data_len) {
  if (storage == StorageType::memory) return subject_len + headers_len + data_len + 16;
  if (headers_len == 0) return 22 + subject_len + data_len + 8;
  return 22 + subject_len + 4 + headers_len + data_len + 8;
}

}  // namespace forest::storage
