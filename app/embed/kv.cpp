// forest::KeyValue: nats.go's key-value bucket (kv.go) over JetStream: stream KV_<bucket> on
// $KV.<bucket>.>, a value per message, delete and purge markers in the KV-Operation header,
// reads through DIRECT.GET (or STREAM.MSG.GET when the stream has no allow_direct), and
// watches, keys and history through ephemeral push consumers on an inbox of their own.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>

#include "forest/jetstream.hpp"
#include "app/core/go_json.hpp"
#include "js_internal.hpp"
#include "time_text.hpp"

namespace forest {

using namespace js_detail;

namespace {

constexpr int64_t kMaxHistory = 64;  // nats.go's KeyValueMaxHistory

bool valid_bucket(std::string_view b) {
  return !b.empty() && std::all_of(b.begin(), b.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// nats.go's keyValid: [-/_=.a-zA-Z0-9]+, not starting or ending with '.'.
bool valid_key(std::string_view k) {
  if (k.empty() || k.front() == '.' || k.back() == '.') return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '/' ||
           c == '_' || c == '=' || c == '.';
  });
}

Error invalid_key() { return error_of("invalid key"); }
Error key_not_found() { return error_of("key not found", 404); }

KvOperation operation_of(const Message& m) {
  const auto op = m.header("KV-Operation");
  if (op == "DEL") return KvOperation::del;
  if (op == "PURGE") return KvOperation::purge;
  return KvOperation::put;
}

// An entry of a consumer's delivery (its metadata from the ack subject).
std::optional<KvEntry> entry_of_delivery(const Message& m, const std::string& bucket, const std::string& prefix) {
  auto meta = parse_ack_subject(m.reply);
  if (!meta || m.subject.size() <= prefix.size()) return std::nullopt;
  KvEntry e;
  e.bucket = bucket;
  e.key = m.subject.substr(prefix.size());
  e.value = m.data;
  e.revision = meta->stream_seq;
  e.created = meta->timestamp;
  e.delta = meta->num_pending;
  e.operation = operation_of(m);
  return e;
}

// An ephemeral push consumer of the bucket's stream delivering to `inbox`, ack none.
ConsumerConfig push_config(const std::string& inbox, std::string filter, bool last_per_subject, bool headers_only) {
  return ConsumerConfig{
      .filter_subject = std::move(filter),
      .deliver_policy = last_per_subject ? DeliverPolicy::last_per_subject : DeliverPolicy::all,
      .ack_policy = AckPolicy::none,
      .deliver_subject = inbox,
      .headers_only = headers_only,
  };
}

}  // namespace

// --- buckets

std::expected<KeyValue, Error> JetStream::create_key_value(const KvConfig& config) {
  if (!valid_bucket(config.bucket)) return std::unexpected(error_of("invalid bucket name"));
  if (config.history > kMaxHistory) return std::unexpected(error_of("history limited to a max of 64"));
  // nats.go: the duplicate window is 2 minutes, or the TTL when that is shorter.
  std::chrono::nanoseconds window = std::chrono::minutes(2);
  if (config.ttl.count() > 0 && config.ttl < window) window = config.ttl;
  const StreamConfig sc{
      .name = "KV_" + config.bucket,
      .description = config.description,
      .subjects = {"$KV." + config.bucket + ".>"},
      .retention = Retention::limits,
      .storage = config.storage,
      .max_msgs = -1,
      .max_bytes = config.max_bytes == 0 ? -1 : config.max_bytes,
      .max_age = config.ttl,
      .max_msgs_per_subject = config.history > 0 ? config.history : 1,
      .max_msg_size = config.max_value_size == 0 ? -1 : config.max_value_size,
      .discard = Discard::new_msgs,
      .num_replicas = 1,
      .duplicate_window = window,
      .allow_rollup_hdrs = true,
      .deny_delete = true,
      .deny_purge = false,
      .allow_direct = true,
      .max_consumers = -1,
  };
  auto info = add_stream(sc);
  if (!info) return std::unexpected(info.error());
  return KeyValue(*this, config.bucket, info->config.allow_direct);
}

std::expected<KeyValue, Error> JetStream::key_value(std::string_view bucket) const {
  if (!valid_bucket(bucket)) return std::unexpected(error_of("invalid bucket name"));
  auto info = stream_info("KV_" + std::string(bucket));
  if (!info) {
    if (info.error().api_code == 10059) return std::unexpected(error_of("bucket not found", 404, 10059));
    return std::unexpected(info.error());
  }
  if (info->config.max_msgs_per_subject < 1) return std::unexpected(error_of("bucket not valid key-value store"));
  return KeyValue(*this, std::string(bucket), info->config.allow_direct);
}

KeyValue::KeyValue(const JetStream& js, std::string bucket, bool direct)
    : js_(js), bucket_(std::move(bucket)), stream_("KV_" + bucket_), prefix_("$KV." + bucket_ + "."), direct_(direct) {}

// --- reads

std::expected<KvEntry, Error> KeyValue::latest(std::string_view key) const {
  if (!valid_key(key)) return std::unexpected(invalid_key());
  const std::string subject = prefix_ + std::string(key);
  KvEntry e;
  e.bucket = bucket_;
  e.key.assign(key);
  if (direct_) {
    // The subject form: the last message on the subject after the stream name, no body.
    auto reply = js_.conn_.request(js_.prefix_ + ".DIRECT.GET." + stream_ + "." + subject, "", js_.timeout_);
    if (!reply) return std::unexpected(reply.error());
    if (reply->status() == 404) return std::unexpected(key_not_found());
    if (reply->status() != 0) {
      return std::unexpected(error_of(reply->header("Description").value_or("direct get failed"), reply->status()));
    }
    const auto seq = reply->header("Nats-Sequence");
    const auto ts = reply->header("Nats-Time-Stamp");
    const auto [end, ec] = seq ? std::from_chars(seq->data(), seq->data() + seq->size(), e.revision)
                               : std::from_chars_result{nullptr, std::errc::invalid_argument};
    if (ec != std::errc() || end != seq->data() + seq->size()) {
      return std::unexpected(error_of("direct get reply without a valid Nats-Sequence"));
    }
    if (ts) {
      if (auto ns = broker::parse_rfc3339(*ts)) e.created = time_of_ns(*ns);
    }
    e.operation = operation_of(*reply);
    e.value = std::move(reply->data);
    return e;
  }
  JsonOut body;
  body.open().str("last_by_subj", subject).close();
  auto json = js_.api_request("STREAM.MSG.GET." + stream_, body.take());
  if (!json) {
    if (json.error().api_code == 10037) return std::unexpected(key_not_found());  // no message found
    return std::unexpected(json.error());
  }
  Json doc(*json);
  simdjson::dom::element m;
  if (doc.root["message"].get(m) != simdjson::SUCCESS) return std::unexpected(error_of("malformed message get reply"));
  e.revision = get_u64(m, "seq");
  if (auto ns = broker::parse_rfc3339(get_str(m, "time"))) e.created = time_of_ns(*ns);
  auto data = app::base64_decode(get_str(m, "data"));
  auto hdrs = app::base64_decode(get_str(m, "hdrs"));
  if (!data || !hdrs) return std::unexpected(error_of("malformed message get reply"));
  Message as_msg;
  as_msg.headers = std::move(*hdrs);
  e.operation = operation_of(as_msg);
  e.value = std::move(*data);
  return e;
}

std::expected<KvEntry, Error> KeyValue::get(std::string_view key) const {
  auto e = latest(key);
  if (e && e->operation != KvOperation::put) return std::unexpected(key_not_found());
  return e;
}

// --- writes

std::expected<uint64_t, Error> KeyValue::put_with(std::string_view key, std::string_view value, std::string headers,
                                                  std::optional<uint64_t> expected_last_subject_seq) {
  if (!valid_key(key)) return std::unexpected(invalid_key());
  auto ack = js_.publish(prefix_ + std::string(key), value,
                         PublishOptions{.expected_last_subject_seq = expected_last_subject_seq, .headers = std::move(headers)});
  if (!ack) return std::unexpected(ack.error());
  return ack->seq;
}

std::expected<uint64_t, Error> KeyValue::put(std::string_view key, std::string_view value) {
  return put_with(key, value, {}, std::nullopt);
}

std::expected<uint64_t, Error> KeyValue::update(std::string_view key, std::string_view value, uint64_t last_revision) {
  return put_with(key, value, {}, last_revision);
}

std::expected<uint64_t, Error> KeyValue::create(std::string_view key, std::string_view value) {
  auto r = update(key, value, 0);
  if (r) return r;
  // nats.go: the key may only hold a delete or purge marker; then update that revision.
  if (auto e = latest(key); e && e->operation != KvOperation::put) return update(key, value, e->revision);
  Error err = r.error();
  if (err.api_code == 10071) err.text = "key exists: " + err.text;
  return std::unexpected(std::move(err));
}

std::expected<void, Error> KeyValue::del(std::string_view key) {
  std::string h;
  add_header(h, "KV-Operation", "DEL");
  auto r = put_with(key, "", std::move(h), std::nullopt);
  if (!r) return std::unexpected(r.error());
  return {};
}

std::expected<void, Error> KeyValue::purge(std::string_view key) {
  std::string h;
  add_header(h, "KV-Operation", "PURGE");
  add_header(h, "Nats-Rollup", "sub");
  auto r = put_with(key, "", std::move(h), std::nullopt);
  if (!r) return std::unexpected(r.error());
  return {};
}

// --- consumers over the bucket

std::expected<std::vector<KvEntry>, Error> KeyValue::snapshot(std::string_view filter, bool last_per_subject,
                                                              bool headers_only) const {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<KvEntry> entries;
    bool last_seen = false;  // an entry with nothing pending after it
  };
  Connection& conn = js_.conn_;
  auto st = std::make_shared<State>();
  const std::string inbox = conn.new_inbox();
  auto sub = conn.subscribe(inbox, [st, bucket = bucket_, prefix = prefix_](const Message& m) {
    if (m.status() != 0) return;  // heartbeats and flow control are not asked for
    auto e = entry_of_delivery(m, bucket, prefix);
    if (!e) return;
    std::lock_guard lock(st->mu);
    if (e->delta == 0) st->last_seen = true;
    st->entries.push_back(std::move(*e));
    st->cv.notify_all();
  });
  if (!sub) return std::unexpected(sub.error());
  JetStream js = js_;
  auto info = js.add_consumer(stream_, push_config(inbox, std::string(filter), last_per_subject, headers_only));
  if (!info) return std::unexpected(info.error());
  std::vector<KvEntry> out;
  bool complete = true;
  {
    std::unique_lock lock(st->mu);
    const std::size_t pending = info->num_pending + info->delivered_consumer_seq;
    if (pending > 0) {
      complete = st->cv.wait_for(lock, js_.timeout_, [&] { return st->last_seen || st->entries.size() >= pending; });
    }
    out = std::move(st->entries);
  }
  (void)sub->unsubscribe();
  (void)js.delete_consumer(stream_, info->name);
  if (!complete) return std::unexpected(error_of("timeout", 408));
  return out;
}

