// The JetStream service of one server: the `$JS.API.>` request/response API and the
// publishing path of streams, over two stream stores (RocksDB for file streams, memory for
// memory streams).
//
// Threads: everything here runs on the server's service thread (Server::service_thread()),
// through one InternalClient: API handlers, stream publishes, the timers (max_age expiry,
// sync_interval). The stores are single-owner and that thread owns them; start() opens them
// on the caller's thread and hands them over before any message can arrive. Only start() and
// stop() are called from elsewhere (the thread running Server::start()/shutdown()); they wait
// for the service thread. The monitor thread calls jsz(), which posts a snapshot to the
// service thread and waits for it, bounded; enabled() is an atomic, for any thread.
//
// Group commit: a publish handler only queues a StoreMsgOp; at the end of the turn (all the
// messages the client took from its queue in one wake-up) each store gets one apply_batch,
// and only then do the pub acks leave, so an acknowledged message survives kill -9 (with
// sync_interval "always", also power loss). API requests commit what is queued first, so
// they see every publish that came before them.
//
// Scope: the global account only ($G); accounts are for later. On a server with routes this
// JetStream is local to the node: messages and requests that arrive over a route are ignored.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../asio.hpp"
#include "../options.hpp"
#include "../internal_client.hpp"
#include "../internal_service.hpp"
#include "../jetstream_monitor.hpp"
#include "api_errors.hpp"
#include "consumer.hpp"
#include "consumer_wire.hpp"
#include "storage/op_record.hpp"
#include "storage/stream_store.hpp"
#include "stream_config.hpp"

namespace forest::broker {
class JsonWriter;
class Server;
}  // namespace forest::broker

namespace forest::broker::js {

struct MsgGetRequest;

// A store's refusal of a message as nats-server words it in the pub ack (publish.cpp).
[[nodiscard]] ApiError publish_refusal(const storage::Error& e);

// Where a server keeps its JetStream data, from its options (nats-server's rules for the
// "jetstream" directory: <store_dir>/jetstream, or under the temp dir when none is given).
struct StorePaths {
  std::string root;   // nats-server's "jetstream" directory
  std::string rocks;  // our RocksDB store inside it
};
[[nodiscard]] StorePaths store_paths(const Options& o);

// nats-server's JetStreamConfig as /jsz reports it: the limits it would enforce (given, or
// 75% of the memory and of the store's free disk at start) and where the store is.
struct JszConfig {
  int64_t max_memory = 0;
  int64_t max_store = 0;
  std::string store_dir;
  std::string domain;
  bool compress_ok = false;  // nats-server keeps its own config's true only when both limits are given
};
[[nodiscard]] JszConfig jsz_config(const Options& o, const StorePaths& paths);

class JetStreamService final : public InternalService, public JetStreamMonitor {
 public:
  explicit JetStreamService(Server& server);
  ~JetStreamService() override;

  [[nodiscard]] std::expected<void, std::string> start() override;
  void stop() override;

  // JetStreamMonitor (monitor_jsz.cpp)
  [[nodiscard]] bool enabled() const override { return enabled_.load(std::memory_order_acquire); }
  [[nodiscard]] std::expected<std::string, JszError> jsz(const JszOptions& options,
                                                         std::chrono::milliseconds timeout) override;

