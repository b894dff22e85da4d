// The JetStream client of libforest: publish with ack, streams, consumers, pull fetch with
// acks, and key-value buckets, as plain `$JS.API` requests over a forest::Connection (the same
// path and the same JSON as a libnats or nats.go client; the JetStream service has no second
// API for the embedding app).
//
// Errors: an Error's api_code is the JetStream err_code of an error response (10059 stream not
// found ...) and its status the response's code (400, 404, 503 ...); a request nobody answers
// (JetStream off, no stream on a subject) is status 503, one that times out status 408.
//
// Threads: a JetStream, a KeyValue and a JsMessage may be used from any thread. fetch(),
// keys(), history() and ack_sync() wait for messages that the connection's dispatch thread
// hands over: do not call them from a subscription handler or a watch handler of the same
// connection. Everything refers to the Connection: it must outlive them.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "forest/connection.hpp"
#include "forest/message.hpp"

namespace forest {

// Every member of the option structs has a default, so designated initializers may name any
// few of them. Limits at -1 mean unlimited, durations at 0 the server's default.

enum class Retention { limits, interest, workqueue };
enum class StorageType { file, memory };
enum class Discard { old_msgs, new_msgs };

struct StreamConfig {
  std::string name{};
  std::string description{};
  std::vector<std::string> subjects{};
  Retention retention{Retention::limits};
  StorageType storage{StorageType::file};
  int64_t max_msgs{-1};
  int64_t max_bytes{-1};
  std::chrono::nanoseconds max_age{0};
  int64_t max_msgs_per_subject{-1};
  int32_t max_msg_size{-1};
  Discard discard{Discard::old_msgs};
  int num_replicas{1};
  std::chrono::nanoseconds duplicate_window{0};  // 0: the server's (2 min, or max_age if less)
  bool allow_rollup_hdrs{false};
  bool deny_delete{false};
  bool deny_purge{false};
  bool allow_direct{false};
  int max_consumers{-1};
};

struct StreamState {
  uint64_t messages{0};
  uint64_t bytes{0};
  uint64_t first_seq{0};
  uint64_t last_seq{0};
  uint64_t num_subjects{0};
  int consumer_count{0};
};

struct StreamInfo {
  StreamConfig config{};
  StreamState state{};
  std::string json{};  // the whole response
};

enum class DeliverPolicy { all, last, new_msgs, by_start_sequence, last_per_subject };
enum class AckPolicy { explicit_ack, none, all };

struct ConsumerConfig {
  std::string durable_name{};  // set: a durable (CONSUMER.DURABLE.CREATE)
  std::string name{};          // an ephemeral with this name; both empty: the server names it
  std::string description{};
  std::string filter_subject{};
  DeliverPolicy deliver_policy{DeliverPolicy::all};
  uint64_t opt_start_seq{0};  // with by_start_sequence
  AckPolicy ack_policy{AckPolicy::explicit_ack};
  std::chrono::nanoseconds ack_wait{0};
  int64_t max_deliver{0};
  std::vector<std::chrono::nanoseconds> backoff{};
  int64_t max_ack_pending{0};
  int64_t max_waiting{0};       // pull only
  std::string deliver_subject{};  // set: a push consumer
  bool flow_control{false};       // push only
  std::chrono::nanoseconds idle_heartbeat{0};
  bool headers_only{false};
  std::chrono::nanoseconds inactive_threshold{0};
};

struct ConsumerInfo {
  std::string stream{};
  std::string name{};
  ConsumerConfig config{};
  uint64_t delivered_consumer_seq{0}, delivered_stream_seq{0};
  uint64_t ack_floor_consumer_seq{0}, ack_floor_stream_seq{0};
  int64_t num_ack_pending{0}, num_redelivered{0}, num_waiting{0};
  uint64_t num_pending{0};
  std::string json{};
};

struct PublishOptions {
  std::string msg_id{};           // Nats-Msg-Id (dedupe within the duplicate window)
  std::string expected_stream{};  // Nats-Expected-Stream
  std::optional<uint64_t> expected_last_seq{};          // Nats-Expected-Last-Sequence
  std::optional<uint64_t> expected_last_subject_seq{};  // Nats-Expected-Last-Subject-Sequence
  std::string headers{};  // more headers: a NATS/1.0 block as Headers::block() makes
};

struct PubAck {
  std::string stream{};
  uint64_t seq{0};
  bool duplicate{false};
  std::string domain{};
};

// What the $JS.ACK reply subject of a delivered message says (nats.go's MsgMetadata).
struct JsMetadata {
  std::string domain{};
  std::string stream{};
  std::string consumer{};
  uint64_t num_delivered{0};
  uint64_t stream_seq{0};
  uint64_t consumer_seq{0};
  std::chrono::system_clock::time_point timestamp{};
  uint64_t num_pending{0};
};

// Both forms: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending> (9 tokens)
// and $JS.ACK.<domain>.<account hash>.<stream>.... (11, or 12 with a random token; domain "_"
// is none). Anything else: nullopt.
[[nodiscard]] std::optional<JsMetadata> parse_ack_subject(std::string_view reply);

// A message a pull consumer delivered. It refers to the connection it came on.
class JsMessage {
 public:
  Message msg{};
  JsMetadata meta{};

