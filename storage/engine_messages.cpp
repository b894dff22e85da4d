// Message ops: store (dedupe, expected-* checks, rollups, discard new, limits), delete,
// purge, expire, and the stream config update that re-applies limits. The checks and their
// order follow nats-server 2.9.10's stream.go processJetStreamMsg and the stores'
// storeRawMsg (filestore.go, memstore.go); everything decided here depends only on the op
// and the stored state, never on a clock.

#include <algorithm>
#include <limits>

#include "storage/engine.hpp"

namespace forest::storage::detail {

namespace {

constexpr std::size_t max_header_size = 65535;  // nats-server: len(hdr) > math.MaxUint16

// Loads the stream's persisted dedupe entries into memory the first time a store needs them
// (opening a store reads no dedupe entry).
void ensure_dedupe(OpContext& ctx) {
  StreamRuntime& s = ctx.s;
  if (s.dedupe_loaded) return;
  s.dedupe_loaded = true;
  std::string prefix = keys::dedupe_prefix(s.id);
  auto it = ctx.engine.kv().iterate(Family::meta, prefix, keys::prefix_end(prefix));
  for (it->seek(prefix); it->valid(); it->next()) {
    auto e = records::decode_dedupe(it->value());
    if (!e) {
      ctx.engine.note_corrupt("dedupe entry");
      return;
    }
    s.dedupe.insert(std::string(it->key().substr(prefix.size())), e->seq, e->time_ns);
  }
  ctx.engine.check(*it);
}

// Drops ids whose time stamp is at or before now - window (nats-server: now-ts >= window).
void prune_dedupe(OpContext& ctx, UnixNanos now_ns) {
  StreamRuntime& s = ctx.s;
  if (s.dedupe.size() == 0) return;
  if (s.config.duplicate_window_ns <= 0) {
    s.dedupe.clear();
    std::string prefix = keys::dedupe_prefix(s.id);
    ctx.batch->del_range(Family::meta, prefix, keys::prefix_end(prefix));
    return;
  }
  s.dedupe.prune(now_ns - s.config.duplicate_window_ns,
                 [&](const std::string& id) { ctx.batch->del(Family::meta, keys::dedupe(s.id, id)); });
}

// Interest retention: does some consumer want a message on `subject`?
bool has_interest(const StreamRuntime& s, std::string_view subject) {
  for (const auto& [name, c] : s.consumers) {
    if (subject_matches(subject, c.config.filter_subject)) return true;
  }
  return false;
}

// max_msgs / max_bytes: drop from the front (also with discard new: a message stored while
// replacing a subject's oldest can still leave bytes over the limit, as in nats-server).
void enforce_limits(OpContext& ctx) {
  const StreamConfig& cfg = ctx.s.config;
  const bool msgs_limit = cfg.max_msgs > 0;
  const bool bytes_limit = cfg.max_bytes > 0;
  auto over = [&] {
    return (msgs_limit && ctx.s.st.msgs > static_cast<std::uint64_t>(cfg.max_msgs)) ||
           (bytes_limit && ctx.s.st.bytes > static_cast<std::uint64_t>(cfg.max_bytes));
  };
  if (!over()) return;
  ctx.remove_front([&](std::uint64_t, UnixNanos) { return over(); });
}

void enforce_per_subject(OpContext& ctx, const std::string& subject) {
  const std::int64_t maxp = ctx.s.config.max_msgs_per_subject;
  if (maxp <= 0) return;
  auto& slot = ctx.summary(subject);
  if (!slot.exists || slot.st.msgs <= static_cast<std::uint64_t>(maxp)) return;
  ctx.remove_subject_front(subject, [&](std::uint64_t) {
    auto& sl = ctx.summary(subject);
    return sl.exists && sl.st.msgs > static_cast<std::uint64_t>(maxp);
  });
}

void expire(OpContext& ctx, UnixNanos now_ns) {
  const StreamConfig& cfg = ctx.s.config;
  if (cfg.max_age_ns <= 0 || cfg.sealed || ctx.s.st.msgs == 0) return;
  const UnixNanos cutoff = now_ns - cfg.max_age_ns;
  if (ctx.s.st.first_ts_ns > cutoff) return;
  ctx.remove_front([&](std::uint64_t, UnixNanos t) { return t <= cutoff; });
}

// The first message matching `filter` after this op's removals (last + 1 when none), for
// moving consumers after a purge.
std::uint64_t first_remaining(OpContext& ctx, std::string_view filter) {
  if (filter_is_all(filter)) {
    ctx.resolve_first();
    return ctx.s.st.msgs == 0 ? ctx.s.st.last_seq + 1 : ctx.s.st.first_seq;
  }
  std::uint64_t best = std::numeric_limits<std::uint64_t>::max();
  if (!subject_has_wildcard(filter)) {
    auto& slot = ctx.resolved_summary(std::string(filter));
    if (slot.exists) best = slot.st.first.value;
  } else {
    // Subjects this op touched have their new state in the context; the others are as the
    // Kv has them.
    std::vector<std::string> subjects;
    ctx.engine.for_each_summary(ctx.s, filter, [&](std::string_view subject, const SubjectState&) {
      subjects.emplace_back(subject);
      return true;
    });
    for (const auto& subject : subjects) {
      auto& slot = ctx.resolved_summary(subject);
      if (slot.exists) best = std::min(best, slot.st.first.value);
    }
  }
  return best == std::numeric_limits<std::uint64_t>::max() ? ctx.s.st.last_seq + 1 : best;
}

}  // namespace

// ---------------------------------------------------------------- store

std::expected<void, Error> apply_store(OpContext& ctx, const StoreMsgOp& op) {
  StreamRuntime& s = ctx.s;
  const StreamConfig& cfg = s.config;
  if (cfg.sealed) return fail(Errc::sealed, "stream '" + cfg.name + "' is sealed");
  if (!subject_storable(op.subject) || subject_has_wildcard(op.subject)) {
    return fail(Errc::invalid_argument, "a message needs a literal subject without NUL bytes");
  }

  // Duplicates within the window are answered with the original sequence.
  const bool dedupe = cfg.duplicate_window_ns > 0;
  if (dedupe) {
    ensure_dedupe(ctx);
    if (ctx.engine.read_failed()) return {};
    if (!op.msg_id.empty()) {
      if (auto e = s.dedupe.find(op.msg_id, op.time_ns, cfg.duplicate_window_ns)) {
        ctx.result.seq = StreamSeq(e->seq);
        ctx.result.time_ns = e->time_ns;
        ctx.result.duplicate = true;
        return {};
      }
    }
  }

  if (op.expected_last_subject_seq) {
    auto st = ctx.engine.read_summary(s, op.subject);
    std::uint64_t last = st ? st->last.value : 0;
    if (last != op.expected_last_subject_seq->value) {
      return fail(Errc::wrong_last_sequence, "wrong last sequence: " + std::to_string(last), last);
    }
  }
  if (op.at_seq && op.at_seq->value <= s.st.last_seq) {
    return fail(Errc::wrong_last_sequence, "wrong last sequence: " + std::to_string(s.st.last_seq), s.st.last_seq);
  }
  if (op.expected_last_seq && op.expected_last_seq->value != s.st.last_seq) {
    return fail(Errc::wrong_last_sequence, "wrong last sequence: " + std::to_string(s.st.last_seq), s.st.last_seq);
  }
  if (op.expected_last_msg_id && *op.expected_last_msg_id != s.st.last_msg_id) {
    return fail(Errc::wrong_last_msg_id, "wrong last msg ID: " + s.st.last_msg_id);
  }
  if (op.rollup != Rollup::none && (!cfg.allow_rollup || cfg.deny_purge)) {
    return fail(Errc::rollup_not_permitted, "rollup not permitted");
  }
  const std::size_t payload = op.headers.size() + op.data.size();
  if (cfg.max_msg_size >= 0 && payload > static_cast<std::size_t>(cfg.max_msg_size)) {
    return fail(Errc::msg_too_large, "message size exceeds maximum allowed");
  }
  if (op.headers.size() > max_header_size) return fail(Errc::header_too_large, "header size exceeds maximum allowed");

  const bool skip = cfg.retention == Retention::interest && !has_interest(s, op.subject);

  // Discard new (storeRawMsg): refuse before anything changes.
  if (!skip && cfg.discard == Discard::new_msgs) {
    bool at_subject_limit = false;
    std::uint64_t subject_first_size = 0;
    if (cfg.max_msgs_per_subject > 0) {
      auto st = ctx.engine.read_summary(s, op.subject);
      if (st && st->msgs >= static_cast<std::uint64_t>(cfg.max_msgs_per_subject)) {
        if (cfg.discard_new_per_subject) {
          return fail(Errc::max_msgs_per_subject, "maximum messages per subject exceeded");
        }
        // The store will replace this subject's oldest message.
        at_subject_limit = true;
        std::string v;
        if (ctx.engine.get(Family::subjects, keys::index(s.id, op.subject, st->first.value), v)) {
          subject_first_size = records::decode_index_value(v);
        }
      }
    }
    if (cfg.max_msgs > 0 && s.st.msgs >= static_cast<std::uint64_t>(cfg.max_msgs) && !at_subject_limit) {
      return fail(Errc::max_msgs, "maximum messages exceeded");
    }
    if (cfg.max_bytes > 0 && s.st.bytes + payload >= static_cast<std::uint64_t>(cfg.max_bytes)) {
      if (!at_subject_limit || subject_first_size <= payload) return fail(Errc::max_bytes, "maximum bytes exceeded");
    }
  }
  if (ctx.engine.read_failed()) return {};

  // ---- accepted: from here on state changes ----
  const std::uint64_t seq = op.at_seq ? op.at_seq->value : s.st.last_seq + 1;
  if (dedupe) {
    prune_dedupe(ctx, op.time_ns);
    if (!op.msg_id.empty()) {
      s.dedupe.insert(op.msg_id, seq, op.time_ns);
      ctx.batch->put(Family::meta, keys::dedupe(s.id, op.msg_id), records::encode(records::DedupeEntry{seq, op.time_ns}));
    }
  }
  s.st.last_msg_id = op.msg_id;
  s.st.last_seq = seq;
  s.st.last_ts_ns = op.time_ns;
  ctx.result.seq = StreamSeq(seq);
  ctx.result.time_ns = op.time_ns;

  if (skip) {
    // nats-server's SkipMsg: the sequence is used, nothing is stored.
    if (s.st.msgs == 0) {
      s.st.first_seq = seq + 1;
      s.st.first_ts_ns = 0;
    }
    ctx.result.skipped = true;
    return {};
  }

  const std::uint64_t size = stored_size(cfg.storage, op.subject.size(), op.headers.size(), op.data.size());
  ctx.added = OpContext::Added{seq, op.subject, size, op.time_ns,
                               records::encode_message(op.time_ns, op.subject, op.headers, op.data)};
  if (s.st.msgs == 0) {
    s.st.first_seq = seq;
    s.st.first_ts_ns = op.time_ns;
  }
  s.st.msgs += 1;
  s.st.bytes += size;
  auto& slot = ctx.summary(op.subject);
  if (slot.exists) {
    slot.st.msgs += 1;
    slot.st.last = StreamSeq(seq);
  } else {
    slot.exists = true;
    slot.st = SubjectState{1, StreamSeq(seq), StreamSeq(seq)};
    s.st.num_subjects += 1;
  }
  slot.modified = true;

  // The store's own limits, in storeRawMsg's order.
  enforce_per_subject(ctx, op.subject);
  enforce_limits(ctx);

  // Rollups purge after the store (mset.purge with keep 1).
  if (op.rollup == Rollup::subject) {
    ctx.remove_subject_front(op.subject, [&](std::uint64_t q) { return q != seq; });
    ctx.purge_consumers(op.subject, first_remaining(ctx, op.subject));
  } else if (op.rollup == Rollup::all) {
    ctx.remove_all_existing();
    ctx.purge_consumers(">", first_remaining(ctx, ">"));
  }
  return {};
}

// ---------------------------------------------------------------- delete

std::expected<void, Error> apply_delete(OpContext& ctx, const DeleteMsgOp& op) {
  StreamRuntime& s = ctx.s;
  // Retention removals (an acknowledged message of an interest or work-queue stream) are the
  // stream's own policy, not a user's delete: allowed on deny_delete and sealed streams, as
  // nats-server's ackMsg removes without those checks.
  if (op.reason == DeleteReason::api) {
    if (s.config.sealed) return fail(Errc::sealed, "stream '" + s.config.name + "' is sealed");
    if (s.config.deny_delete) return fail(Errc::deny_delete, "message delete not permitted");
  }
  if (op.seq.zero()) return fail(Errc::message_not_found, "no message found");
  if (op.seq.value > s.st.last_seq) return fail(Errc::end_of_stream, "stream store EOF");
  if (op.seq.value < s.st.first_seq || s.st.msgs == 0) return fail(Errc::message_not_found, "no message found");
  std::string v;
  if (!ctx.engine.get(Family::messages, keys::message(s.id, op.seq.value), v)) {
    if (ctx.engine.read_failed()) return {};
    return fail(Errc::message_not_found, "no message found");
  }
  auto m = records::decode_message(v);
  if (!m) {
    ctx.engine.note_corrupt("message record");
    return {};
  }
  std::string subject(m->subject);
  ctx.remove_message(op.seq.value, subject,
                     stored_size(s.config.storage, m->subject.size(), m->headers.size(), m->data.size()));
  ctx.result.seq = op.seq;
  if (op.erase) {
    // The delete makes the value unreadable at once; compacting the key range afterwards
    // drops the bytes from the table files (the memory store has nothing to scrub).
    std::string k = keys::message(s.id, op.seq.value);
    ctx.scrub_messages.emplace_back(k, k + '\0');
    std::string ik = keys::index(s.id, subject, op.seq.value);
    ctx.scrub_subjects.emplace_back(ik, ik + '\0');
  }
  return {};
}

// ---------------------------------------------------------------- purge

std::expected<void, Error> apply_purge(OpContext& ctx, const PurgeOp& op) {
  StreamRuntime& s = ctx.s;
  if (s.config.sealed) return fail(Errc::sealed, "stream '" + s.config.name + "' is sealed");
  if (s.config.deny_purge) return fail(Errc::deny_purge, "stream purge not permitted");
  if (op.seq.value > 1 && op.keep > 0) return fail(Errc::purge_arg_mismatch, "sequence and keep can not both be set");
  if (!op.filter.empty() && (op.filter.find('\0') != std::string::npos)) {
    return fail(Errc::invalid_argument, "purge filter with a NUL byte");
  }

  if (filter_is_all(op.filter)) {
    if (op.keep == 0 && op.seq.value <= 1) {
      ctx.remove_all_existing();
    } else {
      std::uint64_t below = op.seq.value;  // remove everything below this sequence
      if (op.keep > 0) {
        if (op.keep >= s.st.msgs) return {};
        below = s.st.last_seq - op.keep + 1;  // nats-server: Compact(lseq - keep + 1)
      }
      if (below > s.st.last_seq) {
        // Compacting past the end: empty, and the next message gets `below` (as Compact).
        ctx.remove_all_existing();
        s.st.last_seq = below - 1;
        s.st.first_seq = below;
        s.st.first_ts_ns = 0;
      } else if (s.st.msgs > 0 && below > s.st.first_seq) {
        ctx.remove_front([&](std::uint64_t q, UnixNanos) { return q < below; });
      }
    }
    ctx.purge_consumers(">", first_remaining(ctx, ">"));
    return {};
  }

  const std::uint64_t below = op.seq.value > 1 ? op.seq.value : std::numeric_limits<std::uint64_t>::max();
  if (!subject_has_wildcard(op.filter)) {
    auto& slot = ctx.summary(op.filter);
    if (slot.exists) {
      std::uint64_t to_remove = std::numeric_limits<std::uint64_t>::max();
      if (op.keep > 0) to_remove = slot.st.msgs > op.keep ? slot.st.msgs - op.keep : 0;
      std::uint64_t n = 0;
      if (to_remove > 0) {
        ctx.remove_subject_front(op.filter, [&](std::uint64_t q) {
          if (q >= below || n >= to_remove) return false;
          ++n;
          return true;
        });
      }
    }
  } else if (op.keep > 0) {
    // Keep the newest `keep` matching messages: count them, then remove the oldest in
    // sequence order (a forward walk over the messages from the filter's first one).
    std::uint64_t total = 0;
    std::uint64_t from = std::numeric_limits<std::uint64_t>::max();
    ctx.engine.for_each_summary(s, op.filter, [&](std::string_view, const SubjectState& st) {
      total += st.msgs;
      from = std::min(from, st.first.value);
      return true;
    });
    if (total > op.keep) {
      std::uint64_t to_remove = total - op.keep;
      auto it = ctx.engine.messages(s);
      std::string subject;
      for (it->seek(keys::message(s.id, from)); it->valid() && to_remove > 0; it->next()) {
        auto m = records::decode_message(it->value());
        if (!m) {
          ctx.engine.note_corrupt("message record");
          return {};
        }
        if (!subject_matches(m->subject, op.filter)) continue;
        subject.assign(m->subject);
        ctx.remove_message(keys::message_seq(it->key()), subject,
                           stored_size(s.config.storage, m->subject.size(), m->headers.size(), m->data.size()));
        --to_remove;
      }
      ctx.engine.check(*it);
    }
  } else {
    std::vector<std::string> subjects;
    ctx.engine.for_each_summary(s, op.filter, [&](std::string_view subject, const SubjectState& st) {
      if (st.first.value < below) subjects.emplace_back(subject);
      return true;
    });
    for (const auto& subject : subjects) {
      ctx.remove_subject_front(subject, [&](std::uint64_t q) { return q < below; });
    }
  }
  if (ctx.engine.read_failed()) return {};
  ctx.purge_consumers(op.filter, first_remaining(ctx, op.filter));
  return {};
}

// ---------------------------------------------------------------- expire

std::expected<void, Error> apply_expire(OpContext& ctx, const ExpireOp& op) {
  expire(ctx, op.now_ns);
  return {};
}

// ---------------------------------------------------------------- stream update

std::expected<void, Error> apply_stream_update(OpContext& ctx, const StreamUpdateOp& op) {
  StreamRuntime& s = ctx.s;
  if (op.config.name != s.config.name) {
    return fail(Errc::invalid_argument, "stream update: config name '" + op.config.name + "' differs from '" +
                                            s.config.name + "'");
  }
  // Byte accounting depends on the storage type (stored_size): the stored counts would be
  // wrong under another one. nats-server refuses the change too.
  if (op.config.storage != s.config.storage) {
    return fail(Errc::invalid_argument, "stream update: the storage type can not change");
  }
  const std::int64_t old_maxp = s.config.max_msgs_per_subject;
  const std::int64_t old_window = s.config.duplicate_window_ns;
  s.config = op.config;
  ctx.batch->put(Family::meta, keys::stream_config(s.id),
                 records::encode(records::StreamMetaRecord{s.id, s.created_ns, s.config}));

  // A lower per-subject limit applies to every subject at once (memstore UpdateConfig).
  const std::int64_t maxp = s.config.max_msgs_per_subject;
  if (maxp > 0 && (old_maxp <= 0 || maxp < old_maxp)) {
    std::vector<std::string> over;
    ctx.engine.for_each_summary(s, ">", [&](std::string_view subject, const SubjectState& st) {
      if (st.msgs > static_cast<std::uint64_t>(maxp)) over.emplace_back(subject);
      return true;
    });
    for (const auto& subject : over) enforce_per_subject(ctx, subject);
  }
  enforce_limits(ctx);
  expire(ctx, op.time_ns);

  if (s.config.duplicate_window_ns != old_window) {
    ensure_dedupe(ctx);
    prune_dedupe(ctx, op.time_ns);
  }
  return {};
}

}  // namespace forest::storage::detail
