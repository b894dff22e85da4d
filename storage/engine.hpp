#pragma once
// Engine: the one implementation of StreamStore's semantics, over a Kv backend. The memory
// store is Engine over MemKv, the RocksDB store is Engine over RocksKv; so limits, purges,
// dedupe and consumer rules are written once and the two stores cannot drift apart.
//
// Owned by its creator; every call on the owner thread (see stream_store.hpp).
//
// In memory per stream: config, the state record (counts, first/last, ids), consumers with
// their full ack state, the dedupe window (loaded on first use) and a bounded cache of
// committed per-subject summaries. Messages, index entries and summaries live in the Kv.
//
// Files: engine.cpp (open, batch loop, stream create/delete, shared reads),
// engine_context.cpp (OpContext: removals and the end-of-op write), engine_messages.cpp
// (store, delete, purge, expire, stream update), engine_reads.cpp (the read API),
// engine_consumers.cpp (consumer ops).

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "storage/consumer_state.hpp"
#include "storage/dedupe.hpp"
#include "storage/keys.hpp"
#include "storage/kv.hpp"
#include "storage/records.hpp"
#include "storage/stream_store.hpp"
#include "storage/subject_match.hpp"

namespace forest::storage::detail {

struct ConsumerRuntime {
  std::uint64_t id = 0;
  UnixNanos created_ns = 0;
  ConsumerConfig config;
  ConsumerState state;
};

struct StreamRuntime {
  std::uint64_t id = 0;
  UnixNanos created_ns = 0;
  StreamConfig config;
  records::StreamStateRecord st;
  std::map<std::string, ConsumerRuntime, std::less<>> consumers;
  DedupeWindow dedupe;
  bool dedupe_loaded = false;
  // Committed summaries only (nullopt: the subject has no message), refreshed after each
  // successful write; cleared wholesale when it grows past summary_cache_limit.
  mutable std::unordered_map<std::string, std::optional<SubjectState>> summary_cache;
};

inline constexpr std::size_t summary_cache_limit = 1 << 16;

class Engine;

// One op against one stream: the write batch, the summaries it touched, the sequences it
// removed, and the message it adds. Reads inside an op see the Kv as it was before the op
// (the batch is written at the end), so the context answers for what the op itself changed:
// `removed` masks messages still in the Kv, `added` is the message not in it yet.
class OpContext {
 public:
  OpContext(Engine& engine, StreamRuntime& stream);

  Engine& engine;
  StreamRuntime& s;
  std::unique_ptr<KvBatch> batch;
  ApplyResult result;

  struct SummarySlot {
    SubjectState st;
    bool exists = false;
    bool first_dirty = false;  // the first message was removed: find the next at resolve
    bool last_dirty = false;   // the last message was removed: find the previous at resolve
    bool modified = false;
  };
  // The summary of `subject` as this op sees it (loaded on first touch; first/last may be
  // stale while dirty).
  SummarySlot& summary(const std::string& subject);
  // The same with first/last resolved.
  SummarySlot& resolved_summary(const std::string& subject);

  struct Added {
    std::uint64_t seq = 0;
    std::string subject;
    std::uint64_t size = 0;  // stored_size
    UnixNanos time_ns = 0;
    std::string value;  // the encoded message record
  };
  std::optional<Added> added;  // the message this op stores (not in the Kv yet)

  [[nodiscard]] bool is_removed(std::uint64_t seq) const {
    return seq < removed_below_ || removed_.contains(seq);
  }
  [[nodiscard]] bool added_live() const { return added && !is_removed(added->seq); }

  // Removes one live message (in the Kv or the added one): counts, index, summary, the
  // consumers' pending entries.
  // `delete_key` false: the caller deletes the message key itself (front runs, see finalize).
  void remove_message(std::uint64_t seq, std::string_view subject, std::uint64_t size, bool delete_key = true);
  // Removes messages from the front of the stream while pred(seq, time_ns) holds.
  template <class Pred>
  void remove_front(Pred&& pred);
  // Removes the oldest messages of one literal subject while pred(seq) holds.
  template <class Pred>
  void remove_subject_front(const std::string& subject, Pred&& pred);
  // Removes every message the Kv holds for the stream (not the added one) with one range
  // deletion per family.
  void remove_all_existing();

