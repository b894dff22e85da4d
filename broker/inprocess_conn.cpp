#include "inprocess_conn.hpp"
#include "inprocess_stage.hpp"

#include <chrono>
#include <thread>

#include "account.hpp"
#include "match_cache.hpp"
#include "permissions.hpp"
#include "protocol/errors.hpp"
#include "publish.hpp"
#include "server.hpp"
#include "subject.hpp"

namespace forest::broker {

namespace {
// The status message a requester gets when nobody took its request (a header block only).
constexpr std::string_view kNoRespondersStatus = "NATS/1.0 503\r\n\r\n";
}  // namespace

std::expected<std::shared_ptr<InProcessConn>, std::string> InProcessConn::connect(Server& server, IoThread& dispatch,
                                                                                 InProcessOptions opts,
                                                                                 EventHandler events) {
  if (!server.running()) return std::unexpected("the server is not running");
  const auto o = server.options();
  if (o->max_connections > 0 && server.num_clients() >= static_cast<std::size_t>(o->max_connections)) {
    return std::unexpected(std::string(protocol::err::kMaxConnections));
  }
  Credentials credentials{opts.user, opts.pass, opts.token};
  credentials.connection_type = "IN_PROCESS";
  const auto auth = server.authenticate(credentials, *o);
  if (!auth) return std::unexpected(std::string(protocol::err::kAuthorizationViolation));
  if (!auth->account->try_add_connection()) return std::unexpected(std::string(protocol::err::kMaxAccountConnections));
  auto conn = std::make_shared<InProcessConn>(server, dispatch, std::move(opts), std::move(events), server.next_cid());
  conn->account_ = auth->account;
  conn->user_ = auth->user;
  if (auth->permissions) {
    conn->perms_ = std::make_shared<ConnPermissions>(auth->permissions);
    conn->has_perms_.store(true);
  }
  conn->cache_ = std::make_unique<MatchCache>(auth->account->sublist());
  conn->apply_options();
  if (!server.register_client(conn)) {
    auth->account->remove_connection();
    return std::unexpected("the server is shutting down");
  }
  server.client_connected(*conn);
  // The cache sweep runs on the dispatch thread's ticker; registered there, as it wants.
  asio::post(dispatch.context(), [weak = std::weak_ptr<InProcessConn>(conn)] {
    if (auto self = weak.lock(); self && !self->closed()) self->dispatch_.add_tickable(self.get());
  });
  return conn;
}

InProcessConn::InProcessConn(Server& server, IoThread& dispatch, InProcessOptions opts, EventHandler events,
                             uint64_t cid)
    : server_(server),
      dispatch_(dispatch),
      opts_(std::move(opts)),
      events_(std::move(events)),
      cid_(cid),
      start_(std::chrono::system_clock::now()),
      last_activity_(start_) {}

InProcessConn::~InProcessConn() = default;

void InProcessConn::apply_options() {
  // The server's limits, lowered by the account's where it has its own (`limits {}`).
  const auto o = server_.options();
  const AccountLimits account = account_->limits();
  max_payload_.store(combined_limit(o->max_payload, account.max_payload), std::memory_order_relaxed);
  max_subs_.store(combined_limit(o->max_subscriptions, account.max_subscriptions), std::memory_order_relaxed);
}

std::expected<uint64_t, std::string> InProcessConn::subscribe(std::string_view subject, std::string_view queue,
                                                             Handler handler) {
  auto entry = std::make_shared<Entry>();
  entry->handler = std::move(handler);
  return add_subscription(subject, queue, std::move(entry));
}

std::expected<uint64_t, std::string> InProcessConn::subscribe_direct(std::string_view subject, DirectHandler handler) {
  auto entry = std::make_shared<Entry>();
  entry->direct = std::move(handler);
  return add_subscription(subject, {}, std::move(entry));
}

std::expected<uint64_t, std::string> InProcessConn::add_subscription(std::string_view subject, std::string_view queue,
                                                                    std::shared_ptr<Entry> entry) {
  if (!is_valid_subject(subject) || (!queue.empty() && !is_valid_literal_subject(queue))) {
    return std::unexpected(std::string(protocol::err::kInvalidSubject));
  }
  auto sub = std::make_shared<Subscription>();
  sub->sink = shared_from_this();
  sub->subject.assign(subject);
  sub->queue.assign(queue);
  sub->owner_cid = cid_;
  sub->sink_data = entry.get();  // alive while indexed (subs_), then retired (drain())
  entry->sub = sub;
  uint64_t sid = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_.load()) return std::unexpected("connection closed");
    const int64_t max = max_subs_.load(std::memory_order_relaxed);
    if (max >= 0 && static_cast<int64_t>(subs_.size()) >= max) {
      return std::unexpected(std::string(protocol::err::kMaxSubscriptions));
    }
    if (perms_ && !perms_->may_subscribe(subject, queue)) {
      return std::unexpected(subscription_violation_text(subject, queue));
    }
    sid = ++next_sid_;
    sub->sid = std::to_string(sid);
    subs_.emplace(sid, entry);
  }
  if (!account_->subscribe(sub)) {
    std::lock_guard lock(mu_);
    subs_.erase(sid);
    return std::unexpected(std::string(protocol::err::kInvalidSubject));
  }
  // A close() that ran between the registration and the index insert may have taken it out
  // of subs_ before it was indexed: take it out of the index here (removal is idempotent).
  if (closed_.load()) {
    sub->closed.store(true, std::memory_order_relaxed);
    account_->unsubscribe(sub);
    return std::unexpected("connection closed");
  }
  return sid;
}

