// forest::JetStream: `$JS.API` requests over a forest::Connection, as nats.go and libnats make
// them (nats-server 2.9's subjects: CONSUMER.DURABLE.CREATE for durables, CONSUMER.CREATE for
// the others), pull fetches with MSG.NEXT on an inbox of its own, and the acks of what came.
#include "forest/jetstream.hpp"

#include <charconv>
#include <condition_variable>
#include <mutex>

#include "js_internal.hpp"

namespace forest {

using namespace js_detail;

namespace {

std::string_view deliver_policy_name(DeliverPolicy p) {
  switch (p) {
    case DeliverPolicy::last: return "last";
    case DeliverPolicy::new_msgs: return "new";
    case DeliverPolicy::by_start_sequence: return "by_start_sequence";
    case DeliverPolicy::last_per_subject: return "last_per_subject";
    case DeliverPolicy::all: break;
  }
  return "all";
}

std::string_view ack_policy_name(AckPolicy p) {
  switch (p) {
    case AckPolicy::none: return "none";
    case AckPolicy::all: return "all";
    case AckPolicy::explicit_ack: break;
  }
  return "explicit";
}

// The CONSUMER.CREATE body: {"stream_name":..,"config":{..}} in ConsumerConfig's field names.
std::string consumer_create_body(std::string_view stream, const ConsumerConfig& c) {
  JsonOut w;
  w.open().str("stream_name", stream).key("config").open();
  if (!c.durable_name.empty()) w.str("durable_name", c.durable_name);
  if (!c.name.empty()) w.str("name", c.name);
  if (!c.description.empty()) w.str("description", c.description);
  w.str("deliver_policy", deliver_policy_name(c.deliver_policy));
  if (c.opt_start_seq != 0) w.unum("opt_start_seq", c.opt_start_seq);
  w.str("ack_policy", ack_policy_name(c.ack_policy));
  if (c.ack_wait.count() != 0) w.num("ack_wait", c.ack_wait.count());
  if (c.max_deliver != 0) w.num("max_deliver", c.max_deliver);
  if (!c.backoff.empty()) {
    w.key("backoff").raw_char('[');
    for (const auto b : c.backoff) w.comma().raw(std::to_string(b.count()));
    w.raw_char(']');
  }
  if (!c.filter_subject.empty()) w.str("filter_subject", c.filter_subject);
  w.str("replay_policy", "instant");
  if (c.max_waiting != 0) w.num("max_waiting", c.max_waiting);
  if (c.max_ack_pending != 0) w.num("max_ack_pending", c.max_ack_pending);
  if (c.idle_heartbeat.count() != 0) w.num("idle_heartbeat", c.idle_heartbeat.count());
  if (c.flow_control) w.boolean("flow_control", true);
  if (c.headers_only) w.boolean("headers_only", true);
  if (!c.deliver_subject.empty()) w.str("deliver_subject", c.deliver_subject);
  if (c.inactive_threshold.count() != 0) w.num("inactive_threshold", c.inactive_threshold.count());
  w.close().close();
  return w.take();
}

// A name that goes into an API subject as one token (nats.go's checkStreamName/checkConsumerName).
std::expected<void, Error> check_token(std::string_view what, std::string_view name) {
  if (name.empty()) return std::unexpected(error_of(std::string(what) + " name is required"));
  if (name.find_first_of(".*> \t\r\n") != std::string_view::npos) {
    return std::unexpected(error_of(std::string(what) + " name \"" + std::string(name) + "\" is invalid"));
  }
  return {};
}

std::optional<uint64_t> to_u64(std::string_view s) {
  uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

// --- ack subjects

std::optional<JsMetadata> parse_ack_subject(std::string_view reply) {
  std::vector<std::string_view> t;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= reply.size(); ++i) {
    if (i == reply.size() || reply[i] == '.') {
      t.push_back(reply.substr(start, i - start));
      start = i + 1;
    }
  }
  const std::size_t n = t.size();
  if (n < 9 || (n > 9 && n < 11) || t[0] != "$JS" || t[1] != "ACK") return std::nullopt;
  JsMetadata m;
  std::size_t i = 2;
  if (n > 9) {
    if (t[2] != "_") m.domain = std::string(t[2]);
    i = 4;  // past the domain and the account hash
  }
  m.stream = std::string(t[i]);
  m.consumer = std::string(t[i + 1]);
  const auto delivered = to_u64(t[i + 2]), sseq = to_u64(t[i + 3]), cseq = to_u64(t[i + 4]);
  const auto ts = to_u64(t[i + 5]), pending = to_u64(t[i + 6]);
  if (!delivered || !sseq || !cseq || !ts || !pending) return std::nullopt;
  m.num_delivered = *delivered;
  m.stream_seq = *sseq;
  m.consumer_seq = *cseq;
  m.timestamp = time_of_ns(static_cast<int64_t>(*ts));
  m.num_pending = *pending;
  return m;
}

// --- JsMessage

std::expected<void, Error> JsMessage::reply_with(std::string_view body) {
  if (conn_ == nullptr || msg.reply.empty()) return std::unexpected(error_of("not a JetStream message"));
  Message out;
  out.subject = msg.reply;
  out.data.assign(body);
  return conn_->publish(out);
}

std::expected<void, Error> JsMessage::ack() { return reply_with("+ACK"); }
std::expected<void, Error> JsMessage::in_progress() { return reply_with("+WPI"); }
std::expected<void, Error> JsMessage::term() { return reply_with("+TERM"); }

std::expected<void, Error> JsMessage::nak(std::optional<std::chrono::nanoseconds> delay) {
  if (!delay) return reply_with("-NAK");
  return reply_with("-NAK {\"delay\":" + std::to_string(delay->count()) + "}");
}

std::expected<void, Error> JsMessage::ack_sync(std::chrono::milliseconds timeout) {
  if (conn_ == nullptr || msg.reply.empty()) return std::unexpected(error_of("not a JetStream message"));
  auto r = conn_->request(msg.reply, "+ACK", timeout);
  if (!r) return std::unexpected(r.error());
  return {};
}

// --- JetStream

JetStream::JetStream(Connection& conn, std::string api_prefix, std::chrono::milliseconds timeout)
    : conn_(conn), prefix_(std::move(api_prefix)), timeout_(timeout) {
  while (!prefix_.empty() && prefix_.back() == '.') prefix_.pop_back();
}

std::expected<std::string, Error> JetStream::api_request(std::string_view suffix, std::string_view body) const {
  Message req;
  req.subject = prefix_ + "." + std::string(suffix);
  req.data.assign(body);
  auto reply = conn_.request(req, timeout_);
  if (!reply) {
    Error e = reply.error();
    if (e.status == 503) e.text = "JetStream not available: no responders on " + req.subject;
    return std::unexpected(std::move(e));
  }
  Json doc(reply->data);
  if (!doc.ok) return std::unexpected(error_of("malformed JetStream response to " + req.subject));
  if (auto err = error_of_response(doc.root)) return std::unexpected(std::move(*err));
  return std::move(reply->data);
}

std::expected<PubAck, Error> JetStream::publish(std::string_view subject, std::string_view data,
                                                const PublishOptions& opts) {
  Message m;
  m.subject.assign(subject);
  m.data.assign(data);
  m.headers = opts.headers;
  if (!opts.msg_id.empty()) add_header(m.headers, "Nats-Msg-Id", opts.msg_id);
  if (!opts.expected_stream.empty()) add_header(m.headers, "Nats-Expected-Stream", opts.expected_stream);
  if (opts.expected_last_seq) add_header(m.headers, "Nats-Expected-Last-Sequence", std::to_string(*opts.expected_last_seq));
  if (opts.expected_last_subject_seq) {
    add_header(m.headers, "Nats-Expected-Last-Subject-Sequence", std::to_string(*opts.expected_last_subject_seq));
  }
  auto reply = conn_.request(m, timeout_);
  if (!reply) {
    Error e = reply.error();
    if (e.status == 503) e.text = "no stream answers on " + m.subject + " (no responders)";
    return std::unexpected(std::move(e));
  }
  Json doc(reply->data);
  if (!doc.ok) return std::unexpected(error_of("malformed pub ack: " + reply->data));
  if (auto err = error_of_response(doc.root)) return std::unexpected(std::move(*err));
  PubAck ack;
  ack.stream = get_str(doc.root, "stream");
  ack.seq = get_u64(doc.root, "seq");
  ack.duplicate = get_bool(doc.root, "duplicate");
  ack.domain = get_str(doc.root, "domain");
  if (ack.stream.empty()) return std::unexpected(error_of("malformed pub ack: " + reply->data));
  return ack;
}

std::expected<StreamInfo, Error> JetStream::stream_request(std::string_view verb, const StreamConfig& config) {
  if (auto ok = check_token("stream", config.name); !ok) return std::unexpected(ok.error());
  auto json = api_request("STREAM." + std::string(verb) + "." + config.name, write_stream_config(config));
  if (!json) return std::unexpected(json.error());
  return read_stream_info(std::move(*json));
}

std::expected<StreamInfo, Error> JetStream::add_stream(const StreamConfig& config) { return stream_request("CREATE", config); }
std::expected<StreamInfo, Error> JetStream::update_stream(const StreamConfig& config) { return stream_request("UPDATE", config); }

std::expected<StreamInfo, Error> JetStream::stream_info(std::string_view name) const {
  if (auto ok = check_token("stream", name); !ok) return std::unexpected(ok.error());
  auto json = api_request("STREAM.INFO." + std::string(name), "");
  if (!json) return std::unexpected(json.error());
  return read_stream_info(std::move(*json));
}

std::expected<void, Error> JetStream::delete_stream(std::string_view name) {
  if (auto ok = check_token("stream", name); !ok) return std::unexpected(ok.error());
  auto json = api_request("STREAM.DELETE." + std::string(name), "");
  if (!json) return std::unexpected(json.error());
  return {};
}

std::expected<uint64_t, Error> JetStream::purge_stream(std::string_view name) {
  if (auto ok = check_token("stream", name); !ok) return std::unexpected(ok.error());
  auto json = api_request("STREAM.PURGE." + std::string(name), "");
  if (!json) return std::unexpected(json.error());
  Json doc(*json);
  return get_u64(doc.root, "purged");
}

std::expected<ConsumerInfo, Error> JetStream::add_consumer(std::string_view stream, const ConsumerConfig& config) {
  if (auto ok = check_token("stream", stream); !ok) return std::unexpected(ok.error());
  std::string suffix;
  if (!config.durable_name.empty()) {
    if (auto ok = check_token("durable", config.durable_name); !ok) return std::unexpected(ok.error());
    if (!config.name.empty() && config.name != config.durable_name) {
      return std::unexpected(error_of("consumer name and durable name differ"));
    }
    suffix = "CONSUMER.DURABLE.CREATE." + std::string(stream) + "." + config.durable_name;
  } else if (!config.name.empty()) {
    if (auto ok = check_token("consumer", config.name); !ok) return std::unexpected(ok.error());
    suffix = "CONSUMER.CREATE." + std::string(stream) + "." + config.name;
  } else {
    suffix = "CONSUMER.CREATE." + std::string(stream);
  }
  auto json = api_request(suffix, consumer_create_body(stream, config));
  if (!json) return std::unexpected(json.error());
  return read_consumer_info(std::move(*json));
}

std::expected<ConsumerInfo, Error> JetStream::consumer_info(std::string_view stream, std::string_view name) const {
  if (auto ok = check_token("stream", stream); !ok) return std::unexpected(ok.error());
  if (auto ok = check_token("consumer", name); !ok) return std::unexpected(ok.error());
  auto json = api_request("CONSUMER.INFO." + std::string(stream) + "." + std::string(name), "");
  if (!json) return std::unexpected(json.error());
  return read_consumer_info(std::move(*json));
}

std::expected<void, Error> JetStream::delete_consumer(std::string_view stream, std::string_view name) {
  if (auto ok = check_token("stream", stream); !ok) return std::unexpected(ok.error());
  if (auto ok = check_token("consumer", name); !ok) return std::unexpected(ok.error());
  auto json = api_request("CONSUMER.DELETE." + std::string(stream) + "." + std::string(name), "");
  if (!json) return std::unexpected(json.error());
  return {};
}

// --- pull

std::expected<std::vector<JsMessage>, Error> JetStream::fetch(std::string_view stream, std::string_view consumer,
                                                              int batch, std::chrono::milliseconds timeout,
                                                              bool no_wait) {
  if (auto ok = check_token("stream", stream); !ok) return std::unexpected(ok.error());
  if (auto ok = check_token("consumer", consumer); !ok) return std::unexpected(ok.error());
  if (batch <= 0) return std::unexpected(error_of("the batch must be positive"));
  if (timeout.count() <= 0) return std::unexpected(error_of("the timeout must be positive"));

  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Message> msgs;
    int status = 0;  // the first status that ends the fetch
    std::string status_text;
  };
  auto st = std::make_shared<State>();
  const std::string inbox = conn_.new_inbox();
  auto sub = conn_.subscribe(inbox, [st](const Message& m) {
    const int status = m.status();
    std::lock_guard lock(st->mu);
    if (status == 100) return;  // an idle heartbeat
    if (status != 0) {
      if (st->status == 0) {
        st->status = status;
        st->status_text = m.header("Description").value_or(m.headers.substr(0, m.headers.find('\r')));
      }
    } else if (st->status == 0) {
      st->msgs.push_back(m);
    }
    st->cv.notify_all();
  });
  if (!sub) return std::unexpected(sub.error());