  // The consumer's delta for this op (persisted at finalize).
  ConsumerDelta& delta(ConsumerRuntime& c);
  // A purge removed every message matching `filter` below `first_remaining`: consumers whose
  // filter is a subset of it move their cursor and floor up (nats-server's consumer.purge).
  void purge_consumers(std::string_view filter, std::uint64_t first_remaining);

  // The stream's first live sequence after this op's removals.
  void resolve_first();
  // Resolves everything dirty and puts the stream state, the added message, summaries and
  // consumers into the batch.
  void finalize();

  // Message key ranges to compact after the commit (erase).
  std::vector<std::pair<std::string, std::string>> scrub_messages;
  std::vector<std::pair<std::string, std::string>> scrub_subjects;
  bool summaries_cleared = false;  // remove_all_existing ran: the Kv's summaries are stale
  std::unordered_map<std::string, SummarySlot> summaries;
  // Deltas by consumer name (ordered, so the batch is the same on every replica).
  std::map<std::string, ConsumerDelta, std::less<>> deltas;
  std::unordered_set<std::string> created_consumers;  // their record is written whole
  std::string own_consumer;  // the consumer a consumer op is about (not a side effect)

 private:
  void note_removed(std::uint64_t seq);
  void resolve(const std::string& subject, SummarySlot& slot);

  std::unordered_set<std::uint64_t> removed_;
  std::uint64_t removed_below_ = 0;  // every seq below this is removed
  bool first_dirty_ = false;
  // Message keys removed from the front, in order: deleted one by one when few, with one
  // range deletion when many (a range tombstone per publish would slow every read).
  std::vector<std::uint64_t> front_removed_;
  records::StreamStateRecord before_;  // to skip rewriting an unchanged state record
};

class Engine final : public StreamStore {
 public:
  // Loads every stream and consumer record (no message is read).
  [[nodiscard]] static std::expected<std::unique_ptr<Engine>, Error> open(std::unique_ptr<Kv> kv,
                                                                          bool fsync_batches,
                                                                          std::string description);
  ~Engine() override;

  std::expected<std::vector<OpOutcome>, Error> apply_batch(std::span<const Op> ops) override;
  std::expected<void, Error> sync() override;
  std::expected<void, Error> close() override;

  std::vector<std::string> stream_names() const override;
  std::expected<StreamMeta, Error> stream_meta(std::string_view stream) const override;
  std::expected<StreamState, Error> stream_state(std::string_view stream, bool with_deleted) const override;
  std::expected<StoredMessage, Error> load(std::string_view stream, StreamSeq seq) const override;
  std::expected<std::optional<StoredMessage>, Error> load_next(std::string_view stream, std::string_view filter,
                                                               StreamSeq start) const override;
  std::expected<StoredMessage, Error> load_last(std::string_view stream, std::string_view filter) const override;
  std::expected<std::map<std::string, SubjectState>, Error> subjects_state(std::string_view stream,
                                                                           std::string_view filter) const override;
  std::expected<SubjectState, Error> filtered_state(std::string_view stream, std::string_view filter,
                                                    StreamSeq start) const override;
  std::expected<StreamSeq, Error> seq_from_time(std::string_view stream, UnixNanos time_ns) const override;
  std::expected<std::optional<UnixNanos>, Error> next_expiry(std::string_view stream) const override;
  std::expected<std::vector<std::string>, Error> consumer_names(std::string_view stream) const override;
  std::expected<ConsumerInfo, Error> consumer_info(std::string_view stream, std::string_view consumer) const override;
  std::expected<bool, Error> needs_ack(std::string_view stream, StreamSeq seq,
                                       std::string_view except_consumer) const override;
  std::optional<std::uint64_t> int_property(std::string_view name) const override;

  // ---- used by OpContext and the op handlers ----
  Kv& kv() { return *kv_; }
  const Kv& kv() const { return *kv_; }
  // Reads that cannot fail in normal operation: a backend error or a record that does not
  // decode is remembered here and fails the op (or query) that saw it.
  bool get(Family f, std::string_view key, std::string& value) const;
  void note_error(Error e) const;
  void note_corrupt(std::string_view what) const;
  [[nodiscard]] bool read_failed() const { return read_error_.has_value(); }
  // Checks an iterator's status after a loop.
  void check(const KvIterator& it) const;