  [[nodiscard]] const std::string& subject() const { return msg.subject; }
  [[nodiscard]] const std::string& data() const { return msg.data; }
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const { return msg.header(name); }

  std::expected<void, Error> ack();
  // Waits for the server's answer, which it sends once the ack is stored (nats.go's AckSync).
  std::expected<void, Error> ack_sync(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Redelivery now, or after `delay` (-NAK {"delay":ns}).
  std::expected<void, Error> nak(std::optional<std::chrono::nanoseconds> delay = std::nullopt);
  std::expected<void, Error> in_progress();  // +WPI: restarts the ack wait
  std::expected<void, Error> term();         // +TERM: never redelivered

 private:
  friend class JetStream;
  std::expected<void, Error> reply_with(std::string_view body);
  Connection* conn_ = nullptr;
};

class KeyValue;
struct KvConfig;

class JetStream {
 public:
  explicit JetStream(Connection& conn, std::string api_prefix = "$JS.API",
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

  std::expected<PubAck, Error> publish(std::string_view subject, std::string_view data, const PublishOptions& opts = {});

  std::expected<StreamInfo, Error> add_stream(const StreamConfig& config);
  std::expected<StreamInfo, Error> update_stream(const StreamConfig& config);
  [[nodiscard]] std::expected<StreamInfo, Error> stream_info(std::string_view name) const;
  std::expected<void, Error> delete_stream(std::string_view name);
  std::expected<uint64_t, Error> purge_stream(std::string_view name);  // how many were purged

  std::expected<ConsumerInfo, Error> add_consumer(std::string_view stream, const ConsumerConfig& config);
  [[nodiscard]] std::expected<ConsumerInfo, Error> consumer_info(std::string_view stream, std::string_view name) const;
  std::expected<void, Error> delete_consumer(std::string_view stream, std::string_view name);

  // Up to `batch` messages of a pull consumer, waiting at most `timeout`: fewer when the
  // request expires first (an empty vector when nothing came), an Error on a status other
  // than 404/408 with nothing received (409 ...) or when nobody answers.
  // `no_wait`: only what is pending now (at once, an empty vector when nothing is).
  std::expected<std::vector<JsMessage>, Error> fetch(std::string_view stream, std::string_view consumer, int batch,
                                                     std::chrono::milliseconds timeout, bool no_wait = false);

  std::expected<KeyValue, Error> create_key_value(const KvConfig& config);
  // Binds to an existing bucket (status 404, "bucket not found", when its stream is missing).
  [[nodiscard]] std::expected<KeyValue, Error> key_value(std::string_view bucket) const;

  [[nodiscard]] Connection& connection() const { return conn_; }
  [[nodiscard]] std::chrono::milliseconds timeout() const { return timeout_; }

  // One API request: `$JS.API.<suffix>` with a JSON body; the response JSON, or its error.
  [[nodiscard]] std::expected<std::string, Error> api_request(std::string_view suffix, std::string_view body) const;

 private:
  friend class KeyValue;
  std::expected<StreamInfo, Error> stream_request(std::string_view verb, const StreamConfig& config);
  Connection& conn_;
  std::string prefix_;
  std::chrono::milliseconds timeout_;
};

enum class KvOperation { put, del, purge };

struct KvEntry {
  std::string bucket{};
  std::string key{};
  std::string value{};
  uint64_t revision{0};
  std::chrono::system_clock::time_point created{};
  KvOperation operation{KvOperation::put};
  uint64_t delta{0};  // from a watch: how many newer values the stream held at delivery
};

struct KvConfig {
  std::string bucket{};
  std::string description{};
  int64_t history{1};  // values kept per key, 1 to 64
  std::chrono::nanoseconds ttl{0};
  int32_t max_value_size{-1};
  int64_t max_bytes{-1};
  StorageType storage{StorageType::file};
};

struct KvWatchOptions {
  bool include_history{false};  // every stored value, not only the latest per key
  bool ignore_deletes{false};   // no delete and purge markers
  bool headers_only{false};     // values left empty
  // Called once, after the values the bucket held when the watch started (at once when it
  // held none), in order with the entries (nats.go's nil entry).
  std::function<void()> initial_done{};
};

// A running watch: stops (unsubscribes, deletes its consumer) when stopped or destroyed.
class KvWatcher {
 public:
  KvWatcher() = default;
  KvWatcher(KvWatcher&&) noexcept = default;
  KvWatcher& operator=(KvWatcher&& other) noexcept;
  KvWatcher(const KvWatcher&) = delete;
  KvWatcher& operator=(const KvWatcher&) = delete;
  ~KvWatcher();
  void stop();
  [[nodiscard]] bool running() const { return state_ != nullptr; }

