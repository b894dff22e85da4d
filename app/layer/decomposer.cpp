#include "decomposer.hpp"

#include <charconv>

namespace forest::app {

namespace {

constexpr int kWrongLastSequence = 10071;
const std::string kSoilStream = "KV_" + std::string(kSoilBucket);
const std::string kSoilPrefix = "$KV." + std::string(kSoilBucket) + ".";

uint64_t header_number(const forest::Message& m, std::string_view name) {
  const auto v = m.header(name);
  uint64_t n = 0;
  if (v) std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.front() == '.' || key.back() == '.') return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '/' || c == '_' || c == '=' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Decomposer::Decomposer(forest::JetStream& js, DecomposerOptions opts, LogFn log)
    : js_(js), opts_(std::move(opts)), log_(std::move(log)) {}

std::expected<std::unique_ptr<Decomposer>, forest::Error> Decomposer::start(forest::JetStream& js, Humus& humus,
                                                                           DecomposerOptions opts, LogFn log) {
  if (opts.consumer.empty()) return std::unexpected(forest::Error{"decomposer: consumer name cannot be empty", 0, 0});
  if (auto s = humus.ensure_stream(); !s) return std::unexpected(s.error());
  if (auto soil = Soil::open(js); !soil) return std::unexpected(soil.error());
  forest::ConsumerConfig c;
  c.durable_name = opts.consumer;
  c.filter_subject = "humus.>";
  c.deliver_policy = forest::DeliverPolicy::all;
  c.ack_policy = forest::AckPolicy::explicit_ack;
  c.ack_wait = opts.ack_wait;
  c.max_deliver = -1;  // transient failures are retried until they pass (see run())
  c.max_ack_pending = 1;  // stream order across every decomposer sharing it
  if (auto created = js.add_consumer(kHumusStream, c); !created) {
    auto existing = js.consumer_info(kHumusStream, opts.consumer);
    if (!existing) return std::unexpected(created.error());
    // The Go app leaves a push durable of this name; pulling from it fails forever.
    if (!existing->config.deliver_subject.empty() || existing->config.max_ack_pending != 1) {
      return std::unexpected(forest::Error{
          "decomposer: consumer " + opts.consumer + " on HUMUS exists with another configuration (" +
              (existing->config.deliver_subject.empty() ? "max_ack_pending " + std::to_string(existing->config.max_ack_pending)
                                                        : std::string("a push consumer, as the Go app makes it")) +
              "); delete it (nats consumer rm HUMUS " + opts.consumer + ") to let the shared pull consumer take over",
          0, created.error().api_code});
    }
  }
  auto d = std::unique_ptr<Decomposer>(new Decomposer(js, std::move(opts), std::move(log)));
  d->thread_ = std::thread([raw = d.get()] { raw->run(); });
  return d;
}

void Decomposer::stop() {
  stop_.store(true);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::expected<Decomposer::Latest, forest::Error> Decomposer::latest(const std::string& key) const {
  forest::Message req;
  req.subject = "$JS.API.DIRECT.GET." + kSoilStream;
  req.data = R"({"last_by_subj":")" + kSoilPrefix + key + "\"}";
  auto r = js_.connection().request(req, js_.timeout());
  Latest l;
  if (!r) return std::unexpected(r.error());
  if (r->status() == 404) return l;
  if (r->status() != 0) return std::unexpected(forest::Error{"direct get: status " + std::to_string(r->status()), r->status(), 0});
  l.exists = true;
  const auto op = r->header("KV-Operation");
  l.is_value = !op || (*op != "DEL" && *op != "PURGE");
  l.revision = header_number(*r, "Nats-Sequence");
  l.humus_seq = header_number(*r, kHumusSeqHeader);
  return l;
}

Decomposer::Outcome Decomposer::apply(const Compost& c, uint64_t seq) {
  if (!valid_key(c.entity)) {
    log("compost " + std::to_string(seq) + ": invalid soil key '" + c.entity + "'");
    return Outcome::rejected;
  }
  auto l = latest(c.entity);
  if (!l) {
    log("compost " + std::to_string(seq) + ": reading " + c.entity + ": " + l.error().text);
    return Outcome::retry;
  }
  if (l->exists && l->humus_seq >= seq) return Outcome::already;  // a redelivery after a crash
  forest::PublishOptions po;
  // Also deduplicated by the bucket within its duplicate window: a re-apply after a crash is
  // caught even when something else wrote the key in between.
  po.msg_id = "humus-" + std::to_string(seq);
  po.headers = forest::Headers().add(kHumusSeqHeader, std::to_string(seq)).block();
  po.expected_last_subject_seq = l->exists ? l->revision : 0;
  std::string value = c.data.empty() ? "null" : c.data;
  if (c.action == "create") {
    if (l->is_value) {
      log("create " + c.entity + ": already exists");  // as the Go app: logged, acked
      return Outcome::rejected;
    }
  } else if (c.action == "update") {
    // An absent key is created, as the Go app does.
  } else if (c.action == "delete") {
    if (!l->is_value) {
      log("delete " + c.entity + ": not found (a replay?)");
      return Outcome::rejected;
    }
    po.headers = forest::Headers().add("KV-Operation", "DEL").add(kHumusSeqHeader, std::to_string(seq)).block();
    value.clear();
  } else {
    log("compost " + std::to_string(seq) + ": unknown action '" + c.action + "'");
    return Outcome::rejected;
  }
  auto ack = js_.publish(kSoilPrefix + c.entity, value, po);
  if (ack && ack->duplicate) return Outcome::already;
  if (!ack) {
    if (ack.error().api_code == kWrongLastSequence) {
      log(c.action + " " + c.entity + ": the key changed meanwhile; retrying");
    } else {
      log(c.action + " " + c.entity + ": " + ack.error().text);
    }
    return Outcome::retry;
  }
  return Outcome::applied;
}

void Decomposer::run() {
  while (!stop_.load()) {
    auto batch = js_.fetch(kHumusStream, opts_.consumer, 1, opts_.fetch_wait);
    if (!batch) {
      if (batch.error().status != 408 && batch.error().status != 404) log("fetch: " + batch.error().text);
      for (int i = 0; i < 5 && !stop_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    for (forest::JsMessage& m : *batch) {
      if (stop_.load()) return;  // unacked: another decomposer gets it after ack_wait
      const uint64_t seq = m.meta.stream_seq;
      auto compost = decode_compost(m.data());
      Outcome outcome = Outcome::rejected;
      if (!compost) {
        log("compost " + std::to_string(seq) + " does not decode: " + compost.error().text);
      } else {
        compost->slot = seq;
        outcome = apply(*compost, seq);
      }
      if (outcome == Outcome::applied && opts_.die_after_apply && opts_.die_after_apply(seq)) {
        stop_.store(true);
        return;
      }
      switch (outcome) {
        case Outcome::applied:
          applied_.fetch_add(1);
          (void)m.ack_sync();  // the next compost is delivered only after this one is settled
          break;
        case Outcome::already:
          already_.fetch_add(1);
          (void)m.ack_sync();
          break;
        case Outcome::rejected:
          rejected_.fetch_add(1);
          (void)(compost ? m.ack_sync() : m.term());
          break;
        case Outcome::retry: {
          // Transient (JetStream busy or away, a CAS race): retried, with backoff, until it
          // passes; dropping it would leave soil behind humus for good.
          const std::size_t i = std::min<std::size_t>(m.meta.num_delivered == 0 ? 0 : m.meta.num_delivered - 1,
                                                       opts_.backoff.empty() ? 0 : opts_.backoff.size() - 1);
          (void)m.nak(opts_.backoff.empty() ? std::nullopt : std::optional(opts_.backoff[i]));
          break;
        }
      }
    }
  }
}

}  // namespace forest::app
