#include "storage/consumer_state.hpp"

namespace forest::storage {

namespace {

// The explicit-ack floor walk: after removing sseq (delivered as dseq) from pending.
void advance_floor(ConsumerState& s, ConsumerSeq dseq, StreamSeq sseq, ConsumerDelta& delta) {
  if (s.pending.empty()) {
    if (s.ack_floor != s.delivered) {
      s.ack_floor = s.delivered;
      delta.record = true;
    }
    return;
  }
  if (dseq.value != s.ack_floor.consumer.value + 1) return;  // acked above a hole: floor stays
  s.ack_floor = SequencePair{dseq, sseq};
  delta.record = true;
  if (s.delivered.consumer > dseq) {
    // The next pending message bounds the floor from above.
    auto next = s.pending.upper_bound(sseq);
    if (next != s.pending.end() && next->first <= s.delivered.stream && !next->second.sequence.zero()) {
      s.ack_floor = SequencePair{next->second.sequence.prev(), next->first.prev()};
    }
  }
}

void erase_redelivered(ConsumerState& s, StreamSeq sseq, ConsumerDelta& delta) {
  if (s.redelivered.erase(sseq) > 0) delta.redelivered_del.push_back(sseq);
}

}  // namespace

std::expected<void, Error> record_delivered(ConsumerState& s, AckPolicy policy, ConsumerSeq dseq, StreamSeq sseq,
                                            std::uint64_t deliveries, UnixNanos time_ns, ConsumerDelta& delta) {
  if (deliveries != 1 && policy == AckPolicy::none) {
    return fail(Errc::no_ack_policy, "redelivery on a consumer with ack policy none");
  }
  // A replay of an old delivery (a Raft log replayed after a restart): nothing to do.
  if (dseq <= s.ack_floor.consumer) return {};

  if (policy == AckPolicy::none) {
    s.delivered = SequencePair{dseq, sseq};
    s.ack_floor = s.delivered;
    delta.record = true;
    return {};
  }
  if (sseq <= s.delivered.stream) {
    // A redelivery: only a message still pending is updated.
    if (auto it = s.pending.find(sseq); it != s.pending.end()) {
      it->second = PendingAck{dseq, time_ns};
      delta.pending_put.push_back(sseq);
    }
  } else {
    s.pending[sseq] = PendingAck{dseq, time_ns};
    delta.pending_put.push_back(sseq);
  }
  if (dseq > s.delivered.consumer) {
    s.delivered.consumer = dseq;
    delta.record = true;
  }
  if (sseq > s.delivered.stream) {
    s.delivered.stream = sseq;
    delta.record = true;
  }
  if (deliveries > 1) {
    s.redelivered[sseq] = deliveries - 1;
    delta.redelivered_put.push_back(sseq);
  }
  return {};
}

std::expected<void, Error> record_ack(ConsumerState& s, AckPolicy policy, ConsumerSeq dseq, StreamSeq sseq,
                                      ConsumerDelta& delta) {
  if (policy == AckPolicy::none) return fail(Errc::no_ack_policy, "ack on a consumer with ack policy none");
  auto it = s.pending.find(sseq);
  if (it == s.pending.end()) {
    return fail(Errc::message_not_found, "sequence " + std::to_string(sseq.value) + " is not pending");
  }
  if (dseq <= s.ack_floor.consumer) return {};  // an old ack replayed

  if (policy == AckPolicy::all) {
    // Everything up to sseq is acknowledged.
    StreamSeq old_floor = s.ack_floor.stream;
    s.ack_floor = SequencePair{dseq, sseq};
    delta.record = true;
    if (sseq > old_floor) {
      // Entry by entry rather than a range deletion: each was written by one delivery, and
      // a range tombstone per ack would slow every later read of the consumer family.
      for (auto p = s.pending.upper_bound(old_floor); p != s.pending.end() && p->first <= sseq;) {
        delta.pending_del.push_back(p->first);
        p = s.pending.erase(p);
      }
      for (auto r = s.redelivered.upper_bound(old_floor); r != s.redelivered.end() && r->first <= sseq;) {
        delta.redelivered_del.push_back(r->first);
        r = s.redelivered.erase(r);
      }
    }
    return {};
  }

  ConsumerSeq original = it->second.sequence;  // the floor walk uses the delivery's own seq
  s.pending.erase(it);
  delta.pending_del.push_back(sseq);
  erase_redelivered(s, sseq, delta);
  advance_floor(s, original, sseq, delta);
  return {};
}

bool drop_pending(ConsumerState& s, StreamSeq sseq, ConsumerDelta& delta) {
  auto it = s.pending.find(sseq);
  if (it == s.pending.end()) return false;
  ConsumerSeq original = it->second.sequence;
  s.pending.erase(it);
  delta.pending_del.push_back(sseq);
  erase_redelivered(s, sseq, delta);
  if (original > s.ack_floor.consumer) advance_floor(s, original, sseq, delta);
  return true;
}

void purge_below(ConsumerState& s, StreamSeq first, ConsumerDelta& delta) {
  if (first.zero()) return;
  StreamSeq below = first.prev();
  for (auto it = s.pending.begin(); it != s.pending.end() && it->first < first;) {
    delta.pending_del.push_back(it->first);
    it = s.pending.erase(it);
  }
  for (auto it = s.redelivered.begin(); it != s.redelivered.end() && it->first < first;) {
    delta.redelivered_del.push_back(it->first);
    it = s.redelivered.erase(it);
  }
  if (s.delivered.stream < below) {
    s.delivered.stream = below;
    delta.record = true;
  }
  if (s.pending.empty()) {
    if (s.ack_floor != s.delivered) {
      s.ack_floor = s.delivered;
      delta.record = true;
    }
  } else if (s.ack_floor.stream < below) {
    s.ack_floor = SequencePair{s.pending.begin()->second.sequence.prev(), below};
    delta.record = true;
  }
}

void clear_pending(ConsumerState& s, ConsumerDelta& delta) {
  if (s.pending.empty() && s.redelivered.empty()) return;
  s.pending.clear();
  s.redelivered.clear();
  delta.cleared = true;
  if (s.ack_floor != s.delivered) {
    s.ack_floor = s.delivered;
    delta.record = true;
  }
}

}  // namespace forest::storage
