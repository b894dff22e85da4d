// Engine: opening (records into memory), the batch loop (one KvBatch per op, one commit per
// batch), stream create/delete, and the read helpers the op handlers share.

#include "storage/engine.hpp"

#include <type_traits>
#include <variant>

namespace forest::storage::detail {

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

constexpr std::string_view stream_tag_begin = "C";
constexpr std::string_view stream_tag_end = "D";

}  // namespace

// ---------------------------------------------------------------- open / close

Engine::Engine(std::unique_ptr<Kv> kv, bool fsync_batches, std::string description)
    : kv_(std::move(kv)), fsync_batches_(fsync_batches), description_(std::move(description)) {}

Engine::~Engine() {
  if (!closed_) (void)close();
}

std::expected<std::unique_ptr<Engine>, Error> Engine::open(std::unique_ptr<Kv> kv, bool fsync_batches,
                                                           std::string description) {
  std::unique_ptr<Engine> e(new Engine(std::move(kv), fsync_batches, std::move(description)));
  if (auto r = e->load_all(); !r) {
    e->closed_ = true;
    (void)e->kv_->close();
    return std::unexpected(r.error());
  }
  return e;
}

std::expected<void, Error> Engine::load_all() {
  auto open_error = [&](std::string what) { return fail(Errc::open_failed, description_ + ": " + what); };
  std::string value;
  auto got = kv_->get(Family::meta, keys::global(), value);
  if (!got) return open_error(got.error().text);
  if (!*got) {
    // A new store: every family must be empty, or this is not one of ours (a store whose
    // global record was lost must not silently restart as an empty one).
    for (std::size_t f = 0; f < family_count; ++f) {
      auto it = kv_->iterate(static_cast<Family>(f), std::string(), std::string(1, '\xff'));
      it->seek(std::string());
      if (it->valid()) return open_error("not a stream store (data without a format record)");
      if (auto st = it->status(); !st) return open_error(st.error().text);
    }
    global_ = records::Global{};
    auto b = kv_->batch();
    b->put(Family::meta, keys::global(), records::encode(global_));
    if (auto w = kv_->write(*b); !w) return open_error(w.error().text);
    if (auto c = kv_->commit(true); !c) return open_error(c.error().text);
    return {};
  }
  auto g = records::decode_global(value);
  if (!g) return open_error("the format record does not decode");
  if (g->format_version != records::store_format_version) {
    return open_error("unknown store format version " + std::to_string(g->format_version) + " (this build reads " +
                      std::to_string(records::store_format_version) + ")");
  }
  global_ = *g;

  auto it = kv_->iterate(Family::meta, std::string(stream_tag_begin), std::string(stream_tag_end));
  for (it->seek(stream_tag_begin); it->valid(); it->next()) {
    auto meta = records::decode_stream_meta(it->value());
    if (!meta) return open_error("a stream config record does not decode");
    auto rt = std::make_unique<StreamRuntime>();
    rt->id = meta->id;
    rt->created_ns = meta->created_ns;
    rt->config = std::move(meta->config);
    std::string sv;
    auto sg = kv_->get(Family::meta, keys::stream_state(rt->id), sv);
    if (!sg) return open_error(sg.error().text);
    if (!*sg) return open_error("stream '" + rt->config.name + "' has no state record");
    auto st = records::decode_stream_state(sv);
    if (!st) return open_error("the state record of stream '" + rt->config.name + "' does not decode");
    rt->st = std::move(*st);
    if (auto r = load_consumers(*rt); !r) return r;
    std::string name = rt->config.name;
    streams_.emplace(std::move(name), std::move(rt));
  }
  if (auto st = it->status(); !st) return open_error(st.error().text);
  return {};
}