  [[nodiscard]] std::unique_ptr<KvIterator> messages(const StreamRuntime& s) const;
  [[nodiscard]] std::unique_ptr<KvIterator> subject_index(const StreamRuntime& s, std::string_view subject) const;

  [[nodiscard]] std::optional<StoredMessage> read_message(const StreamRuntime& s, std::uint64_t seq) const;
  // The first live message at or after seq, with its body when asked.
  [[nodiscard]] std::optional<StoredMessage> next_message(const StreamRuntime& s, std::uint64_t seq) const;
  [[nodiscard]] std::optional<SubjectState> read_summary(const StreamRuntime& s, const std::string& subject) const;
  void cache_summary(const StreamRuntime& s, const std::string& subject, const std::optional<SubjectState>& st) const;
  // Calls f(subject, state) for each committed summary matching `filter` in subject order,
  // until f returns false.
  template <class F>
  void for_each_summary(const StreamRuntime& s, std::string_view filter, F&& f) const;
  // The last live sequence of the stream (0 when empty).
  [[nodiscard]] std::uint64_t last_live_seq(const StreamRuntime& s) const;

  // Per-subject state at or after `start` (nats-server's FilteredState for one subject).
  [[nodiscard]] SubjectState subject_state_from(const StreamRuntime& s, const std::string& subject,
                                                const SubjectState& summary, std::uint64_t start) const;
  [[nodiscard]] SubjectState filtered(const StreamRuntime& s, std::string_view filter, std::uint64_t start) const;
  [[nodiscard]] std::uint64_t seq_from_time(const StreamRuntime& s, UnixNanos time_ns) const;

  records::Global& global() { return global_; }

 private:
  Engine(std::unique_ptr<Kv> kv, bool fsync_batches, std::string description);
  [[nodiscard]] std::expected<void, Error> load_all();
  [[nodiscard]] std::expected<void, Error> load_consumers(StreamRuntime& s);
  [[nodiscard]] std::expected<void, Error> usable() const;
  [[nodiscard]] std::expected<const StreamRuntime*, Error> find(std::string_view stream) const;
  // Runs one op; a rejection is the returned error, a storage failure sets failed_.
  OpOutcome apply_one(const Op& op);
  OpOutcome apply_stream_create(const Op& op, const StreamCreateOp& body);
  OpOutcome apply_stream_delete(const Op& op);
  OpOutcome apply_in_stream(StreamRuntime& s, const Op& op);
  std::expected<void, Error> take_read_error() const;

