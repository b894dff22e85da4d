// Wind: the forest's plain pub/sub of leaves (the Go app's internal/core/wind.go), on an
// in-process connection. drop() publishes a leaf's JSON on the leaf's own subject; catch
// subscribes with NATS wildcards (optionally in a queue group) and hands valid leaves to the
// handler. What does not decode as a valid leaf is logged and skipped, as the Go app does.
#pragma once

#include <atomic>
#include <expected>
#include <functional>
#include <string>
#include <string_view>

#include <forest/connection.hpp>

#include "app/core/leaf.hpp"

namespace forest::app {

using LogFn = std::function<void(std::string_view)>;

class Wind {
 public:
  using LeafHandler = std::function<void(const Leaf&)>;

  explicit Wind(forest::Connection& conn, LogFn log = {}) : conn_(conn), log_(std::move(log)) {}

  // Validates, encodes as the Go app does, publishes on leaf.subject (no reply, no headers).
  std::expected<void, forest::Error> drop(const Leaf& leaf);
  // Every matching valid leaf. The subscription ends with the returned handle.
  std::expected<forest::Subscription, forest::Error> catch_leaves(std::string_view pattern, LeafHandler handler);
  // One member of the queue group gets each leaf.
  std::expected<forest::Subscription, forest::Error> catch_leaves_with_queue(std::string_view pattern,
                                                                             std::string_view queue,
                                                                             LeafHandler handler);

  // Leaves dropped as invalid on the receiving side (for tests and metrics).
  [[nodiscard]] uint64_t invalid_received() const { return invalid_.load(); }

 private:
  forest::Connection::Handler wrap(LeafHandler handler);

  forest::Connection& conn_;
  LogFn log_;
  std::atomic<uint64_t> invalid_{0};
};

}  // namespace forest::app
