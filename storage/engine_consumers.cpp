// Consumer ops: create (start position, max_consumers, work-queue rules), update, delete,
// and the ack-state ops (delivered, ack, nak, term) over consumer_state.cpp's pure rules.
// Also the consumer reads and needs_ack (interest / work-queue retention).

#include "storage/engine.hpp"

namespace forest::storage::detail {

namespace {

std::expected<ConsumerRuntime*, Error> find_consumer(OpContext& ctx, const std::string& name) {
  auto it = ctx.s.consumers.find(name);
  if (it == ctx.s.consumers.end()) {
    return fail(Errc::consumer_not_found, "consumer '" + name + "' not found on stream '" + ctx.s.config.name + "'");
  }
  ctx.own_consumer = name;
  return &it->second;
}

bool valid_name(std::string_view name) { return !name.empty() && name.find('\0') == std::string_view::npos; }

}  // namespace

std::uint64_t consumer_start_seq(const Engine& e, const StreamRuntime& s, const ConsumerConfig& c, UnixNanos now_ns) {
  const auto& st = s.st;
  std::uint64_t sseq = 0;
  if (!c.opt_start_seq.zero()) {
    sseq = c.opt_start_seq.value;
  } else {
    switch (c.deliver_policy) {
      case DeliverPolicy::all:
      case DeliverPolicy::by_start_sequence:
        sseq = st.first_seq;
        break;
      case DeliverPolicy::last:
        sseq = st.last_seq;
        if (!filter_is_all(c.filter_subject)) sseq = e.filtered(s, c.filter_subject, 1).last.value;
        break;
      case DeliverPolicy::last_per_subject: {
        // The lowest of the subjects' last sequences: delivery walks up from there.
        std::uint64_t lowest = 0;
        e.for_each_summary(s, c.filter_subject, [&](std::string_view, const SubjectState& ss) {
          if (lowest == 0 || ss.last.value < lowest) lowest = ss.last.value;
          return true;
        });
        sseq = lowest != 0 ? lowest : st.last_seq;
        break;
      }
      case DeliverPolicy::by_start_time:
        sseq = e.seq_from_time(s, c.opt_start_time_ns != 0 ? c.opt_start_time_ns : now_ns);
        break;
      case DeliverPolicy::new_msgs:
        sseq = st.last_seq + 1;
        break;
    }
  }
  // Clamp into the stream (selectStartingSeqNo).
  if (st.first_seq == 0) return 1;
  if (sseq < st.first_seq) return st.first_seq;
  if (sseq > st.last_seq) return st.last_seq + 1;
  return sseq;
}

std::expected<void, Error> apply_consumer_create(OpContext& ctx, const ConsumerCreateOp& op) {
  StreamRuntime& s = ctx.s;
  const ConsumerConfig& c = op.config;
  if (!valid_name(c.name)) return fail(Errc::invalid_argument, "a consumer needs a name");
  if (c.filter_subject.find('\0') != std::string::npos) {
    return fail(Errc::invalid_argument, "consumer filter with a NUL byte");
  }
  if (auto it = s.consumers.find(c.name); it != s.consumers.end()) {
    // The same config again (a retried create, a replayed log) is the existing consumer.
    if (it->second.config == c) {
      ctx.result.seq = it->second.state.delivered.stream.next();
      return {};
    }
    return fail(Errc::consumer_exists, "consumer '" + c.name + "' already exists");
  }
  if (!c.direct && s.config.max_consumers > 0) {
    std::int64_t public_count = 0;
    for (const auto& [name, other] : s.consumers) public_count += other.config.direct ? 0 : 1;
    if (public_count >= s.config.max_consumers) return fail(Errc::max_consumers, "maximum consumers limit reached");
  }
  if (s.config.retention == Retention::workqueue && !c.direct) {
    if (c.ack_policy != AckPolicy::explicit_ack) {
      return fail(Errc::wq_requires_explicit_ack, "workqueue stream requires explicit ack");
    }
    if (!s.consumers.empty()) {
      if (c.filter_subject.empty()) {
        return fail(Errc::wq_multiple_unfiltered, "multiple non-filtered consumers not allowed on workqueue stream");
      }
      // partitionUnique: no other filter may contain this one or be contained by it.
      for (const auto& [name, other] : s.consumers) {
        const std::string& f = other.config.filter_subject;
        if (f.empty() || subject_is_subset(c.filter_subject, f) || subject_is_subset(f, c.filter_subject)) {
          return fail(Errc::wq_not_unique, "filtered consumer not unique on workqueue stream");
        }
      }
    }
    if (c.deliver_policy != DeliverPolicy::all) {
      return fail(Errc::wq_not_deliver_all, "consumer must be deliver all on workqueue stream");
    }
  }

  const std::uint64_t start = consumer_start_seq(ctx.engine, s, c, op.time_ns);
  if (ctx.engine.read_failed()) return {};
  ConsumerRuntime rt;
  rt.id = s.st.next_consumer_id++;
  rt.created_ns = op.time_ns;
  rt.config = c;
  // Nothing below the start is this consumer's business: delivered sits at start-1
  // (nats-server's SetStarting). The ack floor stays at 0 until the first ack, except with
  // ack policy none, where delivery is acknowledgement (as nats-server's consumer store).
  rt.state.delivered = SequencePair{ConsumerSeq(0), StreamSeq(start - 1)};
  if (c.ack_policy == AckPolicy::none) rt.state.ack_floor = rt.state.delivered;
  auto [pos, inserted] = s.consumers.emplace(c.name, std::move(rt));
  ctx.own_consumer = c.name;
  ctx.created_consumers.insert(c.name);
  (void)ctx.delta(pos->second);
  ctx.result.seq = StreamSeq(start);
  return {};
}

std::expected<void, Error> apply_consumer_update(OpContext& ctx, const ConsumerUpdateOp& op) {
  auto c = find_consumer(ctx, op.config.name);
  if (!c) return std::unexpected(c.error());
  if (op.config.filter_subject.find('\0') != std::string::npos) {
    return fail(Errc::invalid_argument, "consumer filter with a NUL byte");
  }
  (*c)->config = op.config;
  ctx.delta(**c).config = true;
  return {};
}

std::expected<void, Error> apply_consumer_delete(OpContext& ctx, const ConsumerDeleteOp& op) {
  auto c = find_consumer(ctx, op.name);
  if (!c) return std::unexpected(c.error());
  const std::uint64_t cid = (*c)->id;
  ctx.batch->del_range(Family::consumers, keys::consumer_begin(ctx.s.id, cid), keys::consumer_end(ctx.s.id, cid));
  ctx.deltas.erase(op.name);
  ctx.s.consumers.erase(op.name);
  return {};
}

std::expected<void, Error> apply_consumer_delivered(OpContext& ctx, const ConsumerDeliveredOp& op) {
  auto c = find_consumer(ctx, op.consumer);
  if (!c) return std::unexpected(c.error());
  if (op.dseq.zero() || op.sseq.zero() || op.deliveries == 0) {
    return fail(Errc::invalid_argument, "a delivery needs consumer and stream sequences and a count");
  }
  ConsumerDelta d;
  if (auto r = record_delivered((*c)->state, (*c)->config.ack_policy, op.dseq, op.sseq, op.deliveries, op.time_ns, d);
      !r) {
    return r;
  }
  ctx.deltas[op.consumer] = std::move(d);
  return {};
}

std::expected<void, Error> apply_consumer_ack(OpContext& ctx, const ConsumerAckOp& op) {
  auto c = find_consumer(ctx, op.consumer);
  if (!c) return std::unexpected(c.error());
  ConsumerDelta d;
  if (auto r = record_ack((*c)->state, (*c)->config.ack_policy, op.dseq, op.sseq, d); !r) return r;
  ctx.deltas[op.consumer] = std::move(d);
  return {};
}

std::expected<void, Error> apply_consumer_nak(OpContext& ctx, const ConsumerNakOp& op) {
  auto c = find_consumer(ctx, op.consumer);
  if (!c) return std::unexpected(c.error());
  if ((*c)->config.ack_policy == AckPolicy::none) {
    return fail(Errc::no_ack_policy, "nak on a consumer with ack policy none");
  }
  auto it = (*c)->state.pending.find(op.sseq);
  if (it == (*c)->state.pending.end()) {
    return fail(Errc::message_not_found, "sequence " + std::to_string(op.sseq.value) + " is not pending");
  }
  it->second.timestamp_ns = op.timestamp_ns;
  ctx.delta(**c).pending_put.push_back(op.sseq);
  return {};
}

std::expected<void, Error> apply_consumer_term(OpContext& ctx, const ConsumerTermOp& op) {
  auto c = find_consumer(ctx, op.consumer);
  if (!c) return std::unexpected(c.error());
  if ((*c)->config.ack_policy == AckPolicy::none) {
    return fail(Errc::no_ack_policy, "term on a consumer with ack policy none");
  }
  if (!(*c)->state.pending.contains(op.sseq)) {
    return fail(Errc::message_not_found, "sequence " + std::to_string(op.sseq.value) + " is not pending");
  }
  (void)drop_pending((*c)->state, op.sseq, ctx.delta(**c));
  return {};
}

// ---------------------------------------------------------------- reads

std::expected<std::vector<std::string>, Error> Engine::consumer_names(std::string_view stream) const {
  auto s = find(stream);
  if (!s) return std::unexpected(s.error());
  std::vector<std::string> out;
  out.reserve((*s)->consumers.size());
  for (const auto& [name, c] : (*s)->consumers) out.push_back(name);
  return out;
}

std::expected<ConsumerInfo, Error> Engine::consumer_info(std::string_view stream, std::string_view consumer) const {
  auto s = find(stream);
  if (!s) return std::unexpected(s.error());
  auto it = (*s)->consumers.find(consumer);
  if (it == (*s)->consumers.end()) {
    return fail(Errc::consumer_not_found, "consumer '" + std::string(consumer) + "' not found");
  }
  return ConsumerInfo{it->second.config, it->second.created_ns, it->second.state};
}

std::expected<bool, Error> Engine::needs_ack(std::string_view stream, StreamSeq seq,
                                             std::string_view except_consumer) const {
  auto found = find(stream);
  if (!found) return std::unexpected(found.error());
  const StreamRuntime& s = **found;
  if (seq.zero() || seq.value > s.st.last_seq || seq.value < s.st.first_seq || s.st.msgs == 0) {
    return fail(Errc::message_not_found, "no message found");
  }
  std::optional<std::string> subject;  // read once, only when some consumer filters
  for (const auto& [name, c] : s.consumers) {
    if (name == except_consumer) continue;
    if (!filter_is_all(c.config.filter_subject)) {
      if (!subject) {
        auto m = read_message(s, seq.value);
        if (auto r = take_read_error(); !r) return std::unexpected(r.error());
        if (!m) return fail(Errc::message_not_found, "no message found");
        subject = std::move(m->subject);
      }
      if (!subject_matches(*subject, c.config.filter_subject)) continue;
    }
    const ConsumerState& st = c.state;
    if (seq <= st.ack_floor.stream) continue;
    if (c.config.ack_policy != AckPolicy::explicit_ack) return true;
    if (seq > st.delivered.stream || st.pending.contains(seq)) return true;
  }
  return false;
}

}  // namespace forest::storage::detail