  std::unique_ptr<Kv> kv_;
  bool fsync_batches_;
  std::string description_;
  records::Global global_;
  std::map<std::string, std::unique_ptr<StreamRuntime>, std::less<>> streams_;
  std::vector<std::pair<std::string, std::string>> pending_scrub_messages_;
  std::vector<std::pair<std::string, std::string>> pending_scrub_subjects_;
  std::optional<Error> failed_;
  bool closed_ = false;
  mutable std::optional<Error> read_error_;
};

// Op handlers (engine_messages.cpp, engine_consumers.cpp). Each returns a rejection before
// changing anything, or fills ctx and returns success.
std::expected<void, Error> apply_stream_update(OpContext& ctx, const StreamUpdateOp& op);
std::expected<void, Error> apply_store(OpContext& ctx, const StoreMsgOp& op);
std::expected<void, Error> apply_delete(OpContext& ctx, const DeleteMsgOp& op);
std::expected<void, Error> apply_purge(OpContext& ctx, const PurgeOp& op);
std::expected<void, Error> apply_expire(OpContext& ctx, const ExpireOp& op);
std::expected<void, Error> apply_consumer_create(OpContext& ctx, const ConsumerCreateOp& op);
std::expected<void, Error> apply_consumer_update(OpContext& ctx, const ConsumerUpdateOp& op);
std::expected<void, Error> apply_consumer_delete(OpContext& ctx, const ConsumerDeleteOp& op);
std::expected<void, Error> apply_consumer_delivered(OpContext& ctx, const ConsumerDeliveredOp& op);
std::expected<void, Error> apply_consumer_ack(OpContext& ctx, const ConsumerAckOp& op);
std::expected<void, Error> apply_consumer_nak(OpContext& ctx, const ConsumerNakOp& op);
std::expected<void, Error> apply_consumer_term(OpContext& ctx, const ConsumerTermOp& op);

// Stream start position for a new consumer (nats-server's selectStartingSeqNo).
[[nodiscard]] std::uint64_t consumer_start_seq(const Engine& e, const StreamRuntime& s, const ConsumerConfig& c,
                                               UnixNanos now_ns);
// Writes a consumer's record (when the delta says so, or `whole`) and the delta's entries.
void persist_consumer(KvBatch& batch, const StreamRuntime& s, const ConsumerRuntime& c, const ConsumerDelta& d,
                      bool whole);

// ---- templates ----

template <class F>
void Engine::for_each_summary(const StreamRuntime& s, std::string_view filter, F&& f) const {
  std::string lower = keys::summary(s.id, filter_is_all(filter) ? std::string_view() : subject_literal_prefix(filter));
  std::string upper = keys::prefix_end(lower);
  auto it = kv_->iterate(Family::subjects, lower, upper);
  bool all = filter_is_all(filter);
  for (it->seek(lower); it->valid(); it->next()) {
    std::string_view subject = keys::summary_subject(it->key());
    if (!all && !subject_matches(subject, filter)) continue;
    auto st = records::decode_summary(it->value());
    if (!st) {
      note_corrupt("subject summary");
      return;
    }
    if (!f(subject, *st)) return;
  }
  check(*it);
}

template <class Pred>
void OpContext::remove_front(Pred&& pred) {
  auto it = engine.messages(s);
  std::string start = keys::message(s.id, std::max(s.st.first_seq, removed_below_));
  std::string subject;
  for (it->seek(start); it->valid(); it->next()) {
    std::uint64_t seq = keys::message_seq(it->key());
    if (is_removed(seq)) continue;
    auto m = records::decode_message(it->value());
    if (!m) {
      engine.note_corrupt("message record");
      return;
    }
    if (!pred(seq, m->time_ns)) {
      s.st.first_seq = seq;
      s.st.first_ts_ns = m->time_ns;
      first_dirty_ = false;
      return;
    }
    subject.assign(m->subject);
    // Every live message below seq is removed now, so the watermark covers them all (no
    // per-sequence bookkeeping for long front removals).
    removed_below_ = seq + 1;
    front_removed_.push_back(seq);
    remove_message(seq, subject, stored_size(s.config.storage, m->subject.size(), m->headers.size(), m->data.size()),
                   false);
  }
  engine.check(*it);
  if (engine.read_failed()) return;
  if (added_live()) {
    if (!pred(added->seq, added->time_ns)) {
      s.st.first_seq = added->seq;
      s.st.first_ts_ns = added->time_ns;
      first_dirty_ = false;
      return;
    }
    std::string subj = added->subject;
    remove_message(added->seq, subj, added->size);
  }
  // Nothing left.
  s.st.first_seq = s.st.last_seq + 1;
  s.st.first_ts_ns = 0;
  first_dirty_ = false;
}

template <class Pred>
void OpContext::remove_subject_front(const std::string& subject, Pred&& pred) {
  SummarySlot* slot = &summary(subject);
  if (!slot->exists) return;
  auto it = engine.subject_index(s, subject);
  for (it->seek(keys::index(s.id, subject, slot->st.first.value)); it->valid(); it->next()) {
    std::uint64_t seq = keys::index_seq(it->key());
    if (is_removed(seq)) continue;
    if (!pred(seq)) return;
    remove_message(seq, subject, records::decode_index_value(it->value()));
    slot = &summary(subject);
    if (!slot->exists) return;
  }
  engine.check(*it);
  if (engine.read_failed()) return;
  if (added_live() && added->subject == subject && pred(added->seq)) {
    remove_message(added->seq, subject, added->size);
  }
}

}  // namespace forest::storage::detail
