#pragma once
// JSON as Go's encoding/json scanner accepts it: the grammar check that Unmarshal runs over a
// whole input before decoding, and that Marshal runs over a json.RawMessage, plus Go's
// unquoting of string tokens. Pure functions over bytes; no allocation beyond a small stack of
// open containers (the scan is iterative, so deep nesting costs memory, never recursion).
//
// Go's grammar, where it differs from other parsers: whitespace is only space, \t, \n and \r;
// bytes >= 0x80 inside strings are not checked for UTF-8 (invalid UTF-8 passes); control bytes
// below 0x20 inside strings are refused; nesting deeper than 10000 containers is refused.

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

#include "app/core/error.hpp"

namespace forest::app {

// Go's scanner refuses the 10001st nested container (encoding/json maxNestingDepth).
inline constexpr int go_max_depth = 10000;

[[nodiscard]] constexpr bool is_json_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

[[nodiscard]] constexpr std::size_t skip_json_space(std::string_view in, std::size_t pos) noexcept {
  while (pos < in.size() && is_json_space(in[pos])) ++pos;
  return pos;
}

// Scans the one JSON value that starts at in[pos] (no leading whitespace) and returns the index
// one past its end. `outer_depth` is the number of containers the value sits in: a container
// that would make the total exceed `max_depth` is refused (too_deep).
[[nodiscard]] std::expected<std::size_t, Error> scan_value(std::string_view in, std::size_t pos,
                                                          int outer_depth = 0, int max_depth = go_max_depth);

// A whole document: optional whitespace, exactly one value, optional whitespace. Returns the
// value's span [first, last) inside `in`.
struct Span {
  std::size_t first = 0;
  std::size_t last = 0;
};
[[nodiscard]] std::expected<Span, Error> check_document(std::string_view in, int outer_depth = 0,
                                                        int max_depth = go_max_depth);

// Decodes a string token (with its quotes) the way Go's decoder does: escapes resolved, a
// valid \uD8xx\uDCxx pair joined, a lone surrogate escape and every byte of invalid UTF-8
// replaced by U+FFFD. Refuses a malformed token (syntax).
[[nodiscard]] std::expected<std::string, Error> unquote_json_string(std::string_view token);

// The length of the valid UTF-8 sequence at s[i] (1-4) as Go's utf8.DecodeRune sees it, or 0
// when the byte there does not start one (overlong forms, surrogates, beyond U+10FFFF,
// truncated, stray continuation bytes). Go replaces such bytes one at a time.
[[nodiscard]] std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

// Appends code point `cp` (at most U+10FFFF, not a surrogate) as UTF-8.
void append_utf8(std::string& out, char32_t cp);

// "invalid character 'x'" or "invalid character '\x01'" as in Go's messages, with the offset.
[[nodiscard]] std::string describe_byte_at(std::string_view in, std::size_t pos);

}  // namespace forest::app
