// JSON for the JetStream client: request bodies in nats-server's field names (server/stream.go
// StreamConfig, server/consumer.go ConsumerConfig: durations in nanoseconds, the omitempty
// fields left out when empty) and the fields of its responses.
#include <array>
#include <charconv>
#include <cstdio>

#include "js_internal.hpp"

namespace forest::js_detail {

// --- writing

JsonOut& JsonOut::key(std::string_view k) {
  if (!first_) out_ += ',';
  quoted(k);
  out_ += ':';
  first_ = true;  // the value follows without a comma
  return *this;
}

JsonOut& JsonOut::quoted(std::string_view v) {
  out_ += '"';
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default:
        if (c < 0x20) {
          std::array<char, 8> buf{};
          std::snprintf(buf.data(), buf.size(), "\\u%04x", c);
          out_ += buf.data();
        } else {
          out_ += ch;
        }
    }
  }
  out_ += '"';
  first_ = false;
  return *this;
}

// --- reading

Json::Json(std::string_view text) { ok = parser.parse(text.data(), text.size()).get(root) == simdjson::SUCCESS; }

uint64_t get_u64(simdjson::dom::element e, std::string_view key, uint64_t fallback) {
  uint64_t v = 0;
  return e[key].get_uint64().get(v) == simdjson::SUCCESS ? v : fallback;
}

int64_t get_i64(simdjson::dom::element e, std::string_view key, int64_t fallback) {
  int64_t v = 0;
  return e[key].get_int64().get(v) == simdjson::SUCCESS ? v : fallback;
}

bool get_bool(simdjson::dom::element e, std::string_view key) {
  bool v = false;
  return e[key].get_bool().get(v) == simdjson::SUCCESS && v;
}

std::string get_str(simdjson::dom::element e, std::string_view key) {
  std::string_view v;
  return e[key].get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

Error error_of(std::string text, int status, int api_code) { return Error{std::move(text), status, api_code}; }

std::optional<Error> error_of_response(simdjson::dom::element root) {
  simdjson::dom::element err;
  if (root["error"].get(err) != simdjson::SUCCESS) return std::nullopt;
  return Error{get_str(err, "description"), static_cast<int>(get_i64(err, "code")),
               static_cast<int>(get_i64(err, "err_code"))};
}

namespace {

}  // namespace

std::chrono::system_clock::time_point time_of_ns(int64_t ns) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
}


void add_header(std::string& block, std::string_view name, std::string_view value) {
  if (block.empty()) block = "NATS/1.0\r\n\r\n";
  // Insert before the blank line that ends the block.
  std::string line;
  line.append(name).append(": ").append(value).append("\r\n");
  block.insert(block.size() - 2, line);
}

// --- streams

namespace {

std::string_view retention_name(Retention r) {
  switch (r) {
    case Retention::interest: return "interest";
    case Retention::workqueue: return "workqueue";
    case Retention::limits: break;
  }
  return "limits";
}

}  // namespace

std::string write_stream_config(const StreamConfig& c) {
  JsonOut w;
  w.open().str("name", c.name);
  if (!c.description.empty()) w.str("description", c.description);
  if (!c.subjects.empty()) {
    w.key("subjects").raw_char('[');
    for (const auto& s : c.subjects) w.comma().quoted(s);
    w.raw_char(']');
    w.raw("");  // the next field takes a comma
  }
  w.str("retention", retention_name(c.retention))
      .num("max_consumers", c.max_consumers)
      .num("max_msgs", c.max_msgs)
      .num("max_bytes", c.max_bytes)
      .num("max_age", c.max_age.count())
      .num("max_msgs_per_subject", c.max_msgs_per_subject);
  if (c.max_msg_size != 0) w.num("max_msg_size", c.max_msg_size);
  w.str("discard", c.discard == Discard::new_msgs ? "new" : "old")
      .str("storage", c.storage == StorageType::memory ? "memory" : "file")
      .num("num_replicas", c.num_replicas);
  if (c.duplicate_window.count() != 0) w.num("duplicate_window", c.duplicate_window.count());
  w.boolean("allow_rollup_hdrs", c.allow_rollup_hdrs)
      .boolean("deny_delete", c.deny_delete)
      .boolean("deny_purge", c.deny_purge)
      .boolean("allow_direct", c.allow_direct)
      .close();
  return w.take();
}

