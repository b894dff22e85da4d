#include "service.hpp"

#include <filesystem>
#include <future>

#include "../account.hpp"
#include "../io_thread.hpp"
#include "../server.hpp"

namespace forest::broker::js {
namespace fs = std::filesystem;

StorePaths store_paths(const Options& o) {
  const JetStreamOptions& js = o.jetstream;
  fs::path root;
  if (!js.store_dir.empty()) {
    root = fs::path(js.store_dir) / "jetstream";
  } else if (js.max_memory > 0 && js.max_store > 0) {
    root = fs::temp_directory_path() / "jetstream";  // nats-server: a full config without a dir
  } else {
    root = fs::temp_directory_path() / "nats" / "jetstream";  // nats-server's dynamic config
  }
  return StorePaths{root.string(), (root / "forest-store").string()};
}

JetStreamService::JetStreamService(Server& server) : server_(server) { server_.set_jetstream_monitor(this); }

JetStreamService::~JetStreamService() {
  if (server_.jetstream_monitor() == this) server_.set_jetstream_monitor(nullptr);
}

int64_t JetStreamService::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void JetStreamService::run_and_wait(std::function<void()> fn) {
  IoThread& t = server_.service_thread();
  if (t.in_this_thread()) {
    fn();
    return;
  }
  std::promise<void> done;
  asio::post(t.context(), [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

std::expected<void, std::string> JetStreamService::start() {
  const auto o = server_.options();
  domain_ = o->jetstream.domain;
  if (o->jetstream.sync_interval == "always") {
    sync_policy_ = storage::SyncPolicy::always;
  } else if (!o->jetstream.sync_interval.empty()) {
    auto d = parse_go_duration(o->jetstream.sync_interval);
    if (!d || d->count() <= 0) return std::unexpected("jetstream sync_interval: invalid \"" + o->jetstream.sync_interval + "\"");
    sync_interval_ = std::chrono::duration_cast<std::chrono::nanoseconds>(*d);
  }
  const StorePaths paths = store_paths(*o);
  server_.log().info("Starting JetStream");
  server_.log().info("    Store Directory: \"{}\"", paths.root);
  storage::RocksOptions ro;
  ro.path = paths.rocks;
  ro.sync = sync_policy_;
  auto rocks = storage::open_rocks_store(ro);
  if (!rocks) return std::unexpected("JetStream: cannot open the store in " + paths.rocks + ": " + rocks.error().text);
  rocks_ = std::move(*rocks);
  memory_ = storage::open_memory_store();
  jsz_config_ = jsz_config(*o, paths);
  server_.log().info("    Sync:            {}", sync_policy_ == storage::SyncPolicy::always ? std::string("always")
                                                                                            : format_go_duration(
                                                                                                  std::chrono::duration_cast<Duration>(sync_interval_)));

  account_ = &server_.global_account();
  client_ = std::make_shared<InternalClient>(server_, server_.service_thread(), "$JS");
  client_->set_turn_end([this] { commit(); });

  // From here the stores belong to the service thread.
  std::expected<void, std::string> result;
  std::size_t recovered = 0;
  run_and_wait([&] {
    running_ = true;
    expiry_timer_ = std::make_unique<asio::steady_timer>(server_.service_thread().context());
    sync_timer_ = std::make_unique<asio::steady_timer>(server_.service_thread().context());
    consumer_timer_ = std::make_unique<asio::steady_timer>(server_.service_thread().context());
    commit_timer_ = std::make_unique<asio::steady_timer>(server_.service_thread().context());
    source_timer_ = std::make_unique<asio::steady_timer>(server_.service_thread().context());
    if (auto r = load_streams(*rocks_); !r) {
      result = r;
      return;
    }
    // Once every stream is there: a mirror or source may come before its origin.
    for (auto& [name, s] : streams_) setup_sources(s, true);
    // JetStream is local to this node: its API and stream subjects are not announced to routes
    // (a client elsewhere gets "no responders", not a request nobody answers).
    api_sub_ = client_->subscribe(*account_, "$JS.API.>", "", [this](const InternalMessage& m) { on_api(m); }, true);
    schedule_expiry();
    schedule_sync();
    client_->run([this] { commit(); });  // what recovery queued (retention checks)
    refresh_usage();
    recovered = streams_.size();
  });
  if (!result) {
    stop();
    return result;
  }
  enabled_.store(true, std::memory_order_release);
  server_.log().info("JetStream ready: {} stream(s) recovered", recovered);
  return {};
}

void JetStreamService::stop() {
  enabled_.store(false, std::memory_order_release);
  run_and_wait([this] {
    if (!running_) return;
    // Inside a batch, as on every other path that publishes (acks of what is still queued).
    client_->run([this] { commit(); });
    running_ = false;
    if (api_sub_) client_->unsubscribe(*account_, api_sub_);
    api_sub_.reset();
    for (auto& [name, s] : streams_) {
      for (auto& [cname, c] : s.consumers) {
        if (c->ack_sub) client_->unsubscribe(*account_, c->ack_sub);
        if (c->fc_sub) client_->unsubscribe(*account_, c->fc_sub);
      }
      unsubscribe_stream(s);
      unsubscribe_direct(s);
    }
    streams_.clear();
    expiry_timer_.reset();
    consumer_timer_.reset();
    commit_timer_.reset();
    source_timer_.reset();
    source_timer_at_ = 0;
    sourcing_streams_ = 0;
    sync_timer_.reset();
    if (rocks_) {
      if (auto r = rocks_->close(); !r) server_.log().error("JetStream: closing the store: {}", r.error().text);
    }
    rocks_.reset();
    memory_.reset();
  });
  server_.log().info("JetStream stopped");
}

std::expected<void, std::string> JetStreamService::load_streams(storage::StreamStore& store) {
  for (const std::string& name : store.stream_names()) {
    auto meta = store.stream_meta(name);
    if (!meta) return std::unexpected("JetStream: stream '" + name + "': " + meta.error().text);
    auto config = parse_stream_config(meta->config.api_json);
    if (!config) {
      return std::unexpected("JetStream: stream '" + name + "' has a config that does not parse: " + config.error().description);
    }
    Stream& s = streams_[name];
    s.config = std::move(*config);
    s.store = &store;
    s.created_ns = meta->created_ns;
    subscribe_stream(s);
    if (auto r = load_consumers(s); !r) return r;
  }
  return {};
}

void JetStreamService::subscribe_stream(Stream& s) {
  for (const std::string& subject : s.config.subjects) {
    const std::string name = s.config.name;
    auto sub = client_->subscribe(
        *account_, subject, "", [this, name](const InternalMessage& m) { on_publish(name, m); }, true);
    if (sub) s.subs.push_back(std::move(sub));
  }
  sync_direct(s);
}

void JetStreamService::unsubscribe_stream(Stream& s) {
  for (const SubPtr& sub : s.subs) client_->unsubscribe(*account_, sub);
  s.subs.clear();
}

storage::StreamStore& JetStreamService::store_for(const StreamConfig& c) {
  return c.storage == Storage::memory ? *memory_ : *rocks_;
}

JetStreamService::Batch& JetStreamService::batch_for(storage::StreamStore* store) {
  for (Batch& b : batches_) {
    if (b.store == store) return b;
  }
  batches_.push_back(Batch{store, {}});
  return batches_.back();
}

void JetStreamService::commit() {
  bool expiring = false;
  // Round 1 applies what the turn queued; later rounds apply what retention removes after
  // those acks (a delete never asks for another round, so this ends).
  for (int round = 0; round < 3; ++round) {
    bool any_ops = false;
    for (const Batch& b : batches_) any_ops = any_ops || !b.ops.empty();
    if (!any_ops && pending_.empty() && ack_replies_.empty() && retention_checks_.empty()) break;
    std::vector<Batch> taken;
    taken.swap(batches_);
    // One apply_batch per store: one WAL write (and with "always" one fsync) for the round.
    std::vector<std::pair<storage::StreamStore*, std::expected<std::vector<storage::OpOutcome>, storage::Error>>> results;
    for (Batch& b : taken) {
      if (b.ops.empty()) continue;
      server_.log().debug("JetStream: group commit of {} op(s) in one batch", b.ops.size());
      auto r = b.store->apply_batch(b.ops);
      if (!r) {
        server_.log().error("JetStream: applying {} op(s) failed: {}", b.ops.size(), r.error().text);
      } else {
        after_apply(b.ops, *r);
      }
      results.emplace_back(b.store, std::move(r));
    }
    for (PendingPublish& p : pending_) {
      std::string ack;
      if (p.ready) {
        ack = *p.ready;
      } else {
        for (std::size_t bi = 0; bi < results.size(); ++bi) {
          auto& [store, r] = results[bi];
          if (store != p.store) continue;
          const storage::OpOutcome outcome = r ? (*r)[p.op_index] : storage::OpOutcome(std::unexpected(r.error()));
          ack = ack_for(p, outcome);
          if (!p.source_iname.empty()) on_source_outcome(p, outcome);
          if (p.republish) {
            for (const Batch& b : taken) {
              if (b.store != p.store) continue;
              if (const auto* op = std::get_if<storage::StoreMsgOp>(&b.ops[p.op_index].body)) republish(p, *op, outcome);
            }
          }
        }
        if (const Stream* s = find(p.stream); s != nullptr && s->config.max_age_ns > 0) expiring = true;
      }
      if (!p.reply.empty() && !ack.empty()) client_->publish(*account_, p.reply, "", ack);
    }
    pending_.clear();
    republish_turn_.clear();
    for (const std::string& reply : ack_replies_) client_->publish(*account_, reply, "", "");
    ack_replies_.clear();
    auto checks = std::move(retention_checks_);
    retention_checks_.clear();
    for (auto& [stream, seq] : checks) {
      if (Stream* s = find(stream)) retention_check(*s, seq);
    }
  }
  refresh_usage();
  if (!delivering_) deliver_dirty();
  pump_sources();  // copies for mirrors and sources go into the next commit
  for (const Batch& b : batches_) {
    if (!b.ops.empty()) {
      post_commit();
      break;
    }
  }
  if (expiring && !expiry_armed_ns_) schedule_expiry();
}

void JetStreamService::after_apply(const std::vector<storage::Op>& ops, const std::vector<storage::OpOutcome>& outcomes) {
  for (std::size_t i = 0; i < ops.size() && i < outcomes.size(); ++i) {
    const storage::Op& op = ops[i];
    const storage::OpOutcome& out = outcomes[i];
    Stream* s = find(op.stream);
    if (s == nullptr) continue;
    if (!out) {
      // An ack of what is no longer pending, a delivery of a deleted consumer: normal races.
      if (!std::holds_alternative<storage::StoreMsgOp>(op.body)) {
        server_.log().debug("JetStream: stream '{}': op refused: {}", op.stream, out.error().text);
      }
      continue;
    }
    if (const auto* store = std::get_if<storage::StoreMsgOp>(&op.body); store && !out->duplicate && !out->skipped) {
      mark_new_message(*s, out->seq, store->subject);
    }
    if (out->removed_msgs > 0) {
      for (auto& [name, c] : s->consumers) c->num_pending_valid = false;
    }
    for (const std::string& name : out->consumers_changed) {
      if (auto it = s->consumers.find(name); it != s->consumers.end()) refresh_consumer(*s, *it->second);
    }
  }
}

std::expected<storage::ApplyResult, storage::Error> JetStreamService::apply_now(storage::StreamStore& store, storage::Op op) {
  std::vector<storage::Op> ops;
  ops.push_back(std::move(op));
  auto r = store.apply_batch(ops);
  if (!r) return std::unexpected(r.error());
  after_apply(ops, *r);
  if (!(*r)[0]) return std::unexpected((*r)[0].error());
  return std::move(*(*r)[0]);
}

void JetStreamService::post_commit() {
  if (commit_posted_ || !running_) return;
  commit_posted_ = true;
  // A timer, not a post: stop() destroys it, so nothing runs on a stopped service.
  commit_timer_->expires_after(std::chrono::nanoseconds(0));
  commit_timer_->async_wait([this](const error_code& ec) {
    if (ec || !running_) return;
    client_->run([this] {
      commit_posted_ = false;
      commit();
    });
  });
}

void JetStreamService::schedule_expiry() {
  if (!running_) return;
  std::optional<int64_t> earliest;
  for (auto& [name, s] : streams_) {
    if (s.config.max_age_ns <= 0) continue;
    auto at = s.store->next_expiry(name);
    if (at && *at && (!earliest || **at < *earliest)) earliest = **at;
  }
  if (!earliest || (expiry_armed_ns_ && *expiry_armed_ns_ <= *earliest)) return;
  expiry_armed_ns_ = earliest;
  // At least a millisecond: a store that did not remove what it said was due cannot spin us.
  const auto delay = std::chrono::nanoseconds(std::max<int64_t>(1'000'000, *earliest - now_ns()));
  expiry_timer_->expires_after(delay);
  expiry_timer_->async_wait([this](const error_code& ec) {
    if (ec || !running_) return;
    client_->run([this] { run_expiry(); });
  });
}

void JetStreamService::run_expiry() {
  expiry_armed_ns_.reset();
  commit();
  const int64_t now = now_ns();
  for (auto& [name, s] : streams_) {
    if (s.config.max_age_ns <= 0) continue;
    auto at = s.store->next_expiry(name);
    if (!at || !*at || **at > now) continue;
    auto r = apply_now(*s.store, storage::Op{name, storage::ExpireOp{now}});
    if (!r) server_.log().error("JetStream: expiring messages of stream '{}': {}", name, r.error().text);
  }
  schedule_expiry();
}

void JetStreamService::schedule_sync() {
  if (!running_ || sync_policy_ == storage::SyncPolicy::always) return;
  sync_timer_->expires_after(sync_interval_);
  sync_timer_->async_wait([this](const error_code& ec) {
    if (ec || !running_) return;
    if (auto r = rocks_->sync(); !r) server_.log().error("JetStream: syncing the store: {}", r.error().text);
    schedule_sync();
  });
}

JetStreamService::Stream* JetStreamService::find(std::string_view name) {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : &it->second;
}

}  // namespace forest::broker::js