std::expected<void, Error> Engine::load_consumers(StreamRuntime& s) {
  auto open_error = [&](std::string what) {
    return fail(Errc::open_failed, description_ + ": stream '" + s.config.name + "': " + what);
  };
  auto it = kv_->iterate(Family::consumers, keys::stream_begin(s.id), keys::stream_end(s.id));
  ConsumerRuntime* current = nullptr;
  std::uint64_t current_id = 0;
  for (it->seek(keys::stream_begin(s.id)); it->valid(); it->next()) {
    std::string_view k = it->key();
    if (k.size() < keys::consumer_key_size) return open_error("a consumer key is too short");
    std::uint64_t cid = codec::read_be64(k.substr(8));
    char tag = k[16];
    if (tag == keys::consumer_tag) {
      auto rec = records::decode_consumer(it->value());
      if (!rec) return open_error("a consumer record does not decode");
      ConsumerRuntime rt;
      rt.id = rec->id;
      rt.created_ns = rec->created_ns;
      rt.config = std::move(rec->config);
      rt.state.delivered = rec->delivered;
      rt.state.ack_floor = rec->ack_floor;
      std::string name = rt.config.name;
      auto [pos, inserted] = s.consumers.emplace(std::move(name), std::move(rt));
      if (!inserted) return open_error("two consumers named '" + pos->first + "'");
      current = &pos->second;
      current_id = cid;
      continue;
    }
    if (tag == keys::position_tag) {
      if (current == nullptr || cid != current_id || k.size() != keys::consumer_key_size) {
        return open_error("a consumer position without its consumer");
      }
      auto pos = records::decode_position(it->value());
      if (!pos) return open_error("a consumer position does not decode");
      current->state.delivered = pos->delivered;
      current->state.ack_floor = pos->ack_floor;
      continue;
    }
    // Pending and redelivered entries sort after their consumer's record.
    if (current == nullptr || cid != current_id || k.size() != keys::consumer_key_size + 8) {
      return open_error("a consumer entry without its consumer");
    }
    StreamSeq sseq(codec::read_be64(k.substr(keys::consumer_key_size)));
    if (tag == keys::pending_tag) {
      auto p = records::decode_pending(it->value());
      if (!p) return open_error("a pending entry does not decode");
      current->state.pending.emplace(sseq, *p);
    } else if (tag == keys::redelivered_tag) {
      auto n = records::decode_count(it->value());
      if (!n) return open_error("a redelivery count does not decode");
      current->state.redelivered.emplace(sseq, *n);
    } else {
      return open_error("an unknown consumer entry");
    }
  }
  if (auto st = it->status(); !st) return open_error(st.error().text);
  return {};
}

std::expected<void, Error> Engine::sync() {
  if (auto u = usable(); !u) return u;
  if (auto c = kv_->commit(true); !c) {
    failed_ = c.error();
    return std::unexpected(c.error());
  }
  return {};
}

std::expected<void, Error> Engine::close() {
  if (closed_) return {};
  closed_ = true;
  std::expected<void, Error> result;
  if (!failed_) result = kv_->commit(true);
  if (auto c = kv_->close(); !c && result) result = c;
  return result;
}

std::expected<void, Error> Engine::usable() const {
  if (closed_) return fail(Errc::closed, description_ + " is closed");
  if (failed_) return std::unexpected(*failed_);
  return {};
}

// ---------------------------------------------------------------- the batch loop

std::expected<std::vector<OpOutcome>, Error> Engine::apply_batch(std::span<const Op> ops) {
  if (auto u = usable(); !u) return std::unexpected(u.error());
  std::vector<OpOutcome> out;
  out.reserve(ops.size());
  for (const Op& op : ops) {
    OpOutcome r = apply_one(op);
    if (failed_) return std::unexpected(*failed_);
    out.push_back(std::move(r));
  }
  // Group commit: one WAL flush (and fsync with SyncPolicy::always) for the whole batch.
  if (auto c = kv_->commit(fsync_batches_); !c) {
    failed_ = c.error();
    return std::unexpected(c.error());
  }
  // Erased messages: compact their keys away now that the deletes are durable.
  for (auto& [b, e] : pending_scrub_messages_) {
    if (auto r = kv_->scrub(Family::messages, b, e); !r) failed_ = r.error();
  }
  for (auto& [b, e] : pending_scrub_subjects_) {
    if (auto r = kv_->scrub(Family::subjects, b, e); !r) failed_ = r.error();
  }
  pending_scrub_messages_.clear();
  pending_scrub_subjects_.clear();
  if (failed_) return std::unexpected(*failed_);
  return out;
}

OpOutcome Engine::apply_one(const Op& op) {
  if (op.stream.empty() || op.stream.find('\0') != std::string::npos) {
    return fail(Errc::invalid_argument, "an op needs a stream name");
  }
  if (const auto* c = std::get_if<StreamCreateOp>(&op.body)) return apply_stream_create(op, *c);
  if (std::holds_alternative<StreamDeleteOp>(op.body)) return apply_stream_delete(op);
  auto it = streams_.find(op.stream);
  if (it == streams_.end()) return fail(Errc::stream_not_found, "stream '" + op.stream + "' not found");
  return apply_in_stream(*it->second, op);
}

