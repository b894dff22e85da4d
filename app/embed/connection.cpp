#include "forest/connection.hpp"

#include <atomic>
#include <future>
#include <random>
#include <thread>

#include "connection_impl.hpp"
#include "spin_mutex.hpp"

namespace forest {

namespace {

Error error_of(std::string text) { return Error{std::move(text), 0, 0}; }

// 22 characters of [A-Za-z0-9], as nats.go's nuid-based inboxes.
std::string random_token() {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::string out(22, 'A');
  for (char& c : out) c = kAlphabet[pick(rng)];
  return out;
}

// Into a Message the handler wrapper reuses: after the first messages, no allocation.
void assign(Message& out, const broker::InProcessMessage& m) {
  out.subject.assign(m.subject);
  out.reply.assign(m.reply);
  out.headers.assign(m.headers());
  out.data.assign(m.body());
}

Message to_message(const broker::Delivery& d) {
  Message out;
  out.subject.assign(d.client_subject());
  out.reply.assign(d.reply);
  if (d.header_size >= 0) {
    const auto n = static_cast<std::size_t>(d.header_size);
    out.headers.assign(d.payload.substr(0, n));
    out.data.assign(d.payload.substr(n));
  } else {
    out.data.assign(d.payload);
  }
  return out;
}

std::expected<void, Error> route(broker::InProcessConn& c, const Message& msg) {
  std::expected<void, std::string> r;
  if (msg.headers.empty()) {
    r = c.publish(msg.subject, msg.reply, msg.data);
  } else {
    std::string payload;
    payload.reserve(msg.headers.size() + msg.data.size());
    payload.append(msg.headers).append(msg.data);
    r = c.publish(msg.subject, msg.reply, payload, static_cast<int64_t>(msg.headers.size()));
  }
  if (!r) return std::unexpected(error_of(r.error()));
  return {};
}

// Many in-process answers come within tens of microseconds (a JetStream ack is one RocksDB
// write away): waiting for them awake costs less than going to sleep on the condition
// variable and being woken, two system calls and a context switch. Bounded; yields between
// checks so that the responder's thread gets the processor on a busy machine.
void wait_briefly(const Connection::Impl::Waiter& waiter) {
  constexpr auto kSpin = std::chrono::microseconds(50);
  (void)broker::SpinMutex::spin_until([&] { return waiter.arrived.load(std::memory_order_acquire); }, kSpin);
}

}  // namespace

// --- Subscription

Subscription::Subscription(Subscription&& other) noexcept
    : conn_(std::move(other.conn_)), sid_(std::exchange(other.sid_, 0)) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    (void)unsubscribe();
    conn_ = std::move(other.conn_);
    sid_ = std::exchange(other.sid_, 0);
  }
  return *this;
}

Subscription::~Subscription() { (void)unsubscribe(); }

std::expected<void, Error> Subscription::unsubscribe() {
  if (!conn_) return std::unexpected(error_of("invalid subscription"));
  auto shared = std::exchange(conn_, nullptr);
  auto c = shared->conn.lock();
  if (!c || c->closed()) return std::unexpected(error_of("connection closed"));
  if (auto r = c->unsubscribe(sid_); !r) return std::unexpected(error_of(r.error()));
  return {};
}

std::expected<void, Error> Subscription::auto_unsubscribe(int64_t max) {
  if (!conn_) return std::unexpected(error_of("invalid subscription"));
  if (max <= 0) return std::unexpected(error_of("the maximum must be positive"));
  auto c = conn_->conn.lock();
  if (!c || c->closed()) return std::unexpected(error_of("connection closed"));
  if (auto r = c->unsubscribe(sid_, max); !r) return std::unexpected(error_of(r.error()));
  return {};
}

// --- Connection

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Connection::~Connection() {
  close();
  impl_->dispatch->stop();
  if (impl_->dispatch->in_this_thread()) {
    // Destroyed from one of its own handlers: that thread cannot join itself. It ends when the
    // handler returns; a helper thread joins it then.
    std::thread([t = impl_->dispatch.release()] {
      t->join();
      delete t;
    }).detach();
    return;
  }
  impl_->dispatch->join();
}

void Connection::close() {
  impl_->conn->close();
  std::lock_guard lock(impl_->mux->mu);
  impl_->mux->closed = true;
  impl_->mux->cv.notify_all();  // requests in flight give up
}

bool Connection::closed() const { return impl_->conn->closed(); }
uint64_t Connection::client_id() const { return impl_->conn->cid(); }
uint64_t Connection::dropped() const { return impl_->conn->dropped(); }
std::string Connection::new_inbox() const { return "_INBOX." + random_token(); }

std::expected<void, Error> Connection::publish(std::string_view subject, std::string_view data) {
  if (auto r = impl_->conn->publish(subject, {}, data); !r) return std::unexpected(error_of(r.error()));
  return {};
}

std::expected<void, Error> Connection::publish(const Message& msg) { return route(*impl_->conn, msg); }

