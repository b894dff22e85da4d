// A consumer's configuration as the JetStream API carries it: nats-server 2.9.10's
// ConsumerConfig read as Go reads it, written in Go's field order, defaulted as
// setConsumerConfigDefaults and checked as checkConsumerCfg, plus the subject-form rules of
// CONSUMER.CREATE / CONSUMER.DURABLE.CREATE (jsConsumerCreateRequest).
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../time_text.hpp"
#include "api_errors.hpp"
#include "stream_config.hpp"

namespace forest::broker {
class JsonWriter;
}

namespace forest::broker::js {

enum class DeliverPolicy : uint8_t { all, last, new_msgs, by_start_sequence, by_start_time, last_per_subject };
enum class AckPolicy : uint8_t { none, all, explicit_ack };  // Go's zero value is none
enum class ReplayPolicy : uint8_t { instant, original };

struct ConsumerConfig {
  std::string durable_name;
  std::string name;
  std::string description;
  DeliverPolicy deliver_policy = DeliverPolicy::all;
  uint64_t opt_start_seq = 0;
  std::optional<ZonedTime> opt_start_time;
  AckPolicy ack_policy = AckPolicy::none;
  int64_t ack_wait_ns = 0;
  int64_t max_deliver = 0;
  std::vector<int64_t> backoff_ns;
  std::string filter_subject;
  ReplayPolicy replay_policy = ReplayPolicy::instant;
  uint64_t rate_limit_bps = 0;
  std::string sample_freq;
  int64_t max_waiting = 0;
  int64_t max_ack_pending = 0;
  int64_t idle_heartbeat_ns = 0;
  bool flow_control = false;
  bool headers_only = false;
  int64_t max_batch = 0;
  int64_t max_expires_ns = 0;
  int64_t max_bytes = 0;
  std::string deliver_subject;
  std::string deliver_group;
  int64_t inactive_threshold_ns = 0;
  int64_t num_replicas = 0;
  bool mem_storage = false;
  bool direct = false;
  bool operator==(const ConsumerConfig&) const = default;

  [[nodiscard]] bool durable() const { return !durable_name.empty(); }
  [[nodiscard]] bool pull() const { return deliver_subject.empty(); }
};

// CreateConsumerRequest: {"stream_name": ..., "config": {...}}.
struct ConsumerCreateRequest {
  std::string stream_name;
  ConsumerConfig config;
};

[[nodiscard]] std::expected<ConsumerCreateRequest, ApiError> parse_consumer_create(std::string_view json);
[[nodiscard]] std::expected<ConsumerConfig, ApiError> parse_consumer_config(std::string_view json);

void write_consumer_config(JsonWriter& w, const ConsumerConfig& c);

// What a create request's subject says: $JS.API.CONSUMER.CREATE.<stream> (legacy ephemeral),
// $JS.API.CONSUMER.CREATE.<stream>.<name>[.<filter...>] (2.9 style) or
// $JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>.
struct ConsumerCreateSubject {
  enum class Kind : uint8_t { legacy_ephemeral, legacy_durable, named };
  Kind kind = Kind::legacy_ephemeral;
  std::string stream;
  std::string consumer;
  std::string filter;
};
// nullopt when the subject has too few tokens (nats-server then drops the request).
[[nodiscard]] std::optional<ConsumerCreateSubject> parse_consumer_create_subject(std::string_view subject);

// The request-level rules of jsConsumerCreateRequest, in its order (stream name mismatch,
// path separators, durable name in subject and body, filter in subject); fills config.name
// for the named form. Replicas > 1 on a single server is refused here too.
[[nodiscard]] std::expected<void, ApiError> check_consumer_request(const ConsumerCreateSubject& subject,
                                                                   ConsumerCreateRequest& request);

// setConsumerConfigDefaults then checkConsumerCfg against the stream's config (`stream`
// already checked). The server limits are nats-server's defaults (none).
[[nodiscard]] std::expected<ConsumerConfig, ApiError> check_consumer_config(const ConsumerConfig& in,
                                                                            const StreamConfig& stream);

inline constexpr int64_t kDefaultAckWaitNs = int64_t{30} * 1'000'000'000;
inline constexpr int64_t kDefaultMaxAckPending = 1000;
inline constexpr int64_t kDefaultMaxWaiting = 512;
inline constexpr int64_t kDefaultInactiveThresholdNs = int64_t{5} * 1'000'000'000;

}  // namespace forest::broker::js