 private:
  // A mirror or a source of a stream, copied from a stream of this server (sources.cpp).
  struct SourceCursor {
    std::string origin;       // the origin stream's name
    std::string iname;        // nats-server's index name, written in Nats-Stream-Source
    std::string filter;       // empty: every subject
    bool mirror = false;
    bool started = false;     // next_seq is known
    uint64_t next_seq = 1;    // the next origin sequence to look at
    uint64_t inflight = 0;    // copies queued and not yet applied
    uint64_t refused_seq = 0; // the first copy of the batch in flight the target refused
    bool stored_after_refusal = false;
    int64_t resume_after_ns = 0;  // no header found at start: nats-server starts by this time
    int64_t last_seen_ns = 0;     // the last time the origin was there (0: never)
    int64_t retry_at_ns = 0;      // after a refusal, not before this
    std::optional<ApiError> error;
  };
  struct Stream {
    StreamConfig config;
    std::vector<SourceCursor> sources;  // the mirror alone, or one per source, in config order
    storage::StreamStore* store = nullptr;
    int64_t created_ns = 0;
    std::vector<SubPtr> subs;
    std::map<std::string, std::unique_ptr<Consumer>, std::less<>> consumers;  // sorted, as NAMES/LIST
    std::vector<SubPtr> direct_subs;  // $JS.API.DIRECT.GET.<name>[.>] while allow_direct
  };
  // A publish waiting for its store's batch; `ready` when it was answered without the store.
  struct PendingPublish {
    std::string stream;
    std::string reply;
    storage::StreamStore* store = nullptr;
    std::size_t op_index = 0;
    std::optional<std::string> ready;
    // Republishing streams: the subject's last sequence before this message comes from the
    // earlier publish of the same subject in this turn (prev_index) or from the store.
    bool republish = false;
    int64_t prev_index = -1;
    uint64_t prev_seq = 0;
    uint64_t last_after = 0;  // the subject's last sequence once this publish is applied
    // A copy made for a mirror or source: its cursor (by index name) and origin sequence.
    std::string source_iname;
    uint64_t origin_seq = 0;
  };
  struct Batch {
    storage::StreamStore* store = nullptr;
    std::vector<storage::Op> ops;
  };

  // service.cpp: life cycle, stores, batches, timers
  void run_and_wait(std::function<void()> fn);
  [[nodiscard]] std::expected<void, std::string> load_streams(storage::StreamStore& store);
  void subscribe_stream(Stream& s);
  void unsubscribe_stream(Stream& s);
  [[nodiscard]] storage::StreamStore& store_for(const StreamConfig& c);
  [[nodiscard]] Batch& batch_for(storage::StreamStore* store);
  // Applies every queued op (publishes, consumer deliveries and acks), sends the pub acks and
  // ack replies, removes what interest/work-queue retention no longer needs, then runs the
  // consumers' delivery pass (whose delivered ops go into the next commit).
  void commit();
  void post_commit();
  // One op at once (API requests), with the same consumer side effects as a batch.
  [[nodiscard]] std::expected<storage::ApplyResult, storage::Error> apply_now(storage::StreamStore& store, storage::Op op);
  void after_apply(const std::vector<storage::Op>& ops, const std::vector<storage::OpOutcome>& outcomes);  // a commit on a later turn, for ops queued outside a turn's end
  void schedule_expiry();
  void run_expiry();
  void schedule_sync();
  [[nodiscard]] static int64_t now_ns();

  // publish.cpp
  void on_publish(const std::string& stream, const InternalMessage& m);
  [[nodiscard]] std::string ack_for(const PendingPublish& p, const storage::OpOutcome& outcome) const;
  // After the batch: the stored message's copy on the republish destination (with its
  // Nats-Stream/-Subject/-Sequence/-Last-Sequence headers), as nats-server sends it.
  void republish(PendingPublish& p, const storage::StoreMsgOp& op, const storage::OpOutcome& outcome);

  // sources.cpp: mirrors and sources of this server's streams, copied on the service thread
  // after each commit (no internal consumer: the origin is read directly from its store).
  // Each copy is a StoreMsgOp of the target, so it is as durable as a publish; the position
  // is the mirror's last sequence, or for sources the Nats-Stream-Source header of the last
  // copy (nats-server's way, so a restart resumes where the store is).
  void setup_sources(Stream& s, bool recovering);
  [[nodiscard]] std::optional<ApiError> source_origin_error(const StreamConfig& c) const;
  void pump_sources();
  void pump_cursor(Stream& target, SourceCursor& cur, int64_t now, bool& more);
  void start_cursor(Stream& target, SourceCursor& cur, const Stream& origin);
  void on_source_outcome(const PendingPublish& p, const storage::OpOutcome& outcome);
  void schedule_source_retry(int64_t at_ns);
  void write_source_info(JsonWriter& w, const Stream& target, const SourceCursor& cur) const;
  // A publish (or a sourced copy) to a republishing stream: where its last sequence comes from.
  void prepare_republish(PendingPublish& p, Stream& s, const std::string& subject);
  // Counts a queued message into the server's usage, for the storage limit of the same turn.
  void count_usage(const Stream& s, const storage::StoreMsgOp& op);