std::expected<std::vector<std::string>, Error> KeyValue::keys() const {
  auto entries = snapshot(prefix_ + ">", true, true);
  if (!entries) return std::unexpected(entries.error());
  std::vector<std::string> out;
  for (auto& e : *entries) {
    if (e.operation == KvOperation::put) out.push_back(std::move(e.key));
  }
  return out;
}

std::expected<std::vector<KvEntry>, Error> KeyValue::history(std::string_view key) const {
  if (!valid_key(key)) return std::unexpected(invalid_key());
  auto entries = snapshot(prefix_ + std::string(key), false, false);
  if (!entries) return std::unexpected(entries.error());
  if (entries->empty()) return std::unexpected(key_not_found());
  return entries;
}

// --- watch

struct KvWatcher::State {
  std::mutex cb_mu;  // one callback at a time (handler, initial_done)
  KeyValue::Handler handler;
  std::function<void()> initial_done;
  bool ignore_deletes = false;
  bool init_done = false;
  uint64_t received = 0, init_pending = 0;
  std::atomic<bool> stopped{false};
  std::mutex sub_mu;
  Subscription sub;
  std::optional<JetStream> js;
  std::string stream, consumer;

  void finish_initial() {  // under cb_mu
    init_done = true;
    if (initial_done) initial_done();
  }
};

