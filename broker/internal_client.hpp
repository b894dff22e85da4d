// A client without a socket, for services inside the server (the JetStream API and its
// streams and consumers; later the forest app's in-process client).
//
// Its subscriptions live in the account indexes like a client's (so interest reaches routes
// the same way), but deliver() never runs a handler: it copies the message into a queue and
// wakes the client's own thread (an IoThread that serves no sockets), where handlers run one
// at a time. What handlers publish goes through the same routing as a client's publish, staged
// per turn: all the replies, pub acks and deliveries of one turn reach each receiver in one
// hand-over, not one post per message.
//
// Threads: subscribe/unsubscribe from any thread; publish() only on the client's thread, from
// a handler or inside run() (which opens a batch around the work it is given).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "subscription.hpp"

namespace forest::broker {

class Account;
class IoThread;
class Server;

// A message as an internal handler sees it: owned copies, valid for the handler's call.
struct InternalMessage {
  Account* account = nullptr;  // the account it was published in
  std::string subject;
  std::string reply;
  int64_t header_size = -1;  // -1: no headers; else the first header_size bytes of payload
  std::string payload;       // headers + body
  MessageOrigin origin = MessageOrigin::local;

  [[nodiscard]] std::string_view headers() const {
    return header_size < 0 ? std::string_view{} : std::string_view(payload).substr(0, static_cast<std::size_t>(header_size));
  }
  [[nodiscard]] std::string_view body() const {
    return header_size < 0 ? std::string_view(payload) : std::string_view(payload).substr(static_cast<std::size_t>(header_size));
  }
};

class InternalClient final : public MessageSink, public std::enable_shared_from_this<InternalClient> {
 public:
  using Handler = std::function<void(const InternalMessage&)>;

  InternalClient(Server& server, IoThread& thread, std::string name);
  ~InternalClient() override;

  // From any thread. The handler runs on this client's thread. nullptr on an invalid subject.
  // `node_local`: the interest is not sent to routes (see Subscription::node_local).
  [[nodiscard]] SubPtr subscribe(Account& account, std::string_view subject, std::string_view queue, Handler handler,
                                 bool node_local = false);
  void unsubscribe(Account& account, const SubPtr& sub);

  // On this client's thread: routes a message as a client's publish would (local subscribers,
  // queue groups, routes). Returns whether anyone took it. `shown_subject`: see Delivery.
  bool publish(Account& account, std::string_view subject, std::string_view reply, std::string_view payload,
               int64_t header_size = -1, std::string_view shown_subject = {});
  // Runs `fn` on this client's thread inside a batch (what it publishes is handed over at the
  // end). From any thread; from this thread it runs at once.
  void run(std::function<void()> fn);

  // Runs on this client's thread after the handlers of one turn (every message taken from the
  // queue in one wake-up) and before what they published is handed over: the place to commit
  // work the handlers gathered, once per turn (JetStream's group commit). Set it before the
  // first subscribe; it is not called for run().
  void set_turn_end(std::function<void()> fn) { turn_end_ = std::move(fn); }

  [[nodiscard]] IoThread& thread() const { return thread_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] bool on_own_thread() const;

  // MessageSink
  bool deliver(Subscription& sub, const Delivery& msg) override;

 private:
  struct Queued {
    uint64_t sub_id;
    InternalMessage msg;
  };
  void drain();

  Server& server_;
  IoThread& thread_;
  std::string name_;

  std::mutex mu_;  // guards queue_, handlers_
  std::vector<Queued> queue_;
  bool drain_posted_ = false;
  // By Subscription::id; shared so that an unsubscribe on another thread cannot destroy a
  // handler while it runs.
  std::unordered_map<uint64_t, std::shared_ptr<Handler>> handlers_;
  std::vector<Queued> draining_;  // this thread's
  std::function<void()> turn_end_;  // this thread's (set before messages can arrive)
};

}  // namespace forest::broker