StreamConfig read_stream_config(simdjson::dom::element e) {
  StreamConfig c;
  c.name = get_str(e, "name");
  c.description = get_str(e, "description");
  simdjson::dom::array subjects;
  if (e["subjects"].get_array().get(subjects) == simdjson::SUCCESS) {
    for (auto s : subjects) {
      std::string_view v;
      if (s.get_string().get(v) == simdjson::SUCCESS) c.subjects.emplace_back(v);
    }
  }
  const std::string retention = get_str(e, "retention");
  c.retention = retention == "interest" ? Retention::interest : retention == "workqueue" ? Retention::workqueue : Retention::limits;
  c.storage = get_str(e, "storage") == "memory" ? StorageType::memory : StorageType::file;
  c.max_msgs = get_i64(e, "max_msgs", -1);
  c.max_bytes = get_i64(e, "max_bytes", -1);
  c.max_age = std::chrono::nanoseconds(get_i64(e, "max_age"));
  c.max_msgs_per_subject = get_i64(e, "max_msgs_per_subject", -1);
  c.max_msg_size = static_cast<int32_t>(get_i64(e, "max_msg_size", -1));
  c.discard = get_str(e, "discard") == "new" ? Discard::new_msgs : Discard::old_msgs;
  c.num_replicas = static_cast<int>(get_i64(e, "num_replicas", 1));
  c.duplicate_window = std::chrono::nanoseconds(get_i64(e, "duplicate_window"));
  c.allow_rollup_hdrs = get_bool(e, "allow_rollup_hdrs");
  c.deny_delete = get_bool(e, "deny_delete");
  c.deny_purge = get_bool(e, "deny_purge");
  c.allow_direct = get_bool(e, "allow_direct");
  c.max_consumers = static_cast<int>(get_i64(e, "max_consumers", -1));
  return c;
}

std::expected<StreamInfo, Error> read_stream_info(std::string json) {
  Json doc(json);
  if (!doc.ok) return std::unexpected(error_of("malformed stream info"));
  StreamInfo info;
  simdjson::dom::element config, state;
  if (doc.root["config"].get(config) != simdjson::SUCCESS || doc.root["state"].get(state) != simdjson::SUCCESS) {
    return std::unexpected(error_of("stream info without config or state"));
  }
  info.config = read_stream_config(config);
  info.state.messages = get_u64(state, "messages");
  info.state.bytes = get_u64(state, "bytes");
  info.state.first_seq = get_u64(state, "first_seq");
  info.state.last_seq = get_u64(state, "last_seq");
  info.state.num_subjects = get_u64(state, "num_subjects");
  info.state.consumer_count = static_cast<int>(get_i64(state, "consumer_count"));
  info.json = std::move(json);
  return info;
}

// --- consumers

namespace {

ConsumerConfig read_consumer_config(simdjson::dom::element e) {
  ConsumerConfig c;
  c.durable_name = get_str(e, "durable_name");
  c.name = get_str(e, "name");
  c.description = get_str(e, "description");
  c.filter_subject = get_str(e, "filter_subject");
  const std::string dp = get_str(e, "deliver_policy");
  c.deliver_policy = dp == "last"                ? DeliverPolicy::last
                     : dp == "new"               ? DeliverPolicy::new_msgs
                     : dp == "by_start_sequence" ? DeliverPolicy::by_start_sequence
                     : dp == "last_per_subject"  ? DeliverPolicy::last_per_subject
                                                 : DeliverPolicy::all;
  c.opt_start_seq = get_u64(e, "opt_start_seq");
  const std::string ap = get_str(e, "ack_policy");
  c.ack_policy = ap == "none" ? AckPolicy::none : ap == "all" ? AckPolicy::all : AckPolicy::explicit_ack;
  c.ack_wait = std::chrono::nanoseconds(get_i64(e, "ack_wait"));
  c.max_deliver = get_i64(e, "max_deliver");
  simdjson::dom::array backoff;
  if (e["backoff"].get_array().get(backoff) == simdjson::SUCCESS) {
    for (auto b : backoff) {
      int64_t ns = 0;
      if (b.get_int64().get(ns) == simdjson::SUCCESS) c.backoff.emplace_back(ns);
    }
  }
  c.max_ack_pending = get_i64(e, "max_ack_pending");
  c.max_waiting = get_i64(e, "max_waiting");
  c.deliver_subject = get_str(e, "deliver_subject");
  c.flow_control = get_bool(e, "flow_control");
  c.idle_heartbeat = std::chrono::nanoseconds(get_i64(e, "idle_heartbeat"));
  c.headers_only = get_bool(e, "headers_only");
  c.inactive_threshold = std::chrono::nanoseconds(get_i64(e, "inactive_threshold"));
  return c;
}

}  // namespace

std::expected<ConsumerInfo, Error> read_consumer_info(std::string json) {
  Json doc(json);
  if (!doc.ok) return std::unexpected(error_of("malformed consumer info"));
  ConsumerInfo info;
  info.stream = get_str(doc.root, "stream_name");
  info.name = get_str(doc.root, "name");
  simdjson::dom::element e;
  if (doc.root["config"].get(e) == simdjson::SUCCESS) info.config = read_consumer_config(e);
  if (doc.root["delivered"].get(e) == simdjson::SUCCESS) {
    info.delivered_consumer_seq = get_u64(e, "consumer_seq");
    info.delivered_stream_seq = get_u64(e, "stream_seq");
  }
  if (doc.root["ack_floor"].get(e) == simdjson::SUCCESS) {
    info.ack_floor_consumer_seq = get_u64(e, "consumer_seq");
    info.ack_floor_stream_seq = get_u64(e, "stream_seq");
  }
  info.num_ack_pending = get_i64(doc.root, "num_ack_pending");
  info.num_redelivered = get_i64(doc.root, "num_redelivered");
  info.num_waiting = get_i64(doc.root, "num_waiting");
  info.num_pending = get_u64(doc.root, "num_pending");
  info.json = std::move(json);
  return info;
}

}  // namespace forest::js_detail
