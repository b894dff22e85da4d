// Shared by the node-info and registry readers: parsing a file's text with simdjson's DOM
// and turning its failures, and the readers' shape checks, into Errors with a position.
// Internal to discovery/ (it exposes simdjson; the public headers do not).
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/error.hpp"

namespace forest::discovery::detail {

// Where a value sits in a document: indexes for the scanner, readable text for humans
// (`nodes["forest-1"][2].id`).
struct JsonPath {
  std::vector<std::size_t> steps;
  std::string text;

  [[nodiscard]] JsonPath member(std::size_t index, std::string_view key) const;
  [[nodiscard]] JsonPath element(std::size_t index) const;
};

// A parsed document. Keeps the padded copy and the parser the DOM points into.
class JsonDocument {
 public:
  // The error names `file` and, for malformed text, the line and column.
  [[nodiscard]] static std::expected<JsonDocument, Error> parse(std::string_view text, const std::string& file);

  JsonDocument(JsonDocument&&) noexcept = default;
  JsonDocument& operator=(JsonDocument&&) noexcept = default;

  [[nodiscard]] simdjson::dom::element root() const { return root_; }
  // A schema error about the value at `path`, positioned at that value.
  [[nodiscard]] Error schema_error(const JsonPath& path, const std::string& message) const;

 private:
  JsonDocument() = default;
  std::string file_;
  simdjson::padded_string text_;
  std::unique_ptr<simdjson::dom::parser> parser_;  // on the heap: the DOM must not move
  simdjson::dom::element root_;
};

// "an object", "a string", ... for messages.
[[nodiscard]] std::string_view type_name(simdjson::dom::element_type t);

// Go's encoding/json matches keys to struct fields case-insensitively (an exact match is not
// needed); the Go app writes these files, so we read them the way it does. ASCII folding only:
// Go's extra Unicode folds (the Kelvin sign, long s) never occur in our key names.
[[nodiscard]] bool key_matches(std::string_view key, std::string_view field);

// Reads an optional string field: a string is stored, null leaves `out` empty (as Go does),
// anything else is a schema error.
[[nodiscard]] std::expected<void, Error> read_string_field(const JsonDocument& doc, simdjson::dom::element value,
                                                           const JsonPath& path, std::string& out);

}  // namespace forest::discovery::detail