KvWatcher& KvWatcher::operator=(KvWatcher&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}

KvWatcher::~KvWatcher() { stop(); }

void KvWatcher::stop() {
  auto st = std::exchange(state_, nullptr);
  if (!st || st->stopped.exchange(true)) return;
  std::lock_guard lock(st->sub_mu);
  (void)st->sub.unsubscribe();
  if (st->js && !st->consumer.empty()) (void)st->js->delete_consumer(st->stream, st->consumer);
}

std::expected<KvWatcher, Error> KeyValue::watch(std::string_view key_pattern, Handler handler, KvWatchOptions opts) {
  if (key_pattern.empty()) return std::unexpected(invalid_key());
  auto st = std::make_shared<KvWatcher::State>();
  st->handler = std::move(handler);
  st->initial_done = std::move(opts.initial_done);
  st->ignore_deletes = opts.ignore_deletes;
  st->js.emplace(js_);
  st->stream = stream_;
  Connection& conn = js_.conn_;
  const std::string inbox = conn.new_inbox();
  std::weak_ptr<KvWatcher::State> weak = st;
  auto sub = conn.subscribe(inbox, [weak, bucket = bucket_, prefix = prefix_](const Message& m) {
    auto st = weak.lock();
    if (!st || st->stopped || m.status() != 0) return;
    auto e = entry_of_delivery(m, bucket, prefix);
    if (!e) return;
    std::lock_guard lock(st->cb_mu);
    if (!st->ignore_deletes || e->operation == KvOperation::put) st->handler(*e);
    // nats.go: the initial values are done once as many came as were pending at the first,
    // or one came with nothing pending after it.
    if (!st->init_done) {
      ++st->received;
      if (st->init_pending == 0) st->init_pending = e->delta;
      if (st->received > st->init_pending || e->delta == 0) st->finish_initial();
    }
  });
  if (!sub) return std::unexpected(sub.error());
  {
    std::lock_guard lock(st->sub_mu);
    st->sub = std::move(*sub);
  }
  auto info = st->js->add_consumer(stream_, push_config(inbox, prefix_ + std::string(key_pattern),
                                                        !opts.include_history, opts.headers_only));
  if (!info) {
    std::lock_guard lock(st->sub_mu);
    (void)st->sub.unsubscribe();
    return std::unexpected(info.error());
  }
  {
    std::lock_guard lock(st->sub_mu);
    st->consumer = info->name;
  }
  {
    std::lock_guard lock(st->cb_mu);
    if (!st->init_done && info->num_pending == 0 && info->delivered_consumer_seq == 0) st->finish_initial();
  }
  KvWatcher w;
  w.state_ = std::move(st);
  return w;
}

}  // namespace forest
