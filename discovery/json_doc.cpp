#include "discovery/json_doc.hpp"

#include <cctype>

#include "discovery/json_scan.hpp"

namespace forest::discovery::detail {

namespace {

bool plain_identifier(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

}  // namespace

JsonPath JsonPath::member(std::size_t index, std::string_view key) const {
  JsonPath p = *this;
  p.steps.push_back(index);
  if (plain_identifier(key)) {
    if (!p.text.empty()) p.text += '.';
    p.text += key;
  } else {
    p.text += "[\"";
    p.text += key;
    p.text += "\"]";
  }
  return p;
}

JsonPath JsonPath::element(std::size_t index) const {
  JsonPath p = *this;
  p.steps.push_back(index);
  p.text += '[';
  p.text += std::to_string(index);
  p.text += ']';
  return p;
}

std::expected<JsonDocument, Error> JsonDocument::parse(std::string_view text, const std::string& file) {
  JsonDocument doc;
  doc.file_ = file;
  doc.text_ = simdjson::padded_string(text);
  doc.parser_ = std::make_unique<simdjson::dom::parser>();
  const auto err = doc.parser_->parse(doc.text_).get(doc.root_);
  if (err == simdjson::SUCCESS) return doc;
  // simdjson knows that the text is bad, not where: find the spot ourselves.
  if (auto syntax = find_syntax_error(text)) {
    const TextPosition p = position_at(text, syntax->offset);
    return std::unexpected(Error{Errc::syntax, file, p.line, p.column, syntax->message});
  }
  // Well-formed by RFC 8259 yet refused by simdjson (e.g. an integer past 64 bits): say what
  // simdjson says; there is no better position than the start.
  return std::unexpected(Error{Errc::syntax, file, 1, 1, std::string("invalid JSON: ") + simdjson::error_message(err)});
}

Error JsonDocument::schema_error(const JsonPath& path, const std::string& message) const {
  const std::string_view text(text_.data(), text_.size());
  const std::size_t offset = find_value_offset(text, path.steps).value_or(0);
  const TextPosition p = position_at(text, offset);
  const std::string where = path.text.empty() ? std::string("top level") : path.text;
  return Error{Errc::schema, file_, p.line, p.column, where + ": " + message};
}

std::string_view type_name(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  switch (t) {
    case T::ARRAY: return "an array";
    case T::OBJECT: return "an object";
    case T::INT64:
    case T::UINT64:
    case T::DOUBLE: return "a number";
    case T::STRING: return "a string";
    case T::BOOL: return "a boolean";
    case T::NULL_VALUE: return "null";
  }
  return "a value";
}

bool key_matches(std::string_view key, std::string_view field) {
  if (key.size() != field.size()) return false;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(key[i])) != std::tolower(static_cast<unsigned char>(field[i]))) return false;
  }
  return true;
}

std::expected<void, Error> read_string_field(const JsonDocument& doc, simdjson::dom::element value,
                                             const JsonPath& path, std::string& out) {
  if (value.is_null()) {
    out.clear();
    return {};
  }
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) {
    return std::unexpected(doc.schema_error(path, "expected a string, found " + std::string(type_name(value.type()))));
  }
  out.assign(s);
  return {};
}

}  // namespace forest::discovery::detail
