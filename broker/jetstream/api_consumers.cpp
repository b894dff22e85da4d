// CONSUMER.CREATE (both subject forms), CONSUMER.DURABLE.CREATE, INFO, DELETE, NAMES and LIST
// as nats-server 2.9.10 answers them on a single server (jsConsumer*Request in
// jetstream_api.go; addConsumerWithAssignment, updateConfig and info in consumer.go).
#include "../json_writer.hpp"
#include "../server.hpp"
#include "api_request.hpp"
#include "service.hpp"
#include "stream_json.hpp"

namespace forest::broker::js {
namespace {

constexpr std::string_view kCreateType = "io.nats.jetstream.api.v1.consumer_create_response";
constexpr std::string_view kInfoType = "io.nats.jetstream.api.v1.consumer_info_response";
constexpr std::string_view kDeleteType = "io.nats.jetstream.api.v1.consumer_delete_response";
constexpr std::string_view kNamesType = "io.nats.jetstream.api.v1.consumer_names_response";
constexpr std::string_view kListType = "io.nats.jetstream.api.v1.consumer_list_response";
constexpr int64_t kNamesLimit = 1024;  // JSApiNamesLimit
constexpr int64_t kListLimit = 256;    // JSApiListLimit

// nats-server names an ephemeral consumer with 8 characters of a hash of a random id.
std::string ephemeral_name() { return random_token("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 8); }

storage::ConsumerConfig to_store_config(const ConsumerConfig& c, const std::string& name) {
  storage::ConsumerConfig s;
  s.name = name;
  s.durable = c.durable();
  s.direct = c.direct;
  s.ack_policy = c.ack_policy == AckPolicy::none  ? storage::AckPolicy::none
                 : c.ack_policy == AckPolicy::all ? storage::AckPolicy::all
                                                  : storage::AckPolicy::explicit_ack;
  switch (c.deliver_policy) {
    case DeliverPolicy::all: s.deliver_policy = storage::DeliverPolicy::all; break;
    case DeliverPolicy::last: s.deliver_policy = storage::DeliverPolicy::last; break;
    case DeliverPolicy::new_msgs: s.deliver_policy = storage::DeliverPolicy::new_msgs; break;
    case DeliverPolicy::by_start_sequence: s.deliver_policy = storage::DeliverPolicy::by_start_sequence; break;
    case DeliverPolicy::by_start_time: s.deliver_policy = storage::DeliverPolicy::by_start_time; break;
    case DeliverPolicy::last_per_subject: s.deliver_policy = storage::DeliverPolicy::last_per_subject; break;
  }
  s.opt_start_seq = storage::StreamSeq(c.opt_start_seq);
  if (c.opt_start_time) s.opt_start_time_ns = c.opt_start_time->unix_ns;
  s.filter_subject = c.filter_subject;
  JsonWriter w;
  write_consumer_config(w, c);
  s.api_json = w.take();
  return s;
}

// The create errors the store decides, in nats-server's words.
ApiError store_refusal(const storage::Error& e) {
  using storage::Errc;
  switch (e.code) {
    case Errc::max_consumers: return api_error(JsErr::JSMaximumConsumersLimitErr);
    case Errc::wq_requires_explicit_ack: return api_error(JsErr::JSConsumerWQRequiresExplicitAckErr);
    case Errc::wq_multiple_unfiltered: return api_error(JsErr::JSConsumerWQMultipleUnfilteredErr);
    case Errc::wq_not_unique: return api_error(JsErr::JSConsumerWQConsumerNotUniqueErr);
    case Errc::wq_not_deliver_all: return api_error(JsErr::JSConsumerWQConsumerNotDeliverAllErr);
    default: return api_error(JsErr::JSConsumerCreateErrF, {{"err", e.text}});
  }
}

// checkNewConsumerConfig: what an existing consumer lets a create change. Empty = allowed.
std::string update_refusal(const ConsumerConfig& cur, const ConsumerConfig& next, bool deliver_has_interest) {
  if (cur == next) return {};
  if (cur.deliver_policy != next.deliver_policy) return "deliver policy can not be updated";
  if (cur.opt_start_seq != next.opt_start_seq) return "start sequence can not be updated";
  if (cur.opt_start_time != next.opt_start_time) return "start time can not be updated";
  if (cur.ack_policy != next.ack_policy) return "ack policy can not be updated";
  if (cur.replay_policy != next.replay_policy) return "replay policy can not be updated";
  if (cur.idle_heartbeat_ns != next.idle_heartbeat_ns) return "heart beats can not be updated";
  if (cur.flow_control != next.flow_control) return "flow control can not be updated";
  if (cur.max_waiting != next.max_waiting) return "max waiting can not be updated";
  if (cur.deliver_subject != next.deliver_subject) {
    if (cur.deliver_subject.empty()) return "can not update pull consumer to push based";
    if (next.deliver_subject.empty()) return "can not update push consumer to pull based";
    if (deliver_has_interest) return "\x01";  // JSConsumerNameExistErr
  }
  // nats-server words this one as an API error of its own (checked by the caller).
  if (!next.backoff_ns.empty() && next.max_deliver <= static_cast<int64_t>(next.backoff_ns.size())) return "\x02";
  return {};
}

}  // namespace

void JetStreamService::consumer_create(const InternalMessage& m) {
  auto fail = [&](const ApiError& e) { reply_err(m, error_json(kCreateType, e)); };
  auto subject = parse_consumer_create_subject(m.subject);
  if (!subject) return;  // too few tokens: nats-server drops it
  auto req = parse_consumer_create(m.body());
  if (!req) return fail(req.error());
  if (auto r = check_consumer_request(*subject, *req); !r) return fail(r.error());
  Stream* s = find(req->stream_name);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  auto checked = check_consumer_config(req->config, s->config);
  if (!checked) return fail(checked.error());
  ConsumerConfig config = std::move(*checked);
  // Ephemerals always have an inactivity threshold (nats-server's default, 5 s).
  if (!config.durable() && config.inactive_threshold_ns <= 0) config.inactive_threshold_ns = kDefaultInactiveThresholdNs;

  std::string name = config.durable() ? config.durable_name : config.name;
  if (!name.empty()) {
    if (auto it = s->consumers.find(name); it != s->consumers.end()) {
      Consumer& c = *it->second;
      const std::string why = update_refusal(c.config, config, !c.config.deliver_subject.empty() && has_interest(c.config.deliver_subject));
      if (why == "\x01") return fail(api_error(JsErr::JSConsumerNameExistErr));
      if (why == "\x02") return fail(api_error(JsErr::JSConsumerMaxDeliverBackoffErr));
      if (!why.empty()) return fail(api_error(JsErr::JSConsumerCreateErrF, {{"err", why}}));
      if (c.config != config) {
        auto r = s->store->apply(storage::Op{s->config.name, storage::ConsumerUpdateOp{to_store_config(config, name)}});
        if (!r) return fail(api_error(JsErr::JSConsumerCreateErrF, {{"err", r.error().text}}));
        const bool new_deliver = c.config.deliver_subject != config.deliver_subject;
        c.config = std::move(config);
        if (new_deliver) c.active = has_interest(c.config.deliver_subject);
        c.dirty = true;
      }
      JsonWriter w;
      w.begin_object().field("type", kCreateType);
      write_consumer_info(w, *s, c);
      w.end_object();
      reply_ok(m, w.take());
      deliver_dirty();
      return;
    }
  } else {
    // The generated name is not written into the config (nats-server copies the config
    // before naming the consumer).
    do {
      name = ephemeral_name();
    } while (s->consumers.contains(name));
  }
  if (name.size() > 255) return fail(api_error(JsErr::JSConsumerNameTooLongErrF, {{"max", "255"}}));

  const int64_t now = now_ns();
  auto r = s->store->apply(storage::Op{s->config.name, storage::ConsumerCreateOp{to_store_config(config, name), now}});
  if (!r) return fail(store_refusal(r.error()));
  auto c = std::make_unique<Consumer>();
  c->stream = s->config.name;
  c->name = name;
  c->config = std::move(config);
  c->created_ns = now;
  c->cursor = r->seq;
  c->state.delivered = storage::SequencePair{storage::ConsumerSeq(0), r->seq.prev()};
  if (!c->acks()) c->state.ack_floor = c->state.delivered;  // as the store's create
  if (c->config.deliver_policy == DeliverPolicy::last_per_subject) {
    // The subjects' last messages, in stream order, then everything after the newest.
    auto subjects = s->store->subjects_state(s->config.name, c->config.filter_subject);
    if (subjects && !subjects->empty()) {
      std::vector<storage::StreamSeq> lasts;
      for (const auto& [subj, ss] : *subjects) lasts.push_back(ss.last);
      std::sort(lasts.begin(), lasts.end());
      c->skip.assign(lasts.begin(), lasts.end());
      c->skip_resume = lasts.back().next();
    }
  }
  Consumer& ref = *c;
  s->consumers.emplace(name, std::move(c));
  start_consumer(*s, ref);
  JsonWriter w;
  w.begin_object().field("type", kCreateType);
  write_consumer_info(w, *s, ref);
  w.end_object();
  reply_ok(m, w.take());
  action_advisory(s->config.name, name, "create");
  deliver_dirty();
}

void JetStreamService::start_consumer(Stream& s, Consumer& c) {
  const std::string stream = s.config.name, name = c.name;
  // Acks and flow-control replies are announced to routes: a push consumer delivers to
  // subscribers on other nodes too, and their acks come back over the route.
  c.ack_sub = client_->subscribe(*account_, "$JS.ACK." + stream + "." + name + ".>", "",
                                 [this, stream, name](const InternalMessage& m) { on_ack(stream, name, m); });
  if (c.config.flow_control) {
    // JsFlowControlMaxPending, with the slow start of setMaxPendingBytes.
    c.fc_limit = int64_t{32} * 1024 * 1024;
    c.fc_window = c.fc_limit / 16;
    c.fc_sub = client_->subscribe(*account_, "$JS.FC." + stream + "." + name + ".*", "",
                                  [this, stream, name](const InternalMessage& m) { on_flow_control(stream, name, m); });
  }
  const int64_t now = now_ns();
  c.last_activity_ns = now;
  if (c.config.replay_policy == ReplayPolicy::original) {
    if (auto st = s.store->stream_state(s.config.name)) c.replay_until = st->last_seq;
  }
  if (!c.pull()) {
    c.active = has_interest(c.config.deliver_subject);
    if (c.config.idle_heartbeat_ns > 0) c.next_heartbeat_ns = sat_add(now, c.config.idle_heartbeat_ns);
  }
  c.dirty = true;
  // The timer looks after heartbeats, inactivity, redeliveries and push interest.
  schedule_consumer_timer(now + 1'000'000);
}

std::expected<void, std::string> JetStreamService::load_consumers(Stream& s) {
  auto names = s.store->consumer_names(s.config.name);
  if (!names) return std::unexpected("JetStream: stream '" + s.config.name + "': consumers: " + names.error().text);
  for (const std::string& name : *names) {
    auto info = s.store->consumer_info(s.config.name, name);
    if (!info) return std::unexpected("JetStream: consumer '" + s.config.name + " > " + name + "': " + info.error().text);
    auto config = parse_consumer_config(info->config.api_json);
    if (!config) {
      return std::unexpected("JetStream: consumer '" + s.config.name + " > " + name +
                             "' has a config that does not parse: " + config.error().description);
    }
    auto c = std::make_unique<Consumer>();
    c->stream = s.config.name;
    c->name = name;
    c->config = std::move(*config);
    c->created_ns = info->created_ns;
    c->state = std::move(info->state);
    c->cursor = c->state.delivered.stream.next();
    // What was pending before the restart is due for redelivery at its ack wait, as
    // nats-server's checkPending after recovery.
    Consumer& ref = *c;
    s.consumers.emplace(name, std::move(c));
    start_consumer(s, ref);
  }
  // Interest and work-queue streams: a crash between an ack and the removal it allows leaves
  // a message nobody needs; the first commit removes what lies below every consumer's floor.
  if (s.config.retention != Retention::limits && !s.consumers.empty()) {
    auto st = s.store->stream_state(s.config.name);
    storage::StreamSeq top;
    for (const auto& [name, c] : s.consumers) top = std::max(top, c->state.ack_floor.stream);
    if (st && st->msgs > 0) {
      for (uint64_t seq = st->first_seq.value; seq <= std::min(top.value, st->last_seq.value); ++seq) {
        retention_checks_.emplace_back(s.config.name, storage::StreamSeq(seq));
      }
    }
  }
  return {};
}

void JetStreamService::remove_consumer(Stream& s, const std::string& name, bool delete_in_store) {
  auto it = s.consumers.find(name);
  if (it == s.consumers.end()) return;
  Consumer& c = *it->second;
  c.deleted = true;
  if (c.ack_sub) client_->unsubscribe(*account_, c.ack_sub);
  if (c.fc_sub) client_->unsubscribe(*account_, c.fc_sub);
  // Waiting pull requests learn that the consumer is gone (nats-server's 409 Consumer Deleted).
  for (const PullRequest& r : c.waiting) {
    const std::string h = status_headers(409, "Consumer Deleted");
    client_->publish(*account_, r.reply, "", h, static_cast<int64_t>(h.size()));
  }
  const storage::StreamSeq floor = c.state.ack_floor.stream;
  s.consumers.erase(it);
  action_advisory(s.config.name, name, "delete");
  if (!delete_in_store) return;
  commit();  // what is queued for this consumer goes first (and fails harmlessly after)
  auto r = s.store->apply(storage::Op{s.config.name, storage::ConsumerDeleteOp{name}});
  if (!r) server_.log().warn("JetStream: deleting consumer '{} > {}': {}", s.config.name, name, r.error().text);
  // Interest and work-queue streams drop what no remaining consumer needs.
  if (s.config.retention != Retention::limits) {
    auto st = s.store->stream_state(s.config.name);
    if (st) {
      for (uint64_t seq = std::max(floor.value + 1, st->first_seq.value); seq <= st->last_seq.value; ++seq) {
        retention_checks_.emplace_back(s.config.name, storage::StreamSeq(seq));
      }
      commit();
    }
  }
}

void JetStreamService::remove_all_consumers(Stream& s) {
  std::vector<std::string> names;
  for (const auto& [name, c] : s.consumers) names.push_back(name);
  for (const std::string& name : names) remove_consumer(s, name, false);
}

void JetStreamService::consumer_info(const InternalMessage& m, std::string_view stream, std::string_view name) {
  auto fail = [&](const ApiError& e) { reply_err(m, error_json(kInfoType, e)); };
  if (!is_empty_request(m.body())) return fail(api_error(JsErr::JSNotEmptyRequestErr));
  Stream* s = find(stream);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  auto it = s->consumers.find(name);
  if (it == s->consumers.end()) return fail(api_error(JsErr::JSConsumerNotFoundErr));
  JsonWriter w;
  w.begin_object().field("type", kInfoType);
  write_consumer_info(w, *s, *it->second);
  w.end_object();
  reply_ok(m, w.take());
}

void JetStreamService::consumer_delete(const InternalMessage& m, std::string_view stream, std::string_view name) {
  auto fail = [&](const ApiError& e) { reply_err(m, error_json(kDeleteType, e)); };
  if (!is_empty_request(m.body())) return fail(api_error(JsErr::JSNotEmptyRequestErr));
  Stream* s = find(stream);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  if (!s->consumers.contains(name)) return fail(api_error(JsErr::JSConsumerNotFoundErr));
  remove_consumer(*s, std::string(name), true);
  JsonWriter w;
  w.begin_object().field("type", kDeleteType).field("success", true).end_object();
  reply_ok(m, w.take());
}

void JetStreamService::consumer_names(const InternalMessage& m, std::string_view stream, bool detailed) {
  const std::string_view type = detailed ? kListType : kNamesType;
  const int64_t limit = detailed ? kListLimit : kNamesLimit;
  auto fail = [&](const ApiError& e) {
    // ApiPaged and the consumers slice are not omitempty: an error carries them too.
    JsonWriter w;
    w.begin_object().field("type", type).key("error").raw(api_error_json(e));
    w.field("total", 0).field("offset", 0).field("limit", 0).key("consumers").begin_array().end_array().end_object();
    reply_err(m, w.take());
  };
  int64_t offset = 0;
  if (!is_empty_request(m.body())) {
    auto r = parse_paged_filter(m.body());
    if (!r) return fail(api_error(JsErr::JSInvalidJSONErr));
    offset = std::max<int64_t>(0, r->offset);
  }
  Stream* s = find(stream);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  const auto total = static_cast<int64_t>(s->consumers.size());
  offset = std::min(offset, total);
  JsonWriter w;
  w.begin_object().field("type", type).field("total", total).field("offset", offset).field("limit", limit);
  w.key("consumers").begin_array();
  int64_t i = 0, n = 0;
  for (auto& [name, c] : s->consumers) {
    if (i++ < offset) continue;
    if (n++ >= limit) break;
    if (detailed) {
      w.begin_object();
      write_consumer_info(w, *s, *c);
      w.end_object();
    } else {
      w.value(name);
    }
  }
  w.end_array().end_object();
  reply_ok(m, w.take());
}

void JetStreamService::write_consumer_info(JsonWriter& w, Stream& s, Consumer& c, bool with_config) {
  int64_t unused = 0;
  if (c.pull()) check_waiting(s, c, now_ns(), false, unused);
  w.field("stream_name", s.config.name).field("name", c.name).field("created", rfc3339_from_unix_ns(c.created_ns));
  if (with_config) {
    w.key("config");
    write_consumer_config(w, c.config);
  }
  w.key("delivered").begin_object();
  w.field("consumer_seq", c.state.delivered.consumer.value).field("stream_seq", c.cursor.prev().value);
  if (c.last_delivery_ns != 0) w.field("last_active", rfc3339_from_unix_ns(c.last_delivery_ns));
  w.end_object();
  w.key("ack_floor").begin_object();
  w.field("consumer_seq", c.state.ack_floor.consumer.value).field("stream_seq", c.state.ack_floor.stream.value);
  if (c.last_ack_ns != 0) w.field("last_active", rfc3339_from_unix_ns(c.last_ack_ns));
  w.end_object();
  w.field("num_ack_pending", static_cast<uint64_t>(c.state.pending.size()));
  w.field("num_redelivered", static_cast<uint64_t>(c.state.redelivered.size()));
  w.field("num_waiting", static_cast<uint64_t>(c.waiting.size()));
  w.field("num_pending", pending_count(s, c));
  if (!c.pull() && c.active) w.field("push_bound", true);
}

}  // namespace forest::broker::js
