// Connection's inside (not installed): the broker's in-process connection, its dispatch
// thread, and the request multiplexer. Shared by server.cpp (which makes connections) and
// connection.cpp.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "forest/connection.hpp"
#include "inprocess_conn.hpp"
#include "io_thread.hpp"

namespace forest {

struct Subscription::Shared {
  std::weak_ptr<broker::InProcessConn> conn;
};

struct Connection::Impl {
  // Declared first, destroyed last: handlers still queued on it hold the connection.
  std::unique_ptr<broker::IoThread> dispatch;
  std::shared_ptr<broker::InProcessConn> conn;
  std::shared_ptr<Subscription::Shared> shared;

  // Requests: one wildcard reply subscription (<inbox_prefix>*), waiters by reply token.
  // Shared with that subscription's handler, which may still run on a publisher's thread
  // while the connection goes away.
  struct Waiter {
    std::optional<Message> reply;   // under Mux::mu
    std::atomic<bool> arrived{false};  // set after `reply`: what a spinning requester watches
  };
  struct Mux {
    std::mutex mu;
    std::condition_variable cv;
    std::string inbox_prefix;  // "_INBOX.<random>."
    bool ready = false;
    bool closed = false;
    uint64_t next_token = 0;
    std::unordered_map<std::string, std::shared_ptr<Waiter>> waiters;
  };
  std::shared_ptr<Mux> mux = std::make_shared<Mux>();
};

}  // namespace forest
