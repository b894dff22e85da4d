#include "river.hpp"

namespace forest::app {

namespace {

constexpr int kStreamNotFound = 10059;

forest::Error error_of(std::string text) { return forest::Error{std::move(text), 0, 0}; }

}  // namespace

void RiverObserver::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

River::River(forest::JetStream& js, RiverOptions opts, LogFn log) : js_(js), opts_(std::move(opts)), log_(std::move(log)) {}

std::string River::with_prefix(std::string_view subject) {
  if (subject.empty() || subject == ">") return "river.>";
  if (subject.starts_with("river.")) return std::string(subject);
  return "river." + std::string(subject);
}

std::string River::durable_name(std::string_view tree, std::string_view pattern) {
  // Consumer names may not hold '.', '*', '>' or white space.
  std::string out(tree.empty() ? "forest" : tree);
  out.push_back('-');
  for (char c : with_prefix(pattern)) {
    if (c == '.') {
      out.push_back('_');
    } else if (c == '*') {
      out.append("STAR");
    } else if (c == '>') {
      out.append("ALL");
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '\\') {
      out.push_back('-');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::expected<void, forest::Error> River::ensure_stream() {
  if (stream_ready_.load()) return {};
  auto info = js_.stream_info(kRiverStream);
  if (info) {
    stream_ready_.store(true);
    return {};  // used as it is, as the Go app does
  }
  if (info.error().api_code != kStreamNotFound) return std::unexpected(info.error());
  forest::StreamConfig c;
  c.name = std::string(kRiverStream);
  c.subjects = {"river.>"};
  c.retention = forest::Retention::workqueue;
  c.storage = forest::StorageType::file;
  c.max_age = std::chrono::hours(24);
  c.max_msgs = 100000;
  c.discard = forest::Discard::old_msgs;
  auto created = js_.add_stream(c);
  if (!created && !js_.stream_info(kRiverStream)) return std::unexpected(created.error());  // else: created meanwhile
  stream_ready_.store(true);
  return {};
}

std::expected<uint64_t, forest::Error> River::flow(std::string_view subject, std::string_view data) {
  if (subject.empty()) return std::unexpected(error_of("river: subject cannot be empty"));
  if (data.empty()) return std::unexpected(error_of("river: data cannot be empty"));
  if (auto s = ensure_stream(); !s) return std::unexpected(s.error());
  RiverData envelope;
  envelope.subject = with_prefix(subject);
  envelope.data = std::string(data);
  envelope.ts = GoTime::now_utc();  // as Go's time.Now()
  auto json = encode_river_data(envelope);
  if (!json) return std::unexpected(error_of("river: " + json.error().text));
  auto ack = js_.publish(envelope.subject, *json);
  if (!ack) return std::unexpected(ack.error());
  return ack->seq;
}

std::expected<std::unique_ptr<RiverObserver>, forest::Error> River::observe(std::string_view pattern, Handler handler) {
  return observe_with_consumer(pattern, durable_name(opts_.tree, pattern), std::move(handler));
}

std::expected<std::unique_ptr<RiverObserver>, forest::Error> River::observe_with_consumer(std::string_view pattern,
                                                                                        std::string_view durable,
                                                                                        Handler handler) {
  if (durable.empty()) return std::unexpected(error_of("river: consumer name cannot be empty"));
  if (auto s = ensure_stream(); !s) return std::unexpected(s.error());
  forest::ConsumerConfig c;
  c.durable_name = std::string(durable);
  c.filter_subject = with_prefix(pattern);
  c.deliver_policy = forest::DeliverPolicy::all;
  c.ack_policy = forest::AckPolicy::explicit_ack;
  c.ack_wait = std::chrono::seconds(30);
  c.max_deliver = opts_.max_deliver;
  auto created = js_.add_consumer(kRiverStream, c);
  if (!created) {
    // The same durable from an earlier run or another node: reuse it (its filter must match).
    auto existing = js_.consumer_info(kRiverStream, durable);
    if (!existing) return std::unexpected(created.error());
    if (existing->config.filter_subject != c.filter_subject || !existing->config.deliver_subject.empty()) {
      return std::unexpected(error_of("river: consumer " + std::string(durable) + " exists as " +
                                      (existing->config.deliver_subject.empty() ? "a pull" : "a push") +
                                      " consumer on " + existing->config.filter_subject + ", not a pull consumer on " +
                                      c.filter_subject + ": " + created.error().text));
    }
  }
  auto o = std::unique_ptr<RiverObserver>(new RiverObserver());
  o->durable_ = std::string(durable);
  RiverObserver* raw = o.get();
  o->thread_ = std::thread([this, raw, handler = std::move(handler)] { run(*raw, handler); });
  return o;
}

void River::run(RiverObserver& o, Handler handler) {
  // What is pending comes in batches at once (no_wait); when nothing is, one message is
  // waited for, and handled as soon as it arrives instead of when a batch's wait ends.
  bool idle = false;
  while (!o.stop_.load()) {
    auto batch = idle ? js_.fetch(kRiverStream, o.durable_, 1, opts_.fetch_wait)
                      : js_.fetch(kRiverStream, o.durable_, opts_.fetch_batch, opts_.fetch_wait, true);
    idle = batch && batch->empty();
    if (!batch) {
      if (batch.error().status == 408 || batch.error().status == 404) continue;  // nothing pending
      if (log_) log_("river: fetch for " + o.durable_ + ": " + batch.error().text);
      for (int i = 0; i < 10 && !o.stop_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    for (forest::JsMessage& m : *batch) {
      auto envelope = decode_river_data(m.data());
      if (!envelope) {
        o.undecodable_.fetch_add(1);
        const uint64_t n = m.meta.num_delivered;
        if (opts_.max_deliver > 0 && static_cast<int64_t>(n) >= opts_.max_deliver) {
          o.terminated_.fetch_add(1);
          if (log_) {
            log_("river: terminating undecodable message " + std::to_string(m.meta.stream_seq) + " on " + m.subject() +
                 " after " + std::to_string(n) + " deliveries: " + envelope.error().text);
          }
          (void)m.term();
        } else {
          const std::size_t i = std::min<std::size_t>(n == 0 ? 0 : n - 1, opts_.backoff.empty() ? 0 : opts_.backoff.size() - 1);
          (void)m.nak(opts_.backoff.empty() ? std::nullopt : std::optional(opts_.backoff[i]));
        }
        continue;
      }
      handler(*envelope);
      o.handled_.fetch_add(1);
      (void)m.ack();
    }
  }
}

}  // namespace forest::app
