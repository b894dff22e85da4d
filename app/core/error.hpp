#pragma once
// Errors of the app core (the Go forest app's envelopes): a small enum plus a text for logs.
// No exceptions cross the library boundary; everything that can fail returns
// std::expected<T, Error>.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace forest::app {

enum class Errc : std::uint8_t {
  // Decoding and encoding (where Go's encoding/json refuses).
  syntax,         // not valid JSON (Go's SyntaxError; also a raw value that Go cannot marshal)
  too_deep,       // nesting beyond Go's 10000 levels
  type_mismatch,  // a JSON value of the wrong kind for a field (Go's UnmarshalTypeError)
  bad_time,       // not an RFC 3339 time Go accepts, or a year Go cannot write
  bad_base64,     // not padded standard base64
  // Leaf validation (leaf.go's Validate), in the order Go checks.
  empty_subject,
  empty_source,
  empty_data,
  zero_ts,
};

struct Error {
  Errc code;
  std::string text;
};

[[nodiscard]] std::string_view errc_name(Errc code) noexcept;

[[nodiscard]] inline std::unexpected<Error> fail(Errc code, std::string text) {
  return std::unexpected<Error>(Error{code, std::move(text)});
}

}  // namespace forest::app