std::expected<void, std::string> InProcessConn::unsubscribe(uint64_t sid, int64_t max) {
  SubPtr sub;
  {
    std::lock_guard lock(mu_);
    auto it = subs_.find(sid);
    if (it == subs_.end()) return std::unexpected("unknown subscription");
    sub = it->second->sub;
    // Before the subscription's own limit: the dispatch thread stops at it from now on.
    if (max > 0) it->second->limit.store(max, std::memory_order_relaxed);
  }
  // With a maximum not reached yet the subscription stays until the delivery that reaches it.
  if (max > 0 && !set_delivery_limit(*sub, max)) return {};
  remove_subscription(sid, sub->id);
  return {};
}

void InProcessConn::remove_subscription(uint64_t sid, uint64_t sub_id) {
  SubPtr sub;
  {
    std::lock_guard lock(mu_);
    auto it = subs_.find(sid);
    if (it == subs_.end() || it->second->sub->id != sub_id) return;
    sub = it->second->sub;
    // Closed under mu_: deliver() checks it under mu_ before it touches the entry. Sequentially
    // consistent for batches, which check it without mu_ (see stagers_).
    sub->closed.store(true);
    it->second->removed.store(true, std::memory_order_relaxed);
    retired_.push_back(std::move(it->second));  // queued messages may still point at it
    subs_.erase(it);
  }
  account_->unsubscribe(sub);
}

std::expected<void, std::string> InProcessConn::check_publish(std::string_view subject, std::string_view reply,
                                                             std::string_view payload, int64_t header_size,
                                                             bool subject_checked) const {
  if (!subject_checked && !is_valid_literal_subject(subject)) {
    return std::unexpected(std::string(protocol::err::kInvalidSubject));
  }
  if (!reply.empty() && !is_valid_literal_subject(reply)) {
    return std::unexpected(std::string(protocol::err::kInvalidSubject));
  }
  if (header_size > static_cast<int64_t>(payload.size())) return std::unexpected("header size past the payload");
  const int64_t max = max_payload_.load(std::memory_order_relaxed);
  if (max >= 0 && static_cast<int64_t>(payload.size()) > max) {
    return std::unexpected(std::string(protocol::err::kMaxPayload));
  }
  return {};
}

