// River: the forest's durable intake (the Go app's internal/core/river.go) on JetStream, with
// the Go app's wire format and its defects fixed (FOREST-APP.md sections 3 and 12).
//
// - Stream RIVER on river.> (work queue, file, 24 h, 100,000 messages, discard old), created
//   when missing; an existing one is used as it is, as the Go app does.
// - flow(subject, data): the "river." prefix rule, the RiverData envelope (data in base64),
//   a JetStream publish that waits for the ack.
// - observe(pattern, handler): a durable *pull* consumer whose name is derived from the tree
//   and the pattern (or given), so a restart or a second node reuses it instead of failing on
//   the work-queue rule against overlapping filters; several nodes fetching from it share the
//   work, and one that dies leaves it to the others. Ack after the handler; a message that
//   does not decode is nak'd with backoff a bounded number of times, then terminated and
//   logged (the Go app naks it forever).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <forest/jetstream.hpp>

#include "app/core/river_data.hpp"
#include "app/layer/wind.hpp"

namespace forest::app {

inline constexpr std::string_view kRiverStream = "RIVER";

struct RiverOptions {
  std::string tree{"forest"};  // owner of the observers: part of their durable names
  int max_deliver{5};          // deliveries of an undecodable message before it is terminated
  std::vector<std::chrono::nanoseconds> backoff{std::chrono::seconds(1), std::chrono::seconds(5),
                                                std::chrono::seconds(30)};
  int fetch_batch{64};
  std::chrono::milliseconds fetch_wait{std::chrono::milliseconds(500)};
};

// A running observer: stops fetching when destroyed or stop()ped (the durable stays).
class RiverObserver {
 public:
  RiverObserver(const RiverObserver&) = delete;
  RiverObserver& operator=(const RiverObserver&) = delete;
  ~RiverObserver() { stop(); }
  void stop();
  [[nodiscard]] const std::string& durable() const { return durable_; }
  [[nodiscard]] uint64_t handled() const { return handled_.load(); }
  [[nodiscard]] uint64_t undecodable() const { return undecodable_.load(); }
  [[nodiscard]] uint64_t terminated() const { return terminated_.load(); }

 private:
  friend class River;
  RiverObserver() = default;
  std::string durable_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> handled_{0}, undecodable_{0}, terminated_{0};
  std::thread thread_;
};

class River {
 public:
  using Handler = std::function<void(const RiverData&)>;

  River(forest::JetStream& js, RiverOptions opts = {}, LogFn log = {});

  // Creates RIVER when it does not exist (call once before use; flow and observe call it).
  std::expected<void, forest::Error> ensure_stream();
  // Publishes and waits for the ack; the stream sequence.
  std::expected<uint64_t, forest::Error> flow(std::string_view subject, std::string_view data);
  std::expected<std::unique_ptr<RiverObserver>, forest::Error> observe(std::string_view pattern, Handler handler);
  std::expected<std::unique_ptr<RiverObserver>, forest::Error> observe_with_consumer(std::string_view pattern,
                                                                                    std::string_view durable,
                                                                                    Handler handler);

  // "river." + subject unless it already starts with it; "" and ">" patterns become river.>.
  [[nodiscard]] static std::string with_prefix(std::string_view subject);
  // The deterministic durable name of an observer: <tree>-<pattern with . * > spelled out>.
  [[nodiscard]] static std::string durable_name(std::string_view tree, std::string_view pattern);

 private:
  void run(RiverObserver& o, Handler handler);

  forest::JetStream& js_;
  RiverOptions opts_;
  LogFn log_;
  std::atomic<bool> stream_ready_{false};
};

}  // namespace forest::app