OpOutcome Engine::apply_in_stream(StreamRuntime& s, const Op& op) {
  OpContext ctx(*this, s);
  std::expected<void, Error> r = std::visit(
      Overloaded{
          [&](const StreamCreateOp&) -> std::expected<void, Error> { return {}; },
          [&](const StreamDeleteOp&) -> std::expected<void, Error> { return {}; },
          [&](const StreamUpdateOp& b) { return apply_stream_update(ctx, b); },
          [&](const StoreMsgOp& b) { return apply_store(ctx, b); },
          [&](const DeleteMsgOp& b) { return apply_delete(ctx, b); },
          [&](const PurgeOp& b) { return apply_purge(ctx, b); },
          [&](const ExpireOp& b) { return apply_expire(ctx, b); },
          [&](const ConsumerCreateOp& b) { return apply_consumer_create(ctx, b); },
          [&](const ConsumerUpdateOp& b) { return apply_consumer_update(ctx, b); },
          [&](const ConsumerDeleteOp& b) { return apply_consumer_delete(ctx, b); },
          [&](const ConsumerDeliveredOp& b) { return apply_consumer_delivered(ctx, b); },
          [&](const ConsumerAckOp& b) { return apply_consumer_ack(ctx, b); },
          [&](const ConsumerNakOp& b) { return apply_consumer_nak(ctx, b); },
          [&](const ConsumerTermOp& b) { return apply_consumer_term(ctx, b); },
      },
      op.body);
  // A read that failed inside the op (backend error, undecodable record) is a storage
  // failure, whatever the handler concluded: in-memory state may be half-updated.
  if (read_error_) {
    failed_ = std::move(*read_error_);
    read_error_.reset();
    return std::unexpected(*failed_);
  }
  if (!r) return std::unexpected(std::move(r.error()));
  ctx.finalize();
  if (read_error_) {
    failed_ = std::move(*read_error_);
    read_error_.reset();
    return std::unexpected(*failed_);
  }
  if (ctx.batch->count() > 0) {
    if (auto w = kv_->write(*ctx.batch); !w) {
      failed_ = w.error();
      return std::unexpected(w.error());
    }
  }
  // The write is visible: refresh the committed-summary cache.
  if (ctx.summaries_cleared) s.summary_cache.clear();
  for (auto& [subject, slot] : ctx.summaries) {
    if (slot.modified) cache_summary(s, subject, slot.exists ? std::optional<SubjectState>(slot.st) : std::nullopt);
  }
  for (auto& r2 : ctx.scrub_messages) pending_scrub_messages_.push_back(std::move(r2));
  for (auto& r2 : ctx.scrub_subjects) pending_scrub_subjects_.push_back(std::move(r2));
  return std::move(ctx.result);
}

OpOutcome Engine::apply_stream_create(const Op& op, const StreamCreateOp& body) {
  if (body.config.name != op.stream) {
    return fail(Errc::invalid_argument, "stream create: config name '" + body.config.name +
                                            "' differs from the op's stream '" + op.stream + "'");
  }
  if (auto it = streams_.find(op.stream); it != streams_.end()) {
    // Same config again (a retried create, a replayed log): nothing to do, as nats-server
    // answers an identical create with the existing stream.
    if (it->second->config == body.config) return ApplyResult{};
    return fail(Errc::stream_exists, "stream '" + op.stream + "' already exists with a different config");
  }
  auto rt = std::make_unique<StreamRuntime>();
  rt->id = global_.next_stream_id;
  rt->created_ns = body.time_ns;
  rt->config = body.config;
  global_.next_stream_id++;
  auto b = kv_->batch();
  b->put(Family::meta, keys::global(), records::encode(global_));
  b->put(Family::meta, keys::stream_config(rt->id), records::encode(records::StreamMetaRecord{rt->id, rt->created_ns, rt->config}));
  b->put(Family::meta, keys::stream_state(rt->id), records::encode(rt->st));
  if (auto w = kv_->write(*b); !w) {
    failed_ = w.error();
    return std::unexpected(w.error());
  }
  streams_.emplace(op.stream, std::move(rt));
  return ApplyResult{};
}

OpOutcome Engine::apply_stream_delete(const Op& op) {
  auto it = streams_.find(op.stream);
  if (it == streams_.end()) return fail(Errc::stream_not_found, "stream '" + op.stream + "' not found");
  const std::uint64_t sid = it->second->id;
  auto b = kv_->batch();
  // Every key of a stream is inside its id's range in each family: a handful of range
  // deletions, whatever the stream's size. Ids are never reused, so nothing can land there.
  b->del(Family::meta, keys::stream_config(sid));
  b->del(Family::meta, keys::stream_state(sid));
  std::string dd = keys::dedupe_prefix(sid);
  b->del_range(Family::meta, dd, keys::prefix_end(dd));
  for (Family f : {Family::messages, Family::subjects, Family::consumers}) {
    b->del_range(f, keys::stream_begin(sid), keys::stream_end(sid));
  }
  if (auto w = kv_->write(*b); !w) {
    failed_ = w.error();
    return std::unexpected(w.error());
  }
  streams_.erase(it);
  return ApplyResult{};
}

