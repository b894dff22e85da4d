// The embedding app's client connection (the broker's in-process connection kind): publish,
// subscribe with queue groups and auto-unsubscribe, request/reply, with a TCP client's
// semantics and no TCP or protocol text in between.
//
// Threads: every method may be called from any thread, callbacks included. Subscription
// handlers run on the connection's own dispatch thread, one at a time and in order; a handler
// may publish and may call request() (its reply does not go through the dispatch thread), as
// long as the responder is not a subscription of this same connection (that one would wait
// for the thread the request blocks: use a second connection).
// A Connection may be destroyed from one of its own handlers (its thread then ends when the
// handler returns).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "forest/message.hpp"

namespace forest {

class Connection;

enum class ConnectionEvent { closed, lame_duck, slow_consumer, error };

struct ConnectOptions {
  // Every member has a default, so designated initializers may name any few of them.
  std::string name{};     // shown in /connz
  bool echo = true;       // false: this connection's own publishes do not come back to it
  std::string user{}, pass{}, token{};  // when the server requires authorization
  // Per connection; past them messages are dropped (slow consumer). <= 0: no limit.
  int64_t max_pending_msgs = 65536;
  int64_t max_pending_bytes = 64LL << 20;
  // Runs on the dispatch thread.
  std::function<void(ConnectionEvent, std::string_view)> on_event{};
};

// A subscription handle. Unsubscribes when destroyed unless release()d (the subscription then
// lives as long as the connection).
class Subscription {
 public:
  Subscription() = default;
  Subscription(Subscription&& other) noexcept;
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  std::expected<void, Error> unsubscribe();
  // Removes it once it received `max` messages in all (as UNSUB <sid> <max>).
  std::expected<void, Error> auto_unsubscribe(int64_t max);
  void release() { conn_.reset(); }
  [[nodiscard]] bool valid() const { return conn_ != nullptr; }
  [[nodiscard]] uint64_t sid() const { return sid_; }

  struct Shared;  // opaque: the connection it belongs to

 private:
  friend class Connection;
  Subscription(std::shared_ptr<Shared> conn, uint64_t sid) : conn_(std::move(conn)), sid_(sid) {}
  std::shared_ptr<Shared> conn_;
  uint64_t sid_ = 0;
};

class Connection {
 public:
  using Handler = std::function<void(const Message&)>;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::expected<void, Error> publish(std::string_view subject, std::string_view data);
  std::expected<void, Error> publish(const Message& msg);  // subject, reply, headers, data
  // Many messages in one call, in order: what a TCP client gets from buffering its writes. The
  // server routes them under one lock and hands each in-process subscriber its share at once.
  // All are checked first; one invalid message (its index in the error) publishes none.
  std::expected<void, Error> publish_batch(std::span<const Message> msgs);
  std::expected<Subscription, Error> subscribe(std::string_view subject, Handler handler);
  std::expected<Subscription, Error> queue_subscribe(std::string_view subject, std::string_view queue,
                                                     Handler handler);
  // Publishes with a fresh inbox as reply and waits for the first answer. No subscriber: an
  // Error with status 503 at once; no answer in time: status 408.
  std::expected<Message, Error> request(std::string_view subject, std::string_view data,
                                        std::chrono::milliseconds timeout);
  std::expected<Message, Error> request(const Message& msg, std::chrono::milliseconds timeout);
  // Waits until every message routed to this connection before the call has been handed to
  // its handler (publishing is synchronous: the server has what was published).
  std::expected<void, Error> flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  [[nodiscard]] std::string new_inbox() const;

  void close();
  [[nodiscard]] bool closed() const;
  [[nodiscard]] uint64_t client_id() const;
  [[nodiscard]] uint64_t dropped() const;  // messages dropped as a slow consumer

  struct Impl;

 private:
  friend class Server;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace forest