  // limits.cpp: the server's max_memory_store / max_file_store (nats-server's js.config
  // limits): reservations of streams with max_bytes, and usage checked on every publish.
  [[nodiscard]] int64_t storage_limit(Storage storage) const;
  [[nodiscard]] int64_t reserved_bytes(Storage storage, std::string_view except) const;
  // The error for a stream whose max_bytes does not fit what is left, if any.
  [[nodiscard]] std::optional<ApiError> reservation_error(const StreamConfig& c, std::string_view except) const;
  void refresh_usage();
  // A publish to a stream of this storage while the server's usage is above its limit.
  [[nodiscard]] bool over_limit(Storage storage) const;

  // api.cpp: dispatch, replies, account info
  void on_api(const InternalMessage& m);
  void reply_ok(const InternalMessage& m, const std::string& json);
  void reply_err(const InternalMessage& m, const std::string& json);
  // {"type":T,"error":{...}} plus what `more` writes.
  [[nodiscard]] static std::string error_json(std::string_view type, const ApiError& e);
  void account_info(const InternalMessage& m);
  [[nodiscard]] Stream* find(std::string_view name);

  // api_streams.cpp
  void stream_create(const InternalMessage& m, std::string_view name);
  void stream_update(const InternalMessage& m, std::string_view name);
  void stream_info(const InternalMessage& m, std::string_view name);
  void stream_delete(const InternalMessage& m, std::string_view name);
  void stream_names(const InternalMessage& m, bool detailed);
  [[nodiscard]] std::expected<storage::StreamState, storage::Error> state_of(const Stream& s, bool details = false) const;
  void write_info(JsonWriter& w, const Stream& s, const storage::StreamState& st,
                  const std::map<std::string, uint64_t>* subjects = nullptr, bool with_domain = true) const;

  // api_consumers.cpp: CONSUMER.CREATE/DURABLE.CREATE/INFO/DELETE/NAMES/LIST
  void consumer_create(const InternalMessage& m);
  void consumer_info(const InternalMessage& m, std::string_view stream, std::string_view name);
  void consumer_delete(const InternalMessage& m, std::string_view stream, std::string_view name);
  void consumer_names(const InternalMessage& m, std::string_view stream, bool detailed);
  void write_consumer_info(JsonWriter& w, Stream& s, Consumer& c, bool with_config = true);
  [[nodiscard]] std::expected<void, std::string> load_consumers(Stream& s);
  void start_consumer(Stream& s, Consumer& c);
  void remove_consumer(Stream& s, const std::string& name, bool delete_in_store);
  void remove_all_consumers(Stream& s);

  // consumer_delivery.cpp: the delivery pass, pull requests, push interest, flow control
  void deliver_dirty();
  void deliver(Stream& s, Consumer& c);
  void on_next_request(const InternalMessage& m, std::string_view stream, std::string_view name);
  void on_flow_control(const std::string& stream, const std::string& name, const InternalMessage& m);
  void send_flow_control(Stream& s, Consumer& c);
  void add_pull_request(Stream& s, Consumer& c, const std::string& reply, std::string_view body);
  void mark_new_message(Stream& s, storage::StreamSeq seq, std::string_view subject);
  void refresh_consumer(Stream& s, Consumer& c);
  [[nodiscard]] uint64_t pending_count(Stream& s, Consumer& c);
  [[nodiscard]] bool has_interest(std::string_view subject);
  void queue_op(Stream& s, storage::OpBody body);

  // consumer_timers.cpp: ack wait and redelivery, heartbeats, request expiry, inactivity
  void schedule_consumer_timer(int64_t at_ns);
  void consumer_tick();
  void check_pending(Stream& s, Consumer& c, int64_t now, int64_t& next);
  void check_waiting(Stream& s, Consumer& c, int64_t now, bool end_of_stream, int64_t& next);