  // The server expires the request a little before our deadline, so its 408 ends the wait
  // (nats.go leaves 10% of the time for that, at most 1 s).
  const auto margin = std::min<std::chrono::milliseconds>(timeout / 10, std::chrono::seconds(1));
  const auto expires = std::chrono::nanoseconds(timeout - margin);
  Message req;
  req.subject = prefix_ + ".CONSUMER.MSG.NEXT." + std::string(stream) + "." + std::string(consumer);
  req.reply = inbox;
  JsonOut body;
  body.open().num("batch", batch).num("expires", expires.count());
  if (no_wait) body.boolean("no_wait", true);
  body.close();
  req.data = body.take();
  if (auto sent = conn_.publish(req); !sent) return std::unexpected(sent.error());

  std::unique_lock lock(st->mu);
  st->cv.wait_for(lock, timeout, [&] { return st->status != 0 || st->msgs.size() >= static_cast<std::size_t>(batch); });
  std::vector<JsMessage> out;
  out.reserve(st->msgs.size());
  for (auto& m : st->msgs) {
    JsMessage jm;
    if (auto meta = parse_ack_subject(m.reply)) jm.meta = std::move(*meta);
    jm.msg = std::move(m);
    jm.conn_ = &conn_;
    out.push_back(std::move(jm));
  }
  const int status = st->status;
  const std::string text = st->status_text;
  lock.unlock();
  if (out.empty() && status == 503) {
    return std::unexpected(error_of("JetStream not available: no responders on " + req.subject, 503));
  }
  if (out.empty() && status != 0 && status != 404 && status != 408) return std::unexpected(error_of(text, status));
  if (out.empty() && status == 0) {
    // No status before our deadline: the service ignores a request for a consumer it does
    // not have (as nats-server's consumer, which owns the subject, would not answer either).
    if (auto info = consumer_info(stream, consumer); !info) return std::unexpected(info.error());
  }
  return out;
}

}  // namespace forest