std::expected<void, std::string> InProcessConn::publish(std::string_view subject, std::string_view reply,
                                                       std::string_view payload, int64_t header_size) {
  if (auto ok = check_publish(subject, reply, payload, header_size); !ok) return ok;
  bool delivered = false;
  {
    std::lock_guard lock(pub_mu_);
    if (closed_.load()) return std::unexpected("connection closed");
    if (perms_ && !perms_->may_publish(subject)) return std::unexpected(publish_violation_text(subject));
    const Delivery d{subject, reply, header_size, payload, account_->name(), MessageOrigin::local, {}, this};
    delivered = route_message(*cache_, d, opts_.echo ? nullptr : this);
    in_msgs_.store(in_msgs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // one writer: pub_mu_
    in_bytes_.store(in_bytes_.load(std::memory_order_relaxed) + payload.size(), std::memory_order_relaxed);
  }
  if (!delivered && !reply.empty()) send_no_responders(reply);
  return {};
}

std::expected<void, std::string> InProcessConn::publish_batch(std::span<const PublishItem> items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    const PublishItem& m = items[i];
    // A subject equal to the one before was found valid already (batches often repeat one).
    const bool repeated = i > 0 && m.subject == items[i - 1].subject;
    if (auto ok = check_publish(m.subject, m.reply, m.payload, m.header_size, repeated); !ok) {
      return std::unexpected("message " + std::to_string(i) + ": " + ok.error());
    }
  }
  std::vector<std::string_view> unanswered;  // requests nobody took: no-responders after the batch
  {
    std::lock_guard lock(pub_mu_);
    if (closed_.load()) return std::unexpected("connection closed");
    if (perms_) {
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (!perms_->may_publish(items[i].subject)) {
          return std::unexpected("message " + std::to_string(i) + ": " + publish_violation_text(items[i].subject));
        }
      }
    }
    Stage stage;
    uint64_t bytes = 0;
    // Runs of messages on one subject without a reply are routed as one (route_run): one
    // lookup, and each in-process receiver counts and stages the run at once.
    thread_local std::vector<Delivery> run;
    const auto flush_run = [&] {
      if (run.empty()) return;
      if (run.size() == 1) {
        (void)route_message(*cache_, run.front(), opts_.echo ? nullptr : this);
      } else {
        route_run(*cache_, run, opts_.echo ? nullptr : this);
      }
      run.clear();
    };
    for (const PublishItem& m : items) {
      bytes += m.payload.size();
      const Delivery d{m.subject, m.reply, m.header_size, m.payload, account_->name(), MessageOrigin::local, {}, this};
      if (m.reply.empty()) {
        if (!run.empty() && run.front().subject != m.subject) flush_run();
        run.push_back(d);
        continue;
      }
      flush_run();
      if (!route_message(*cache_, d, opts_.echo ? nullptr : this)) unanswered.push_back(m.reply);
    }
    flush_run();
    in_msgs_.store(in_msgs_.load(std::memory_order_relaxed) + items.size(), std::memory_order_relaxed);
    in_bytes_.store(in_bytes_.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
    stage.hand_over();
  }
  for (std::string_view reply : unanswered) send_no_responders(reply);
  return {};
}

// Only to this connection's own subscription on the reply subject, as nats-server does.
void InProcessConn::send_no_responders(std::string_view reply) {
  SubPtr target;
  {
    std::lock_guard lock(pub_mu_);
    if (closed_.load()) return;
    for (const auto& sub : cache_->lookup(reply)->plain) {
      if (sub->sink.get() == static_cast<MessageSink*>(this)) {
        target = sub;
        break;
      }
    }
  }
  if (!target) return;
  const Delivery d{reply, {}, static_cast<int64_t>(kNoRespondersStatus.size()), kNoRespondersStatus,
                   account_->name(), MessageOrigin::local, {}};
  (void)deliver(*target, d);
}

bool InProcessConn::deliver(Subscription& sub, const Delivery& msg) {
  if (Stage* stage = Stage::current(); stage != nullptr) return stage_delivery(*stage, sub, msg);
  return deliver_now(sub, msg);
}

