// A stream's configuration as the JetStream API carries it: nats-server 2.9.10's StreamConfig,
// read from request JSON as Go's encoding/json reads it, written back field by field in Go's
// order (with its omitempty rules), and checked and defaulted as checkStreamCfg does. The
// store sees only what it enforces (storage::StreamConfig); the full JSON travels with it.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../time_text.hpp"
#include "api_errors.hpp"

namespace forest::broker {
class JsonWriter;
}

namespace forest::broker::js {

// nats-server's values for these (RetentionPolicy, DiscardPolicy, StorageType).
enum class Retention : uint8_t { limits, interest, workqueue };
enum class Discard : uint8_t { old_msgs, new_msgs };
enum class Storage : uint8_t { file, memory };

struct ExternalStream {
  std::string api;
  std::string deliver;
  bool operator==(const ExternalStream&) const = default;
};

struct StreamSource {
  std::string name;
  uint64_t opt_start_seq = 0;
  std::optional<ZonedTime> opt_start_time;
  std::string filter_subject;
  std::optional<ExternalStream> external;
  bool operator==(const StreamSource&) const = default;
};

struct RePublish {
  std::string src;
  std::string dest;
  bool headers_only = false;
  bool operator==(const RePublish&) const = default;
};

struct Placement {
  std::string cluster;
  std::vector<std::string> tags;
  bool operator==(const Placement&) const = default;
};

struct StreamConfig {
  std::string name;
  std::string description;
  std::vector<std::string> subjects;
  Retention retention = Retention::limits;
  int64_t max_consumers = 0;
  int64_t max_msgs = 0;
  int64_t max_bytes = 0;
  int64_t max_age_ns = 0;
  int64_t max_msgs_per_subject = 0;
  int32_t max_msg_size = 0;
  Discard discard = Discard::old_msgs;
  // Unset in a request means file; nats-server's zero value is neither.
  std::optional<Storage> storage;
  int64_t num_replicas = 0;
  bool no_ack = false;
  std::string template_owner;
  int64_t duplicate_window_ns = 0;
  std::optional<Placement> placement;
  std::optional<StreamSource> mirror;
  std::vector<StreamSource> sources;
  std::optional<RePublish> republish;
  bool allow_direct = false;
  bool mirror_direct = false;
  bool discard_new_per_subject = false;
  bool sealed = false;
  bool deny_delete = false;
  bool deny_purge = false;
  bool allow_rollup_hdrs = false;
  bool operator==(const StreamConfig&) const = default;
};

// Request JSON to a config: JSInvalidJSONErr when it is not a JSON object of the right types
// (an unknown enum value, a string where a number belongs). Unknown fields are ignored.
[[nodiscard]] std::expected<StreamConfig, ApiError> parse_stream_config(std::string_view json);

// The config object as nats-server marshals it.
void write_stream_config(JsonWriter& w, const StreamConfig& c);

// What checkStreamCfg needs to know about the account's other streams.
using StreamLookup = std::function<const StreamConfig*(std::string_view name)>;

struct StreamLimits {
  int64_t max_duplicates_window_ns = 0;  // the server's jetstream limit; 0: none
};

// nats-server's checkStreamCfg: defaults filled in (file storage, one replica, -1 for unset
// limits, the duplicate window from max_age or 2 minutes, subjects = [name]) and every rule
// it checks, with its error. Overlap with other streams' subjects is checked at create
// (check_subjects_overlap), as nats-server does in addStream.
[[nodiscard]] std::expected<StreamConfig, ApiError> check_stream_config(const StreamConfig& in, const StreamLimits& limits,
                                                                        const StreamLookup& lookup);

// The rules of an update (configUpdateCheck): `next` is already checked; `old` the current.
[[nodiscard]] std::expected<StreamConfig, ApiError> check_stream_update(const StreamConfig& old, const StreamConfig& next);

// True when a subject of `c` could match a subject of `other` (JSStreamSubjectOverlapErr).
[[nodiscard]] bool subjects_overlap(const StreamConfig& c, const StreamConfig& other);

// nats-server's isValidName: non-empty, no whitespace, '.', '*' or '>'.
[[nodiscard]] bool is_valid_name(std::string_view name);

inline constexpr std::size_t kMaxNameLen = 255;
inline constexpr std::size_t kMaxDescriptionLen = 4 * 1024;
inline constexpr int64_t kDefaultDuplicatesWindowNs = int64_t{2} * 60 * 1'000'000'000;
inline constexpr int64_t kMaxReplicas = 5;

}  // namespace forest::broker::js
