#include "internal_client.hpp"

#include "account.hpp"
#include "io_thread.hpp"
#include "publish.hpp"
#include "server.hpp"

namespace forest::broker {

InternalClient::InternalClient(Server& server, IoThread& thread, std::string name)
    : server_(server), thread_(thread), name_(std::move(name)) {}

InternalClient::~InternalClient() = default;

bool InternalClient::on_own_thread() const { return IoThread::current() == &thread_; }

SubPtr InternalClient::subscribe(Account& account, std::string_view subject, std::string_view queue, Handler handler,
                                 bool node_local) {
  auto sub = std::make_shared<Subscription>();
  sub->node_local = node_local;
  sub->sink = shared_from_this();
  sub->subject.assign(subject);
  sub->queue.assign(queue);
  sub->sid = std::to_string(sub->id);
  {
    std::lock_guard lock(mu_);
    handlers_.emplace(sub->id, std::make_shared<Handler>(std::move(handler)));
  }
  if (!account.subscribe(sub)) {
    std::lock_guard lock(mu_);
    handlers_.erase(sub->id);
    return nullptr;
  }
  return sub;
}

void InternalClient::unsubscribe(Account& account, const SubPtr& sub) {
  if (!sub) return;
  sub->closed.store(true, std::memory_order_relaxed);
  account.unsubscribe(sub);
  std::lock_guard lock(mu_);
  handlers_.erase(sub->id);
}

bool InternalClient::deliver(Subscription& sub, const Delivery& msg) {
  if (sub.closed.load(std::memory_order_relaxed)) return false;
  bool reached = false;
  if (!try_count_delivery(sub, reached)) return false;
  Queued q;
  q.sub_id = sub.id;
  q.msg.account = server_.find_account_cached(msg.account);
  q.msg.subject.assign(msg.client_subject());
  q.msg.reply.assign(msg.reply);
  q.msg.header_size = msg.header_size;
  q.msg.payload.assign(msg.payload);
  q.msg.origin = msg.origin;
  bool post = false;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(q));
    // One wake-up until the thread has taken the queue, however many messages arrive.
    post = !std::exchange(drain_posted_, true);
  }
  if (post) asio::post(thread_.context(), [self = shared_from_this()] { self->drain(); });
  return true;
}

void InternalClient::drain() {
  {
    std::lock_guard lock(mu_);
    draining_.swap(queue_);
    drain_posted_ = false;
  }
  thread_.begin_batch();
  for (Queued& q : draining_) {
    std::shared_ptr<Handler> handler;
    {
      std::lock_guard lock(mu_);
      auto it = handlers_.find(q.sub_id);
      if (it != handlers_.end()) handler = it->second;
    }
    if (handler && q.msg.account != nullptr) (*handler)(q.msg);
  }
  if (turn_end_) turn_end_();
  thread_.flush_pending();
  draining_.clear();
  if (draining_.capacity() > 4096) std::vector<Queued>().swap(draining_);
}

bool InternalClient::publish(Account& account, std::string_view subject, std::string_view reply,
                             std::string_view payload, int64_t header_size, std::string_view shown_subject) {
  Delivery d{subject, reply, header_size, payload, account.name(), MessageOrigin::local, {}};
  d.shown_subject = shown_subject;
  server_.counters().in_msgs.fetch_add(1, std::memory_order_relaxed);
  server_.counters().in_bytes.fetch_add(payload.size(), std::memory_order_relaxed);
  return route_message(thread_.cache_for(account), d, nullptr);
}

void InternalClient::run(std::function<void()> fn) {
  auto work = [this, fn = std::move(fn)] {
    const bool outer = !thread_.in_batch();
    if (outer) thread_.begin_batch();
    fn();
    if (outer) thread_.flush_pending();
  };
  if (on_own_thread()) {
    work();
  } else {
    asio::post(thread_.context(), [self = shared_from_this(), work = std::move(work)] { work(); });
  }
}

}  // namespace forest::broker
