// Acks on $JS.ACK.<stream>.<consumer>.<deliveries>.<sseq>.<dseq>.<ts>.<pending>: +ACK, -NAK
// (with a delay), +WPI, +NXT, +TERM, the ack-of-ack reply (AckSync: sent once the ack is
// applied to the store), the advisories, and interest / work-queue retention (nats-server
// 2.9.10's processAck, processAckMsg, processNak, processTerm, progressUpdate).
#include <charconv>
#include <random>

#include "../json_writer.hpp"
#include "../server.hpp"
#include "../time_text.hpp"
#include "consumer_wire.hpp"
#include "service.hpp"
#include "storage/consumer_state.hpp"

namespace forest::broker::js {
namespace {

// Advisory ids: 22 characters as nats-server's nuid.
std::string event_id() { return random_token("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 22); }

// sample_freq "N" or "N%" (checked at create): nats-server samples an ack when
// rand.Int31n(100) <= N, so every ack from 100 on and none at 0.
bool should_sample(std::string_view freq) {
  if (freq.empty()) return false;
  if (freq.back() == '%') freq.remove_suffix(1);
  int n = 0;
  auto [p, ec] = std::from_chars(freq.data(), freq.data() + freq.size(), n);
  if (ec != std::errc() || p != freq.data() + freq.size() || n <= 0) return false;
  if (n >= 100) return true;
  static thread_local std::minstd_rand rng{std::random_device{}()};
  return std::uniform_int_distribution<int>(0, 99)(rng) <= n;
}

}  // namespace

void JetStreamService::on_ack(const std::string& stream, const std::string& name, const InternalMessage& m) {
  if (!running_) return;  // from a route too: the receiver may be on another node
  Stream* s = find(stream);
  if (s == nullptr) return;
  auto it = s->consumers.find(name);
  if (it == s->consumers.end()) return;
  Consumer& c = *it->second;
  const auto info = parse_ack_subject(m.subject);
  const AckBody body = parse_ack_body(m.body());
  bool reply = !m.reply.empty() && info.has_value();
  if (info) {
    const storage::StreamSeq sseq(info->sseq);
    const storage::ConsumerSeq dseq(info->dseq);
    switch (body.kind) {
      case AckKind::ack: ack_message(*s, c, dseq, sseq, false, info->deliveries); break;
      case AckKind::term:
        if (c.state.pending.contains(sseq)) {
          ack_message(*s, c, dseq, sseq, true);
          consumer_advisory(*s, c, "io.nats.jetstream.advisory.v1.terminated", "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED",
                            dseq.value, sseq.value, info->deliveries);
        }
        break;
      case AckKind::next:
        ack_message(*s, c, dseq, sseq, false, info->deliveries);
        reply = false;
        if (!m.reply.empty()) add_pull_request(*s, c, m.reply, body.next_request);
        break;
      case AckKind::progress:
        if (auto p = c.state.pending.find(sseq); p != c.state.pending.end()) {
          p->second.timestamp_ns = now_ns();
          queue_op(*s, storage::ConsumerNakOp{c.name, sseq, p->second.timestamp_ns});
          if (c.redeliver_set.erase(sseq) > 0) std::erase(c.redeliver, sseq);
        }
        break;
      case AckKind::nak: nak_message(*s, c, dseq, sseq, info->deliveries, body); break;
      case AckKind::unknown: break;
    }
  }
  if (reply) ack_replies_.push_back(m.reply);
}

void JetStreamService::nak_message(Stream& s, Consumer& c, storage::ConsumerSeq dseq, storage::StreamSeq sseq,
                                   uint64_t deliveries, const AckBody& body) {
  if (dseq <= c.state.ack_floor.consumer || dseq > c.state.delivered.consumer) return;
  auto p = c.state.pending.find(sseq);
  if (c.acks() && p == c.state.pending.end()) return;
  consumer_advisory(s, c, "io.nats.jetstream.advisory.v1.nak", "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED", dseq.value,
                    sseq.value, deliveries);
  if (body.bad_nak_delay) {
    server_.log().warn("JetStream consumer '$G > {} > {}' bad NAK delay value", s.config.name, c.name);
  }
  if (body.nak_delay_ns && p != c.state.pending.end()) {
    // Redelivered when the delay has passed: the pending time moves so that its ack wait ends then.
    const int64_t ack_wait = c.config.ack_wait_ns > 0 ? c.config.ack_wait_ns : kDefaultAckWaitNs;
    const int64_t now = now_ns();
    p->second.timestamp_ns = sat_add(sat_add(now, -ack_wait), *body.nak_delay_ns);
    queue_op(s, storage::ConsumerNakOp{c.name, sseq, p->second.timestamp_ns});
    if (c.redeliver_set.erase(sseq) > 0) std::erase(c.redeliver, sseq);
    const int64_t due = sat_add(now, std::max<int64_t>(0, *body.nak_delay_ns));
    if (c.next_ack_check_ns == 0 || due < c.next_ack_check_ns) c.next_ack_check_ns = due;
    schedule_consumer_timer(due);
    return;
  }
  if (c.redeliver_set.insert(sseq).second) c.redeliver.push_back(sseq);
  c.dirty = true;
}

void JetStreamService::ack_message(Stream& s, Consumer& c, storage::ConsumerSeq dseq, storage::StreamSeq sseq, bool term,
                                   uint64_t deliveries) {
  if (!c.acks()) return;
  const storage::AckPolicy policy = c.store_ack_policy();
  if (policy == storage::AckPolicy::explicit_ack) {
    // The consumer sequence of the latest delivery, whichever delivery's reply was acked.
    auto p = c.state.pending.find(sseq);
    if (p == c.state.pending.end()) return;
    // The dseq of the acked reply, as nats-server reports it in the metric.
    if (!term && should_sample(c.config.sample_freq)) {
      ack_metric(s, c, dseq.value, sseq.value, now_ns() - p->second.timestamp_ns, deliveries);
    }
    dseq = p->second.sequence;
  } else if (dseq <= c.state.ack_floor.consumer || sseq <= c.state.ack_floor.stream) {
    return;
  }
  const bool was_full =
      c.config.max_ack_pending > 0 && static_cast<int64_t>(c.state.pending.size()) >= c.config.max_ack_pending;
  storage::ConsumerDelta d;
  if (!storage::record_ack(c.state, policy, dseq, sseq, d)) return;
  if (term) {
    queue_op(s, storage::ConsumerTermOp{c.name, dseq, sseq});
  } else {
    queue_op(s, storage::ConsumerAckOp{c.name, dseq, sseq});
  }
  c.last_ack_ns = now_ns();
  for (storage::StreamSeq gone : d.pending_del) {
    if (c.redeliver_set.erase(gone) > 0) std::erase(c.redeliver, gone);
    if (s.config.retention != Retention::limits) retention_checks_.emplace_back(s.config.name, gone);
  }
  if (policy == storage::AckPolicy::all && s.config.retention != Retention::limits && d.pending_del.empty()) {
    retention_checks_.emplace_back(s.config.name, sseq);
  }
  if (was_full) c.dirty = true;
}

void JetStreamService::retention_check(Stream& s, storage::StreamSeq seq) {
  if (s.config.retention == Retention::limits) return;
  auto needed = s.store->needs_ack(s.config.name, seq);
  if (needed && !*needed) {
    storage::DeleteMsgOp op;
    op.seq = seq;
    op.reason = storage::DeleteReason::retention;
    queue_op(s, op);
  }
}

void JetStreamService::notify_max_deliveries(Stream& s, Consumer& c, storage::StreamSeq seq, uint64_t deliveries) {
  JsonWriter w;
  w.begin_object().field("type", "io.nats.jetstream.advisory.v1.max_deliver").field("id", event_id());
  w.field("timestamp", rfc3339_from_unix_ns(now_ns())).field("stream", s.config.name).field("consumer", c.name);
  w.field("stream_seq", seq.value).field("deliveries", deliveries);
  if (!domain_.empty()) w.field("domain", domain_);
  w.end_object();
  client_->publish(*account_, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + s.config.name + "." + c.name, "", w.str());
}

void JetStreamService::consumer_advisory(Stream& s, Consumer& c, std::string_view type, std::string_view prefix,
                                         uint64_t dseq, uint64_t sseq, uint64_t deliveries) {
  JsonWriter w;
  w.begin_object().field("type", type).field("id", event_id());
  w.field("timestamp", rfc3339_from_unix_ns(now_ns())).field("stream", s.config.name).field("consumer", c.name);
  w.field("consumer_seq", dseq).field("stream_seq", sseq).field("deliveries", deliveries);
  if (!domain_.empty()) w.field("domain", domain_);
  w.end_object();
  client_->publish(*account_, std::string(prefix) + "." + s.config.name + "." + c.name, "", w.str());
}

void JetStreamService::ack_metric(Stream& s, Consumer& c, uint64_t dseq, uint64_t sseq, int64_t ack_time_ns,
                                  uint64_t deliveries) {
  // nats-server's JSConsumerAckMetric on $JS.EVENT.METRIC.CONSUMER.ACK.<stream>.<consumer>.
  JsonWriter w;
  w.begin_object().field("type", "io.nats.jetstream.metric.v1.consumer_ack").field("id", event_id());
  w.field("timestamp", rfc3339_from_unix_ns(now_ns())).field("stream", s.config.name).field("consumer", c.name);
  w.field("consumer_seq", dseq).field("stream_seq", sseq).field("ack_time", ack_time_ns).field("deliveries", deliveries);
  if (!domain_.empty()) w.field("domain", domain_);
  w.end_object();
  client_->publish(*account_, "$JS.EVENT.METRIC.CONSUMER.ACK." + s.config.name + "." + c.name, "", w.str());
}

void JetStreamService::action_advisory(std::string_view stream, std::string_view consumer, std::string_view action) {
  // nats-server's JSStreamActionAdvisory / JSConsumerActionAdvisory on
  // $JS.EVENT.ADVISORY.{STREAM,CONSUMER}.{CREATED,UPDATED,DELETED}.<stream>[.<consumer>].
  const std::string_view verb = action == "create" ? "CREATED" : action == "delete" ? "DELETED" : "UPDATED";
  JsonWriter w;
  w.begin_object();
  w.field("type", consumer.empty() ? "io.nats.jetstream.advisory.v1.stream_action" : "io.nats.jetstream.advisory.v1.consumer_action");
  w.field("id", event_id()).field("timestamp", rfc3339_from_unix_ns(now_ns())).field("stream", stream);
  if (!consumer.empty()) w.field("consumer", consumer);
  w.field("action", action);
  if (!domain_.empty()) w.field("domain", domain_);
  w.end_object();
  std::string subject = consumer.empty() ? "$JS.EVENT.ADVISORY.STREAM." : "$JS.EVENT.ADVISORY.CONSUMER.";
  subject.append(verb).append(".").append(stream);
  if (!consumer.empty()) subject.append(".").append(consumer);
  client_->publish(*account_, subject, "", w.str());
}

}  // namespace forest::broker::js
