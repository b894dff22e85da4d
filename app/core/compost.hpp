#pragma once
// The Go forest app's Compost (internal/core/humus.go): a state change published on the HUMUS
// JetStream stream and applied to the SOIL bucket by the decomposer. Fields in Go's order:
// entity, action, data (raw JSON), nim, ts, slot (uint64; 0 as published, the stream
// sequence once received).

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "app/core/error.hpp"
#include "app/core/go_time.hpp"

namespace forest::app {

struct Compost {
  std::string entity;
  std::string action;  // "create", "update" or "delete" (not checked here)
  std::string data;    // raw JSON; empty is Go's nil, written as `null`
  std::string nim;
  GoTime ts;
  std::uint64_t slot = 0;

  friend bool operator==(const Compost&, const Compost&) = default;
};

[[nodiscard]] std::expected<std::string, Error> encode_compost(const Compost& compost);

// Refuses what Go refuses, e.g. a slot that is not a non-negative integer below 2^64
// (`-1`, `1.0`, `1e3`, a string).
[[nodiscard]] std::expected<Compost, Error> decode_compost(std::string_view json);

}  // namespace forest::app