bool InProcessConn::deliver_now(Subscription& sub, const Delivery& msg) {
  if (sub.closed.load(std::memory_order_relaxed) || closed_.load(std::memory_order_relaxed)) return false;
  auto* entry = static_cast<Entry*>(sub.sink_data);
  const std::string_view subject = msg.client_subject();
  DirectHandler direct;
  {
    // One lock per message: the check, the count and the queueing together. An entry whose
    // subscription is not closed (checked under this lock) is alive: removal closes it under
    // this lock, and retired entries are freed only once no queued message points at them.
    // What this posts to the dispatch thread is posted under the lock too: close_with() takes
    // it after setting closed_, so nothing is posted once close() returned and the owner may
    // stop that thread (posting to a destroyed io_context was possible before). The drain's
    // wake-up is posted once per burst (drain_posted_), so the lock is rarely held across it.
    std::lock_guard lock(mu_);
    if (entry == nullptr || sub.closed.load(std::memory_order_relaxed) || closed_.load(std::memory_order_relaxed)) {
      return false;
    }
    if (perms_ && perms_->checks_deliveries()) {
      if (perms_->blocks_delivery(subject)) return false;
      perms_->note_reply(msg.reply);
    }
    bool reached = false;
    if (!try_count_delivery(sub, reached)) return false;
    if (entry->direct) {
      direct = entry->direct;
    } else if (exceeds_pending(1, msg.payload.size())) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      if (!std::exchange(slow_, true)) report_slow_consumer(std::string(subject));
    } else {
      if (queue_.empty()) pending_.store(true, std::memory_order_relaxed);
      append_queued(queue_, arena_, entry, msg);
      queued_bytes_ += msg.payload.size();
      // One wake-up until the thread took the queue.
      if (!std::exchange(drain_posted_, true)) asio::post(dispatch_.context(), [self = shared_from_this()] { self->drain(); });
    }
    // Monitoring counts, under the same lock (snapshot() and add_own_traffic() read them under it).
    ++out_msgs_;
    out_bytes_ += msg.payload.size();
    if (reached) post_removal(sub);
  }
  if (direct) direct(msg);
  return true;  // taken (or dropped as a client library drops it): it was routed to us
}

bool InProcessConn::stage_delivery(Stage& stage, Subscription& sub, const Delivery& msg) {
  Staged& staged = stage.slot_for(*this);  // raises stagers_ first: the entry stays alive
  auto* entry = static_cast<Entry*>(sub.sink_data);
  if (entry == nullptr || sub.closed.load() || closed_.load()) return false;
  // A waiter to wake now, not at the batch end; or permissions, whose state is under mu_.
  if (entry->direct || has_perms_.load(std::memory_order_relaxed)) return deliver_now(sub, msg);
  bool reached = false;
  if (!try_count_delivery(sub, reached)) return false;
  append_queued(staged.queue, staged.arena, entry, msg);
  staged.bytes += msg.payload.size();
  if (reached) post_removal(sub);
  return true;
}

bool InProcessConn::deliver_run(Subscription& sub, std::span<const Delivery> run) {
  Stage* stage = Stage::current();
  if (stage == nullptr) return MessageSink::deliver_run(sub, run);
  Staged& staged = stage->slot_for(*this);  // raises stagers_ first: the entry stays alive
  auto* entry = static_cast<Entry*>(sub.sink_data);
  if (entry == nullptr || sub.closed.load() || closed_.load()) return false;
  // Direct handlers and permissions: one at a time, as stage_delivery() does.
  if (entry->direct || has_perms_.load(std::memory_order_relaxed)) return MessageSink::deliver_run(sub, run);
  bool reached = false;
  const uint64_t granted = try_count_deliveries(sub, run.size(), reached);
  for (const Delivery& msg : run.first(static_cast<std::size_t>(granted))) {
    append_queued(staged.queue, staged.arena, entry, msg);
    staged.bytes += msg.payload.size();
  }
  if (reached) post_removal(sub);
  return granted > 0;
}

void InProcessConn::take_staged(Staged& staged) {
  bool post = false;
  std::string slow_subject;
  {
    std::lock_guard lock(mu_);
    if (!closed_.load()) {
      const std::size_t n = staged.queue.size();
      if (n > 0 && queue_.empty()) pending_.store(true, std::memory_order_relaxed);
      if (queue_.empty() && arena_.empty() && !exceeds_pending(n, staged.bytes)) {
        // The batch's buffers become the queue: no copy.
        queue_.swap(staged.queue);
        arena_.swap(staged.arena);
        queued_bytes_ = staged.bytes;
      } else {
        const std::string_view bytes = staged.arena;
        for (Queued q : staged.queue) {
          const std::size_t len = q.subject_len + q.reply_len + q.payload_len;
          if (exceeds_pending(1, q.payload_len)) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            if (!std::exchange(slow_, true)) slow_subject.assign(bytes.substr(q.offset, q.subject_len));
            continue;
          }
          const std::size_t offset = arena_.size();
          arena_.append(bytes.substr(q.offset, len));
          q.offset = offset;
          queue_.push_back(q);
          queued_bytes_ += q.payload_len;
        }
      }
      if (!queue_.empty()) post = !std::exchange(drain_posted_, true);
      out_msgs_ += n;
      out_bytes_ += staged.bytes;
    }
  }
  if (!slow_subject.empty()) report_slow_consumer(std::move(slow_subject));
  if (post) asio::post(dispatch_.context(), [self = shared_from_this()] { self->drain(); });
  // Last: close_with() waits for this before it lets the owner stop the dispatch thread.
  stagers_.fetch_sub(1);
}