  // consumer_acks.cpp
  void on_ack(const std::string& stream, const std::string& name, const InternalMessage& m);
  // deliveries: the acked reply's count, for the sampled ack metric (sample_freq).
  void ack_message(Stream& s, Consumer& c, storage::ConsumerSeq dseq, storage::StreamSeq sseq, bool term,
                   uint64_t deliveries = 0);
  void ack_metric(Stream& s, Consumer& c, uint64_t dseq, uint64_t sseq, int64_t ack_time_ns, uint64_t deliveries);
  void nak_message(Stream& s, Consumer& c, storage::ConsumerSeq dseq, storage::StreamSeq sseq, uint64_t deliveries,
                   const AckBody& body);
  void retention_check(Stream& s, storage::StreamSeq seq);
  // action: "create", "modify" or "delete"; consumer empty for a stream's advisory.
  void action_advisory(std::string_view stream, std::string_view consumer, std::string_view action);
  void notify_max_deliveries(Stream& s, Consumer& c, storage::StreamSeq seq, uint64_t deliveries);
  void consumer_advisory(Stream& s, Consumer& c, std::string_view type, std::string_view prefix, uint64_t dseq,
                         uint64_t sseq, uint64_t deliveries);

  // api_messages.cpp
  void stream_purge(const InternalMessage& m, std::string_view name);
  void msg_get(const InternalMessage& m, std::string_view name);
  void msg_delete(const InternalMessage& m, std::string_view name);

  // direct_get.cpp: DIRECT.GET, subscribed per stream while its allow_direct is set
  void sync_direct(Stream& s);  // subscribes or unsubscribes as s.config.allow_direct says
  void unsubscribe_direct(Stream& s);
  void on_direct_get(const std::string& stream, const InternalMessage& m);
  void on_direct_get_last(const std::string& stream, const InternalMessage& m);
  void direct_status(const InternalMessage& m, std::string_view status);
  void direct_reply(const InternalMessage& m, const Stream& s, const MsgGetRequest& req);

  Server& server_;
  Account* account_ = nullptr;  // $G
  std::string domain_;
  std::shared_ptr<InternalClient> client_;
  std::unique_ptr<storage::StreamStore> rocks_;
  std::unique_ptr<storage::StreamStore> memory_;
  storage::SyncPolicy sync_policy_ = storage::SyncPolicy::interval;
  std::chrono::nanoseconds sync_interval_{std::chrono::minutes(2)};
  JszConfig jsz_config_;                // set in start()
  std::atomic<bool> enabled_{false};    // from the end of start() to the beginning of stop()

  // Service thread only, from here on.
  bool running_ = false;
  SubPtr api_sub_;
  std::map<std::string, Stream, std::less<>> streams_;  // sorted, as the NAMES/LIST replies
  std::vector<PendingPublish> pending_;
  std::unordered_map<std::string, std::size_t> republish_turn_;  // stream '\0' subject -> pending_ index
  std::vector<Batch> batches_;
  std::vector<std::string> ack_replies_;  // AckSync: sent once the ops before them are applied
  std::vector<std::pair<std::string, storage::StreamSeq>> retention_checks_;  // (stream, seq) after apply
  bool commit_posted_ = false;
  int64_t used_file_ = 0, used_memory_ = 0;  // stored bytes, refreshed per commit, counted up per publish
  bool delivering_ = false;
  uint64_t api_total_ = 0;
  uint64_t api_errors_ = 0;
  // Timers live on the service thread's io_context and are destroyed there in stop().
  std::unique_ptr<asio::steady_timer> expiry_timer_;
  std::optional<int64_t> expiry_armed_ns_;
  std::unique_ptr<asio::steady_timer> sync_timer_;
  std::unique_ptr<asio::steady_timer> consumer_timer_;
  std::unique_ptr<asio::steady_timer> commit_timer_;
  int64_t consumer_timer_at_ = 0;  // 0: not armed
  std::unique_ptr<asio::steady_timer> source_timer_;
  int64_t source_timer_at_ = 0;    // 0: not armed
  std::size_t sourcing_streams_ = 0;  // streams with a mirror or sources (pump_sources skips when 0)
};

}  // namespace forest::broker::js
