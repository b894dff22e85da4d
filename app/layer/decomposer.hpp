// The Decomposer: applies humus composts (create, update, delete) to Soil, as the Go app's
// internal/core/decomposer.go does, without its defects (FOREST-APP.md sections 6 and 12):
//
// - One shared durable *pull* consumer ("decomposer" on humus.>, max_ack_pending 1) for every
//   decomposer of the stream: each compost is applied by one of them, in stream order; when
//   the one holding a compost dies before acking, another gets it after ack_wait (the Go app's
//   push durable crash-loops a second node instead).
// - Idempotent re-apply: every soil write the decomposer makes carries the compost's humus
//   sequence in a header (Forest-Humus-Seq; Go readers of the bucket ignore it), and a
//   compost whose sequence the key already reflects is acked without applying it again. So a
//   crash between the soil write and the ack applies nothing twice.
// - A transient failure (JetStream away, a CAS conflict because a nim wrote the key directly)
//   is retried with backoff until it passes, not dropped; an undecodable compost or a bad
//   entity key is terminated and logged. An existing consumer of the name with another
//   configuration (the Go app's push durable) is a clear start() error.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <forest/jetstream.hpp>

#include "app/core/compost.hpp"
#include "app/layer/humus.hpp"
#include "app/layer/soil.hpp"
#include "app/layer/wind.hpp"

namespace forest::app {

inline constexpr std::string_view kHumusSeqHeader = "Forest-Humus-Seq";

struct DecomposerOptions {
  std::string consumer{"decomposer"};
  std::chrono::nanoseconds ack_wait{std::chrono::seconds(30)};
  std::vector<std::chrono::nanoseconds> backoff{std::chrono::milliseconds(100), std::chrono::seconds(1),
                                                std::chrono::seconds(5)};
  std::chrono::milliseconds fetch_wait{std::chrono::milliseconds(500)};
  // Tests: called after a compost's soil write and before its ack; true stops the decomposer
  // right there, without the ack, as if its process were killed.
  std::function<bool(uint64_t humus_seq)> die_after_apply{};
};

class Decomposer {
 public:
  Decomposer(const Decomposer&) = delete;
  Decomposer& operator=(const Decomposer&) = delete;
  ~Decomposer() { stop(); }

  // Creates (or joins) the shared consumer and starts applying.
  [[nodiscard]] static std::expected<std::unique_ptr<Decomposer>, forest::Error> start(forest::JetStream& js,
                                                                                      Humus& humus,
                                                                                      DecomposerOptions opts = {},
                                                                                      LogFn log = {});
  void stop();
  [[nodiscard]] bool stopped() const { return stop_.load(); }

  [[nodiscard]] uint64_t applied() const { return applied_.load(); }
  [[nodiscard]] uint64_t already_applied() const { return already_.load(); }
  [[nodiscard]] uint64_t rejected() const { return rejected_.load(); }

 private:
  Decomposer(forest::JetStream& js, DecomposerOptions opts, LogFn log);
  struct Latest {
    bool exists = false;      // a value or a marker
    bool is_value = false;    // the latest is a value (not a delete or purge marker)
    uint64_t revision = 0;
    uint64_t humus_seq = 0;   // 0: not written by a decomposer
  };
  enum class Outcome { applied, already, rejected, retry };

  void run();
  std::expected<Latest, forest::Error> latest(const std::string& key) const;
  Outcome apply(const Compost& c, uint64_t seq);
  void log(const std::string& line) const {
    if (log_) log_("decomposer: " + line);
  }

  forest::JetStream& js_;
  DecomposerOptions opts_;
  LogFn log_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> applied_{0}, already_{0}, rejected_{0};
  std::thread thread_;
};

}  // namespace forest::app