  struct State;

 private:
  friend class KeyValue;
  std::shared_ptr<State> state_;
};

// A key-value bucket (stream KV_<bucket> on $KV.<bucket>.>), as nats.go's KeyValue.
// Keys: [-/_=.a-zA-Z0-9]+, not starting or ending with '.'. A deleted or purged key is "key
// not found" (status 404) for get().
class KeyValue {
 public:
  using Handler = std::function<void(const KvEntry&)>;

  [[nodiscard]] const std::string& bucket() const { return bucket_; }
  [[nodiscard]] std::expected<KvEntry, Error> get(std::string_view key) const;
  std::expected<uint64_t, Error> put(std::string_view key, std::string_view value);
  // Only when the key does not exist or its latest value is a delete marker.
  std::expected<uint64_t, Error> create(std::string_view key, std::string_view value);
  // Only when the key's latest revision is `last_revision` (10071 otherwise).
  std::expected<uint64_t, Error> update(std::string_view key, std::string_view value, uint64_t last_revision);
  std::expected<void, Error> del(std::string_view key);    // a delete marker, history kept
  std::expected<void, Error> purge(std::string_view key);  // a purge marker replacing the history
  // The keys whose latest value is not a delete or purge marker.
  [[nodiscard]] std::expected<std::vector<std::string>, Error> keys() const;
  // Every stored value of the key, oldest first, markers included.
  [[nodiscard]] std::expected<std::vector<KvEntry>, Error> history(std::string_view key) const;
  // The handler gets every value (and marker, unless ignore_deletes) of the matching keys, on
  // the connection's dispatch thread, one at a time; initial_done runs there too, or in
  // watch() itself when nothing matched when the watch started.
  std::expected<KvWatcher, Error> watch(std::string_view key_pattern, Handler handler, KvWatchOptions opts = {});

 private:
  friend class JetStream;
  KeyValue(const JetStream& js, std::string bucket, bool direct);
  // The latest value, delete and purge markers included.
  [[nodiscard]] std::expected<KvEntry, Error> latest(std::string_view key) const;
  std::expected<uint64_t, Error> put_with(std::string_view key, std::string_view value, std::string headers,
                                          std::optional<uint64_t> expected_last_subject_seq);
  std::expected<std::vector<KvEntry>, Error> snapshot(std::string_view filter, bool last_per_subject,
                                                      bool headers_only) const;
  JetStream js_;  // a copy: it only refers to the connection
  std::string bucket_, stream_, prefix_;  // prefix_: "$KV.<bucket>."
  bool direct_;
};


}  // namespace forest