bool InProcessConn::exceeds_pending(std::size_t more_msgs, std::size_t more_bytes) const {
  return (opts_.max_pending_msgs > 0 && static_cast<int64_t>(queue_.size() + more_msgs) > opts_.max_pending_msgs) ||
         (opts_.max_pending_bytes > 0 && static_cast<int64_t>(queued_bytes_ + more_bytes) > opts_.max_pending_bytes);
}

void InProcessConn::append_queued(std::vector<Queued>& queue, std::string& arena, Entry* entry, const Delivery& msg) {
  const std::string_view subject = msg.client_subject();
  const std::size_t offset = arena.size();
  arena.append(subject).append(msg.reply).append(msg.payload);
  queue.push_back(Queued{entry, offset, static_cast<uint32_t>(subject.size()), static_cast<uint32_t>(msg.reply.size()),
                         msg.header_size, msg.payload.size()});
}

void InProcessConn::report_slow_consumer(std::string subject) {
  server_.counters().slow_consumers.fetch_add(1, std::memory_order_relaxed);
  if (account_ != nullptr) account_->count_slow_consumer();
  post_event(InProcessEvent::slow_consumer, std::move(subject));
}

void InProcessConn::post_removal(const Subscription& sub) {
  // Not from inside the routing call that is iterating the index: on the dispatch thread.
  asio::post(dispatch_.context(), [self = shared_from_this(), sid = std::strtoull(sub.sid.c_str(), nullptr, 10),
                                   id = sub.id] { self->remove_subscription(sid, id); });
}

void InProcessConn::drain() {
  // Takes the queue until it stays empty: while this runs, drain_posted_ stays set, so
  // publishers append without posting another wake-up (one per burst, not one per batch).
  // Bounded, so that a publisher that never pauses cannot keep other work of the dispatch
  // thread (events, flush markers, its ticker) waiting: past the bound it posts itself again.
  constexpr int kRoundsPerTurn = 64;
  for (int round = 0;; ++round) {
    if (round == kRoundsPerTurn) {
      asio::post(dispatch_.context(), [self = shared_from_this()] { self->drain(); });
      return;
    }
    // After a batch, a publisher that streams is likely to queue more within microseconds:
    // waiting for it here is cheaper than going to sleep and being woken per burst.
    if (round > 0) linger_for_more();
    std::vector<std::shared_ptr<Entry>> unreferenced;  // destroyed outside the lock
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        // Nothing queued and no batch in hand: no message points at a retired entry, unless a
        // batch of another thread is about to hand some over (stagers_).
        if (stagers_.load() == 0) unreferenced.swap(retired_);
        drain_posted_ = false;
        slow_ = false;
        return;
      }
      draining_.swap(queue_);
      draining_arena_.swap(arena_);
      pending_.store(false, std::memory_order_relaxed);
      // Entries retired from here on may be pointed at by the next batch, not by this one.
      // While batches of other threads stage for us, they stay in retired_ (later drains).
      if (stagers_.load() == 0) draining_retired_.swap(retired_);
      queued_bytes_ = 0;
      slow_ = false;
      if (round == 0) last_activity_ = std::chrono::system_clock::now();
    }
    dispatch_.begin_batch();
    const std::string_view bytes = draining_arena_;
    for (const Queued& q : draining_) {
      if (closed_.load(std::memory_order_relaxed)) break;
      // A subscription removed after its message was queued gets nothing more; one with an
      // auto-unsubscribe maximum gets at most that many, also of those queued before the
      // maximum was set (as a client library stops at it).
      const int64_t max = q.entry->limit.load(std::memory_order_relaxed);
      if (max > 0 ? q.entry->handled >= static_cast<uint64_t>(max) : q.entry->removed.load(std::memory_order_relaxed)) {
        continue;
      }
      ++q.entry->handled;
      InProcessMessage m;
      m.subject = bytes.substr(q.offset, q.subject_len);
      m.reply = bytes.substr(q.offset + q.subject_len, q.reply_len);
      m.header_size = q.header_size;
      m.payload = bytes.substr(q.offset + q.subject_len + q.reply_len, q.payload_len);
      q.entry->handler(m);
    }
    dispatch_.flush_pending();
    draining_.clear();
    draining_arena_.clear();
    draining_retired_.clear();
    if (draining_.capacity() > 4096) std::vector<Queued>().swap(draining_);
    if (draining_arena_.capacity() > (1u << 20)) std::string().swap(draining_arena_);
  }
}

