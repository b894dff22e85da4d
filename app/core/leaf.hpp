#pragma once
// The Go forest app's Leaf (internal/core/leaf.go): the JSON event that travels on Wind, plain
// NATS pub/sub on the subject `subject`. Fields in Go's order: subject, data (raw JSON,
// embedded, not base64), source, ts. A value type; the functions are pure.

#include <expected>
#include <string>
#include <string_view>

#include "app/core/error.hpp"
#include "app/core/go_time.hpp"

namespace forest::app {

struct Leaf {
  std::string subject;
  std::string data;  // raw JSON (json.RawMessage); empty is Go's nil, written as `null`
  std::string source;
  GoTime ts;

  friend bool operator==(const Leaf&, const Leaf&) = default;
};

// NewLeaf: ts is now, in UTC.
[[nodiscard]] Leaf make_leaf(std::string subject, std::string data, std::string source);

// json.Marshal(leaf): refuses data that is not valid JSON (or nests deeper than Go can read
// back inside the envelope) and a ts whose year Go cannot write.
[[nodiscard]] std::expected<std::string, Error> encode_leaf(const Leaf& leaf);

// json.Unmarshal into a Leaf: keys matched case-insensitively, unknown keys ignored, the last
// duplicate wins; data kept verbatim (encode_leaf re-compacts it). A top-level `null` gives
// the empty Leaf, as in Go. Decoding does not validate: see validate_leaf.
[[nodiscard]] std::expected<Leaf, Error> decode_leaf(std::string_view json);

// Leaf.Validate, in Go's order: empty subject, empty source, zero-length data, zero ts. A
// `null` data is valid (the four bytes "null"); a missing data key is not.
[[nodiscard]] std::expected<void, Error> validate_leaf(const Leaf& leaf);

}  // namespace forest::app
