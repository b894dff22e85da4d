// A small JSON syntax scanner for error reporting. simdjson's DOM parser says *that* a document
// is malformed or of the wrong shape, not *where*; on those (rare) error paths this scanner
// walks the text again to find the line and column a human needs. It builds nothing and is
// not used on the success path.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace forest::discovery {

struct TextPosition {
  std::size_t line = 1;    // 1-based
  std::size_t column = 1;  // 1-based, in UTF-8 code points
};

[[nodiscard]] TextPosition position_at(std::string_view text, std::size_t offset);

struct SyntaxError {
  std::size_t offset = 0;  // byte offset of the offending character (the size of the text at EOF)
  std::string message;
};

// The first syntax error (RFC 8259 with simdjson's nesting limit of 1024), or nullopt when the
// text is exactly one well-formed JSON value.
[[nodiscard]] std::optional<SyntaxError> find_syntax_error(std::string_view text);

// The byte offset where the value at `path` starts. Each step is the index of a member within
// an object (in document order, so duplicate keys are told apart) or of an element within an
// array. nullopt when the document has no such value before its first syntax error.
[[nodiscard]] std::optional<std::size_t> find_value_offset(std::string_view text,
                                                          std::span<const std::size_t> path);

}  // namespace forest::discovery