void InProcessConn::linger_for_more() {
  // Bounded by time (a few wake-ups' worth). Once a message is there it waits a little more,
  // so that the next batch is more than one message: each batch takes mu_ from the publisher,
  // and the line moving between the two threads' caches is what a batch costs.
  constexpr auto kLinger = std::chrono::microseconds(20);
  constexpr auto kGather = std::chrono::microseconds(2);
  const bool more = SpinMutex::spin_until(
      [&] { return pending_.load(std::memory_order_relaxed) || closed_.load(std::memory_order_relaxed); }, kLinger);
  if (more && !closed_.load(std::memory_order_relaxed)) SpinMutex::spin_until([] { return false; }, kGather);
}

void InProcessConn::post_event(InProcessEvent kind, std::string text) {
  if (!events_) return;
  asio::post(dispatch_.context(), [self = shared_from_this(), kind, text = std::move(text)] { self->events_(kind, text); });
}

void InProcessConn::notify_lame_duck() { post_event(InProcessEvent::lame_duck, {}); }

void InProcessConn::recheck_authorization(bool credentials_changed) {
  if (!credentials_changed) return;
  if (!server_.options()->auth_required()) {
    reload_permissions(nullptr);  // as a TCP client: no users any more, so no permissions either
    return;
  }
  Credentials credentials{opts_.user, opts_.pass, opts_.token};
  credentials.connection_type = "IN_PROCESS";
  const auto auth = server_.authenticate(credentials);
  // As a TCP client: a user that is gone or moved to another account is closed, credentials
  // that no longer pass are a violation.
  const std::string& user = opts_.user.empty() ? user_ : opts_.user;
  if (server_.options()->user_moved_or_gone(user, "", account_->name()) || (auth && auth->account != account_)) {
    close_with(CloseReason::client_closed, "");
    return;
  }
  if (!auth) {
    close_with(CloseReason::authentication_violation, protocol::err::kAuthorizationViolation);
    return;
  }
  reload_permissions(auth->permissions);
}

// New rules (as a TCP client): fresh state, and the subscriptions they no longer allow go,
// each reported as an error event with nats-server's text.
void InProcessConn::reload_permissions(const std::shared_ptr<const PermissionRules>& rules) {
  std::vector<std::pair<uint64_t, SubPtr>> refused;
  {
    std::scoped_lock lock(pub_mu_, mu_);
    const bool same = perms_ ? rules != nullptr && perms_->rules().config() == rules->config() : rules == nullptr;
    if (same || closed_.load()) return;
    perms_ = rules ? std::make_shared<ConnPermissions>(rules) : nullptr;
    has_perms_.store(perms_ != nullptr);
    if (!perms_) return;
    for (const auto& [sid, e] : subs_) {
      if (!perms_->may_subscribe(e->sub->subject, e->sub->queue)) refused.emplace_back(sid, e->sub);
    }
  }
  for (const auto& [sid, sub] : refused) {
    remove_subscription(sid, sub->id);
    post_event(InProcessEvent::error, removed_subscription_text(sub->subject, sub->sid));
  }
}