// ---------------------------------------------------------------- shared reads

bool Engine::get(Family f, std::string_view key, std::string& value) const {
  auto r = kv_->get(f, key, value);
  if (!r) {
    note_error(r.error());
    return false;
  }
  return *r;
}

void Engine::note_error(Error e) const {
  if (!read_error_) read_error_ = std::move(e);
}

void Engine::note_corrupt(std::string_view what) const {
  note_error(Error{Errc::corrupt, description_ + ": " + std::string(what) + " does not decode or is inconsistent"});
}

void Engine::check(const KvIterator& it) const {
  if (auto st = it.status(); !st) note_error(st.error());
}

std::expected<void, Error> Engine::take_read_error() const {
  if (!read_error_) return {};
  Error e = std::move(*read_error_);
  read_error_.reset();
  return std::unexpected(std::move(e));
}

std::expected<const StreamRuntime*, Error> Engine::find(std::string_view stream) const {
  if (auto u = usable(); !u) return std::unexpected(u.error());
  auto it = streams_.find(stream);
  if (it == streams_.end()) return fail(Errc::stream_not_found, "stream '" + std::string(stream) + "' not found");
  return it->second.get();
}

std::unique_ptr<KvIterator> Engine::messages(const StreamRuntime& s) const {
  return kv_->iterate(Family::messages, keys::stream_begin(s.id), keys::stream_end(s.id));
}

std::unique_ptr<KvIterator> Engine::subject_index(const StreamRuntime& s, std::string_view subject) const {
  std::string prefix = keys::index_prefix(s.id, subject);
  std::string end = keys::prefix_end(prefix);
  return kv_->iterate(Family::subjects, std::move(prefix), std::move(end));
}

namespace {
std::optional<StoredMessage> to_message(const Engine& e, std::uint64_t seq, std::string_view value) {
  auto m = records::decode_message(value);
  if (!m) {
    e.note_corrupt("message record");
    return std::nullopt;
  }
  return StoredMessage{StreamSeq(seq), std::string(m->subject), std::string(m->headers), std::string(m->data),
                       m->time_ns};
}
}  // namespace

std::optional<StoredMessage> Engine::read_message(const StreamRuntime& s, std::uint64_t seq) const {
  std::string v;
  if (!get(Family::messages, keys::message(s.id, seq), v)) return std::nullopt;
  return to_message(*this, seq, v);
}

std::optional<StoredMessage> Engine::next_message(const StreamRuntime& s, std::uint64_t seq) const {
  auto it = messages(s);
  it->seek(keys::message(s.id, seq));
  if (!it->valid()) {
    check(*it);
    return std::nullopt;
  }
  return to_message(*this, keys::message_seq(it->key()), it->value());
}

std::optional<SubjectState> Engine::read_summary(const StreamRuntime& s, const std::string& subject) const {
  if (auto c = s.summary_cache.find(subject); c != s.summary_cache.end()) return c->second;
  std::string v;
  std::optional<SubjectState> st;
  if (get(Family::subjects, keys::summary(s.id, subject), v)) {
    st = records::decode_summary(v);
    if (!st) {
      note_corrupt("subject summary");
      return std::nullopt;
    }
  }
  if (!read_failed()) cache_summary(s, subject, st);
  return st;
}

void Engine::cache_summary(const StreamRuntime& s, const std::string& subject,
                           const std::optional<SubjectState>& st) const {
  if (s.summary_cache.size() >= summary_cache_limit && !s.summary_cache.contains(subject)) s.summary_cache.clear();
  s.summary_cache.insert_or_assign(subject, st);
}

std::uint64_t Engine::last_live_seq(const StreamRuntime& s) const {
  if (s.st.msgs == 0) return 0;
  auto it = messages(s);
  it->seek_for_prev(keys::message(s.id, s.st.last_seq));
  if (!it->valid()) {
    check(*it);
    if (!read_failed()) note_corrupt("stream state (messages counted but none found)");
    return 0;
  }
  return keys::message_seq(it->key());
}

std::optional<std::uint64_t> Engine::int_property(std::string_view name) const {
  if (closed_) return std::nullopt;
  return kv_->int_property(name);
}

}  // namespace forest::storage::detail
