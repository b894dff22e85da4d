// Soil: the forest's current state, the KV bucket SOIL (history 10, file) as the Go app's
// internal/core/soil.go uses it: dig, bury with an expected revision (0: create), put,
// remove (an error when absent, as the Go app's Delete), watch (current values first, then
// changes; delete markers not passed on), keys.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <forest/jetstream.hpp>

namespace forest::app {

inline constexpr std::string_view kSoilBucket = "SOIL";

class Soil {
 public:
  using WatchHandler = std::function<void(const std::string& key, const std::string& value, uint64_t revision)>;

  // Binds to SOIL, creating it when missing.
  [[nodiscard]] static std::expected<Soil, forest::Error> open(forest::JetStream& js);

  // The value and its revision; "entity not found" (status 404) when absent or deleted.
  [[nodiscard]] std::expected<std::pair<std::string, uint64_t>, forest::Error> dig(std::string_view key) const;
  // expected_revision 0: only if absent (or deleted); else only if the latest revision is it.
  std::expected<uint64_t, forest::Error> bury(std::string_view key, std::string_view data, uint64_t expected_revision);
  std::expected<uint64_t, forest::Error> put(std::string_view key, std::string_view data);
  std::expected<void, forest::Error> remove(std::string_view key);
  [[nodiscard]] std::expected<std::vector<std::string>, forest::Error> keys() const;
  // "" watches everything. The handler runs on the connection's dispatch thread.
  std::expected<forest::KvWatcher, forest::Error> watch(std::string_view pattern, WatchHandler handler);

  [[nodiscard]] forest::KeyValue& bucket() { return kv_; }

 private:
  explicit Soil(forest::KeyValue kv) : kv_(std::move(kv)) {}
  forest::KeyValue kv_;
};

}  // namespace forest::app
