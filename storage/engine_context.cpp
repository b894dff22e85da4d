// OpContext: what one op removes and adds, and the single write batch it ends with.
//
// Removals are recorded as they happen (counts, summaries, consumers' pending entries) while
// the Kv still holds the old keys; `removed_`/`removed_below_` mask them for the rest of the
// op. Anything whose new value needs a Kv lookup (a subject's next first message after its
// first was removed, the stream's new first) is marked dirty and resolved once at finalize,
// so an op that removes many messages of one subject looks the next one up once.

#include <algorithm>

#include "storage/engine.hpp"

namespace forest::storage::detail {

namespace {
// Front removals longer than this delete their message keys with one range deletion.
constexpr std::size_t range_delete_threshold = 64;
}  // namespace

OpContext::OpContext(Engine& e, StreamRuntime& stream)
    : engine(e), s(stream), batch(e.kv().batch()), before_(stream.st) {}

OpContext::SummarySlot& OpContext::summary(const std::string& subject) {
  auto [it, inserted] = summaries.try_emplace(subject);
  if (inserted && !summaries_cleared) {
    if (auto st = engine.read_summary(s, subject)) {
      it->second.st = *st;
      it->second.exists = true;
    }
  }
  return it->second;
}

OpContext::SummarySlot& OpContext::resolved_summary(const std::string& subject) {
  SummarySlot& slot = summary(subject);
  resolve(subject, slot);
  return slot;
}

void OpContext::resolve(const std::string& subject, SummarySlot& slot) {
  if (!slot.exists) {
    slot.first_dirty = slot.last_dirty = false;
    return;
  }
  const bool added_here = added_live() && added->subject == subject;
  if (slot.first_dirty) {
    std::optional<std::uint64_t> found;
    auto it = engine.subject_index(s, subject);
    for (it->seek(keys::index(s.id, subject, slot.st.first.value)); it->valid(); it->next()) {
      std::uint64_t seq = keys::index_seq(it->key());
      if (!is_removed(seq)) {
        found = seq;
        break;
      }
    }
    engine.check(*it);
    if (!found && added_here) found = added->seq;
    if (!found) {
      if (!engine.read_failed()) engine.note_corrupt("subject index of '" + subject + "' (count without entries)");
      return;
    }
    slot.st.first = StreamSeq(*found);
    slot.first_dirty = false;
  }
  if (slot.last_dirty) {
    std::optional<std::uint64_t> found;
    if (added_here) {
      found = added->seq;  // the added message is the newest of all
    } else {
      auto it = engine.subject_index(s, subject);
      for (it->seek_for_prev(keys::index(s.id, subject, slot.st.last.value)); it->valid(); it->prev()) {
        std::uint64_t seq = keys::index_seq(it->key());
        if (!is_removed(seq)) {
          found = seq;
          break;
        }
      }
      engine.check(*it);
    }
    if (!found) {
      if (!engine.read_failed()) engine.note_corrupt("subject index of '" + subject + "' (count without entries)");
      return;
    }
    slot.st.last = StreamSeq(*found);
    slot.last_dirty = false;
  }
}

void OpContext::note_removed(std::uint64_t seq) {
  if (seq >= removed_below_) removed_.insert(seq);
  if (!result.removed.empty() && result.removed.back().last.value + 1 == seq) {
    result.removed.back().last = StreamSeq(seq);
  } else {
    result.removed.push_back(SeqRange{StreamSeq(seq), StreamSeq(seq)});
  }
}

void OpContext::remove_message(std::uint64_t seq, std::string_view subject, std::uint64_t size, bool delete_key) {
  const bool is_added = added && seq == added->seq;
  if (!is_added) {
    if (delete_key) batch->del(Family::messages, keys::message(s.id, seq));
    batch->del(Family::subjects, keys::index(s.id, subject, seq));
  }
  s.st.msgs -= 1;
  s.st.bytes -= std::min(s.st.bytes, size);
  note_removed(seq);
  result.removed_msgs += 1;
  result.removed_bytes += size;
  if (seq == s.st.first_seq) first_dirty_ = true;

  SummarySlot& slot = summary(std::string(subject));
  if (!slot.exists) {
    engine.note_corrupt("subject summary (a message of a subject without one)");
    return;
  }
  slot.modified = true;
  if (slot.st.msgs <= 1) {
    slot = SummarySlot{};
    slot.modified = true;
    s.st.num_subjects -= 1;
  } else {
    slot.st.msgs -= 1;
    if (seq == slot.st.first.value) slot.first_dirty = true;
    if (seq == slot.st.last.value) slot.last_dirty = true;
    // One message left: first and last are the same one, no lookup needed.
    if (slot.st.msgs == 1) {
      if (slot.first_dirty && !slot.last_dirty) {
        slot.st.first = slot.st.last;
        slot.first_dirty = false;
      } else if (slot.last_dirty && !slot.first_dirty) {
        slot.st.last = slot.st.first;
        slot.last_dirty = false;
      }
    }
  }

  // A message that leaves the stream is never delivered again: consumers drop it from
  // pending as a term would (the ack floor may move up).
  for (auto& [name, c] : s.consumers) {
    if (c.state.pending.empty() || StreamSeq(seq) < c.state.pending.begin()->first ||
        c.state.pending.rbegin()->first < StreamSeq(seq)) {
      continue;
    }
    ConsumerDelta& d = delta(c);
    (void)drop_pending(c.state, StreamSeq(seq), d);
  }
}

void OpContext::remove_all_existing() {
  const bool keep_added = added_live();
  const std::uint64_t existing_msgs = s.st.msgs - (keep_added ? 1 : 0);
  const std::uint64_t existing_bytes = s.st.bytes - (keep_added ? added->size : 0);
  const std::uint64_t upto = added ? added->seq : s.st.last_seq + 1;  // the Kv holds only seqs below
  if (existing_msgs > 0) {
    std::uint64_t from = std::max(s.st.first_seq, std::uint64_t{1});
    if (from < upto) {
      result.removed.push_back(SeqRange{StreamSeq(from), StreamSeq(upto - 1)});
    }
    result.removed_msgs += existing_msgs;
    result.removed_bytes += existing_bytes;
  }
  if (existing_msgs > 0 || before_.msgs > 0) {
    // Range deletions: messages below `upto`, and every index entry and summary (the
    // added message's are put again after these in the same batch). Also when this op
    // already removed the last old message: its summary deletion is dropped with the
    // slots below and must be covered here.
    batch->del_range(Family::messages, keys::stream_begin(s.id), keys::message(s.id, upto));
    batch->del_range(Family::subjects, keys::stream_begin(s.id), keys::stream_end(s.id));
    front_removed_.clear();
  }
  s.st.msgs -= existing_msgs;
  s.st.bytes -= std::min(s.st.bytes, existing_bytes);
  // removed_ stays: it may say the added message itself is gone.
  removed_below_ = std::max(removed_below_, upto);

  summaries.clear();
  summaries_cleared = true;
  s.st.num_subjects = 0;
  if (keep_added) {
    SummarySlot& slot = summaries[added->subject];
    slot.exists = true;
    slot.modified = true;
    slot.st = SubjectState{1, StreamSeq(added->seq), StreamSeq(added->seq)};
    s.st.num_subjects = 1;
    s.st.first_seq = added->seq;
    s.st.first_ts_ns = added->time_ns;
  } else {
    s.st.first_seq = s.st.last_seq + 1;
    s.st.first_ts_ns = 0;
  }
  first_dirty_ = false;

  // Every pending message was in the Kv (the added one cannot have been delivered yet).
  for (auto& [name, c] : s.consumers) {
    if (c.state.pending.empty() && c.state.redelivered.empty()) continue;
    clear_pending(c.state, delta(c));
  }
}

ConsumerDelta& OpContext::delta(ConsumerRuntime& c) { return deltas[c.config.name]; }

void OpContext::purge_consumers(std::string_view filter, std::uint64_t first_remaining) {
  for (auto& [name, c] : s.consumers) {
    // A consumer sees only messages matching its filter; when that is a subset of the
    // purge filter, everything it could see below first_remaining is gone. (nats-server
    // 2.9.10 applies this to every consumer whose filter matches the purge subject, which
    // moves an unfiltered consumer past messages a subject purge never removed.)
    if (!subject_is_subset(c.config.filter_subject, filter)) continue;
    purge_below(c.state, StreamSeq(first_remaining), delta(c));
  }
}

void OpContext::resolve_first() {
  if (!first_dirty_) return;
  first_dirty_ = false;
  if (s.st.msgs == 0) {
    s.st.first_seq = s.st.last_seq + 1;
    s.st.first_ts_ns = 0;
    return;
  }
  auto it = engine.messages(s);
  for (it->seek(keys::message(s.id, std::max(s.st.first_seq, removed_below_))); it->valid(); it->next()) {
    std::uint64_t seq = keys::message_seq(it->key());
    if (is_removed(seq)) continue;
    auto m = records::decode_message(it->value());
    if (!m) {
      engine.note_corrupt("message record");
      return;
    }
    s.st.first_seq = seq;
    s.st.first_ts_ns = m->time_ns;
    return;
  }
  engine.check(*it);
  if (engine.read_failed()) return;
  if (added_live()) {
    s.st.first_seq = added->seq;
    s.st.first_ts_ns = added->time_ns;
    return;
  }
  engine.note_corrupt("stream state (messages counted but none found)");
}

void OpContext::finalize() {
  resolve_first();
  for (auto& [subject, slot] : summaries) {
    if (slot.modified) resolve(subject, slot);
  }
  if (engine.read_failed()) return;

  if (front_removed_.size() > range_delete_threshold) {
    batch->del_range(Family::messages, keys::message(s.id, front_removed_.front()),
                     keys::message(s.id, front_removed_.back() + 1));
  } else {
    for (std::uint64_t seq : front_removed_) batch->del(Family::messages, keys::message(s.id, seq));
  }

  if (added_live()) {
    batch->put(Family::messages, keys::message(s.id, added->seq), added->value);
    batch->put(Family::subjects, keys::index(s.id, added->subject, added->seq), records::encode_index_value(added->size));
  }
  for (auto& [subject, slot] : summaries) {
    if (!slot.modified) continue;
    if (slot.exists) {
      batch->put(Family::subjects, keys::summary(s.id, subject), records::encode(slot.st));
    } else {
      batch->del(Family::subjects, keys::summary(s.id, subject));
    }
  }

  for (auto& [name, d] : deltas) {
    auto it = s.consumers.find(name);
    if (it == s.consumers.end()) continue;  // deleted by this op
    const bool whole = created_consumers.contains(name);
    if (d.empty() && !whole) continue;
    persist_consumer(*batch, s, it->second, d, whole);
    if (!whole && name != own_consumer) result.consumers_changed.push_back(name);
  }

  if (!(s.st == before_)) batch->put(Family::meta, keys::stream_state(s.id), records::encode(s.st));

  // Report removed sequences as sorted, coalesced runs.
  auto& runs = result.removed;
  if (runs.size() > 1) {
    std::sort(runs.begin(), runs.end(), [](const SeqRange& a, const SeqRange& b) { return a.first < b.first; });
    std::size_t out = 0;
    for (std::size_t i = 1; i < runs.size(); ++i) {
      if (runs[i].first.value <= runs[out].last.value + 1) {
        runs[out].last = std::max(runs[out].last, runs[i].last);
      } else {
        runs[++out] = runs[i];
      }
    }
    runs.resize(out + 1);
  }
}

// ---------------------------------------------------------------- consumers' records

void persist_consumer(KvBatch& batch, const StreamRuntime& s, const ConsumerRuntime& c, const ConsumerDelta& d,
                      bool whole) {
  // The record with the config is written when the consumer is created or changed; a
  // delivery or an ack rewrites only the small position record (it wins over the record's
  // copy when the store opens).
  if (whole || d.config) {
    batch.put(Family::consumers, keys::consumer(s.id, c.id),
              records::encode(records::ConsumerRecord{c.id, c.created_ns, c.config, c.state.delivered,
                                                      c.state.ack_floor}));
  }
  if (whole || d.record) {
    batch.put(Family::consumers, keys::consumer_position(s.id, c.id),
              records::encode(records::ConsumerPosition{c.state.delivered, c.state.ack_floor}));
  }
  if (d.cleared) {
    std::string base = keys::consumer_begin(s.id, c.id);
    for (char tag : {keys::pending_tag, keys::redelivered_tag}) {
      std::string b = base + tag;
      batch.del_range(Family::consumers, b, keys::prefix_end(b));
    }
  }
  // Each touched entry is written as the final state has it (put, then del in the same op
  // leaves a del).
  std::vector<StreamSeq> touched(d.pending_put);
  touched.insert(touched.end(), d.pending_del.begin(), d.pending_del.end());
  if (whole) {
    for (const auto& [seq, p] : c.state.pending) touched.push_back(seq);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (StreamSeq seq : touched) {
    if (auto it = c.state.pending.find(seq); it != c.state.pending.end()) {
      batch.put(Family::consumers, keys::pending(s.id, c.id, seq.value), records::encode(it->second));
    } else {
      batch.del(Family::consumers, keys::pending(s.id, c.id, seq.value));
    }
  }
  touched.assign(d.redelivered_put.begin(), d.redelivered_put.end());
  touched.insert(touched.end(), d.redelivered_del.begin(), d.redelivered_del.end());
  if (whole) {
    for (const auto& [seq, n] : c.state.redelivered) touched.push_back(seq);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (StreamSeq seq : touched) {
    if (auto it = c.state.redelivered.find(seq); it != c.state.redelivered.end()) {
      batch.put(Family::consumers, keys::redelivered(s.id, c.id, seq.value), records::encode_count(it->second));
    } else {
      batch.del(Family::consumers, keys::redelivered(s.id, c.id, seq.value));
    }
  }
}

}  // namespace forest::storage::detail