std::expected<void, Error> Connection::publish_batch(std::span<const Message> msgs) {
  // Reused per thread: a batch allocates nothing once warm (a publisher's loop calls this
  // thousands of times a second). publish_batch() never re-enters this from the same thread.
  thread_local std::vector<broker::InProcessConn::PublishItem> items;
  thread_local std::vector<std::string> joined;  // header block + data, for messages with headers
  items.clear();
  joined.clear();
  for (const Message& m : msgs) {
    if (!m.headers.empty()) joined.push_back(m.headers + m.data);
  }
  std::size_t next_joined = 0;
  for (const Message& m : msgs) {
    if (m.headers.empty()) {
      items.push_back({m.subject, m.reply, m.data, -1});
    } else {
      items.push_back({m.subject, m.reply, joined[next_joined++], static_cast<int64_t>(m.headers.size())});
    }
  }
  if (auto r = impl_->conn->publish_batch(items); !r) return std::unexpected(error_of(r.error()));
  return {};
}

std::expected<Subscription, Error> Connection::subscribe(std::string_view subject, Handler handler) {
  return queue_subscribe(subject, {}, std::move(handler));
}

std::expected<Subscription, Error> Connection::queue_subscribe(std::string_view subject, std::string_view queue,
                                                               Handler handler) {
  // Handlers of one subscription run one at a time on the dispatch thread: one Message to
  // fill per subscription.
  auto reused = std::make_shared<Message>();
  auto sid = impl_->conn->subscribe(subject, queue,
                                    [handler = std::move(handler), reused](const broker::InProcessMessage& m) {
                                      assign(*reused, m);
                                      handler(*reused);
                                    });
  if (!sid) return std::unexpected(error_of(sid.error()));
  return Subscription(impl_->shared, *sid);
}

std::expected<Message, Error> Connection::request(std::string_view subject, std::string_view data,
                                                  std::chrono::milliseconds timeout) {
  Message m;
  m.subject.assign(subject);
  m.data.assign(data);
  return request(m, timeout);
}

std::expected<Message, Error> Connection::request(const Message& msg, std::chrono::milliseconds timeout) {
  const std::shared_ptr<Impl::Mux> mux = impl_->mux;
  std::string token;
  auto waiter = std::make_shared<Impl::Waiter>();
  {
    std::unique_lock lock(mux->mu);
    if (mux->closed || impl_->conn->closed()) return std::unexpected(error_of("connection closed"));
    if (!mux->ready) {
      // The reply subscription is direct: replies reach their waiter without the dispatch
      // thread, so a handler may make requests.
      const std::string prefix = "_INBOX." + random_token() + ".";
      auto sid = impl_->conn->subscribe_direct(prefix + "*", [mux, n = prefix.size()](const broker::Delivery& d) {
        const std::string_view subject = d.client_subject();
        if (subject.size() <= n) return;
        std::lock_guard guard(mux->mu);
        auto it = mux->waiters.find(std::string(subject.substr(n)));
        if (it == mux->waiters.end() || it->second->reply) return;  // late or second answer
        it->second->reply = to_message(d);
        it->second->arrived.store(true, std::memory_order_release);
        mux->cv.notify_all();
      });
      if (!sid) return std::unexpected(error_of(sid.error()));
      mux->inbox_prefix = prefix;
      mux->ready = true;
    }
    token = std::to_string(++mux->next_token);
    mux->waiters.emplace(token, waiter);
  }
  Message out = msg;
  out.reply = mux->inbox_prefix + token;
  auto sent = route(*impl_->conn, out);
  // From a handler, the request (and what the handler published before it) would otherwise
  // wait for the end of the handler to reach a TCP client or a route.
  impl_->conn->hand_over_staged();
  if (sent) wait_briefly(*waiter);
  std::unique_lock lock(mux->mu);
  if (sent) {
    // In slices: a close that happens while this blocks the dispatch thread cannot run the
    // closed event that would wake it.
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!waiter->reply && !mux->closed && !impl_->conn->closed() && std::chrono::steady_clock::now() < until) {
      mux->cv.wait_until(lock, std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
    }
  }
  mux->waiters.erase(token);
  if (!sent) return std::unexpected(sent.error());
  if (!waiter->reply) {
    if (mux->closed || impl_->conn->closed()) return std::unexpected(error_of("connection closed"));
    return std::unexpected(Error{"timeout", 408, 0});
  }
  if (waiter->reply->status() == 503 && waiter->reply->data.empty()) {
    return std::unexpected(Error{"no responders", 503, 0});
  }
  return std::move(*waiter->reply);
}

std::expected<void, Error> Connection::flush(std::chrono::milliseconds timeout) {
  if (closed()) return std::unexpected(error_of("connection closed"));
  if (impl_->dispatch->in_this_thread()) return {};  // inside a handler: everything before it ran
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  boost::asio::post(impl_->dispatch->context(), [done] { done->set_value(); });
  if (fut.wait_for(timeout) != std::future_status::ready) return std::unexpected(Error{"timeout", 408, 0});
  return {};
}

}  // namespace forest
