// Humus: the forest's log of state changes (the Go app's internal/core/humus.go). Stream
// HUMUS on humus.> (limits, file, 7 days, 1,000,000 messages, discard old), created when
// missing; add() publishes a Compost on humus.<nim>.<action> and returns its stream sequence
// (the "slot"). The Decomposer (decomposer.hpp) applies composts to Soil.
#pragma once

#include <cstdint>
#include <expected>
#include <string_view>

#include <forest/jetstream.hpp>

namespace forest::app {

inline constexpr std::string_view kHumusStream = "HUMUS";

class Humus {
 public:
  explicit Humus(forest::JetStream& js) : js_(js) {}

  std::expected<void, forest::Error> ensure_stream();
  // Validation in the Go app's order: empty nim, entity, action; an action other than
  // create/update/delete; empty data with create or update (a delete without data carries
  // `null`). `data` is raw JSON.
  std::expected<uint64_t, forest::Error> add(std::string_view nim, std::string_view entity, std::string_view action,
                                             std::string_view data);

 private:
  forest::JetStream& js_;
};

}  // namespace forest::app
