#pragma once
// The Go forest app's RiverData (internal/core/river.go): the envelope River publishes on the
// RIVER JetStream stream. Fields in Go's order: subject (with its "river." prefix), data (the
// payload bytes, padded standard base64 on the wire), ts. No validation on receive.

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "app/core/error.hpp"
#include "app/core/go_time.hpp"

namespace forest::app {

struct RiverData {
  std::string subject;
  std::optional<std::string> data;  // bytes; nullopt is Go's nil slice (`null`), "" an empty one (`""`)
  GoTime ts;

  friend bool operator==(const RiverData&, const RiverData&) = default;
};

[[nodiscard]] std::expected<std::string, Error> encode_river_data(const RiverData& river);

// Refuses a data that is neither `null` nor a padded standard base64 string (a JSON object, as
// main.go's `nats pub` hints send, is refused: Go Naks those).
[[nodiscard]] std::expected<RiverData, Error> decode_river_data(std::string_view json);

}  // namespace forest::app