void InProcessConn::hand_over_staged() {
  if (!dispatch_.in_this_thread() || !dispatch_.in_batch()) return;
  dispatch_.flush_pending();
  dispatch_.begin_batch();
}

void InProcessConn::close_with(CloseReason reason, std::string_view text) {
  {
    // Waits for a publish in flight: after this, nothing of ours touches the server's index.
    std::lock_guard lock(pub_mu_);
    if (closed_.exchange(true)) return;
    // The cache holds subscriptions whose sink is this connection: a cycle, were it kept.
    // Nothing reads it once closed_ is set (publish, no-responders and the sweep check it).
    cache_.reset();
  }
  std::vector<SubPtr> subs;
  std::vector<std::shared_ptr<Entry>> graveyard;
  {
    std::lock_guard lock(mu_);
    for (auto& [sid, e] : subs_) {
      e->sub->closed.store(true);  // sequentially consistent: see stagers_
      e->removed.store(true, std::memory_order_relaxed);
      subs.push_back(e->sub);
      graveyard.push_back(std::move(e));
    }
    for (auto& e : retired_) graveyard.push_back(std::move(e));
    retired_.clear();
    subs_.clear();
    queue_.clear();
    arena_.clear();
    queued_bytes_ = 0;
  }
  // Batches of other threads that staged for us before the close may still point at these
  // entries and post to the dispatch thread: wait for them (they only route and hand over,
  // never wait for this thread), so that neither outlives the entries or the owner's thread.
  while (stagers_.load() != 0) std::this_thread::yield();
  if (!subs.empty()) account_->unsubscribe_batch(subs);
  account_->remove_connection();
  ConnSnapshot snap = snapshot(false);
  snap.stop = std::chrono::system_clock::now();
  snap.reason = reason;
  server_.client_closed(*this, std::move(snap));
  // A drain in progress may still hold pointers to the entries: they go on the dispatch
  // thread, after it (or with its context, when the owner stopped that thread).
  if (!graveyard.empty()) asio::post(dispatch_.context(), [graveyard = std::move(graveyard)] {});
  if (!text.empty()) post_event(InProcessEvent::error, std::string(text));
  post_event(InProcessEvent::closed, close_reason_text(reason));
  asio::post(dispatch_.context(), [self = shared_from_this()] {
    if (self->tick_slot_ != SIZE_MAX) self->dispatch_.remove_tickable(self.get());
  });
}

void InProcessConn::on_tick(std::chrono::steady_clock::time_point /*now*/) {
  std::unique_lock lock(pub_mu_, std::try_to_lock);
  if (lock.owns_lock() && !closed_.load()) cache_->sweep();
}

void InProcessConn::add_own_traffic(TrafficCounts& into) const {
  into.in_msgs += in_msgs_.load(std::memory_order_relaxed);
  into.in_bytes += in_bytes_.load(std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  into.out_msgs += out_msgs_;
  into.out_bytes += out_bytes_;
}

ConnSnapshot InProcessConn::snapshot(bool with_subs) const {
  ConnSnapshot s;
  s.cid = cid_;
  s.ip = "pipe";
  s.port = 0;
  s.start = start_;
  s.in_msgs = in_msgs_.load(std::memory_order_relaxed);
  s.in_bytes = in_bytes_.load(std::memory_order_relaxed);

  s.name = opts_.name;
  s.lang = opts_.lang;
  s.version = opts_.version;
  s.authorized_user = user_;
  s.account = account_ != nullptr ? account_->name() : std::string();
  std::lock_guard lock(mu_);
  s.last_activity = last_activity_;
  s.out_msgs = out_msgs_;
  s.out_bytes = out_bytes_;
  s.pending_bytes = queued_bytes_;
  s.num_subs = static_cast<uint32_t>(subs_.size());
  if (with_subs) {
    for (const auto& [sid, e] : subs_) {
      const Subscription& sub = *e->sub;
      s.subs.push_back(SubInfo{s.account, sub.subject, sub.queue, sub.sid,
                               static_cast<int64_t>(sub.delivered.load(std::memory_order_relaxed)),
                               sub.max_msgs.load(std::memory_order_relaxed), cid_});
    }
  }
  return s;
}

}  // namespace forest::broker
