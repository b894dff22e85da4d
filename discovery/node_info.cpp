#include "discovery/node_info.hpp"

#include "discovery/file_io.hpp"
#include "discovery/json_doc.hpp"

namespace forest::discovery {

using detail::JsonDocument;
using detail::JsonPath;

std::expected<NodeInfo, Error> parse_node_info(std::string_view text, const std::string& file) {
  auto doc = JsonDocument::parse(text, file);
  if (!doc) return std::unexpected(doc.error());
  const JsonPath top;
  simdjson::dom::object obj;
  if (doc->root().get_object().get(obj) != simdjson::SUCCESS) {
    return std::unexpected(doc->schema_error(
        top, "expected an object with \"forest_id\" and \"node_id\", found " + std::string(detail::type_name(doc->root().type()))));
  }
  NodeInfo info;
  JsonPath forest_at = top, node_at = top;  // where each id was given, for "empty" errors
  std::size_t index = 0;
  for (auto field : obj) {
    const JsonPath path = top.member(index++, field.key);
    // Like Go: keys match case-insensitively and the last of duplicate keys wins.
    std::string* target = nullptr;
    if (detail::key_matches(field.key, "forest_id")) {
      target = &info.forest_id;
      forest_at = path;
    } else if (detail::key_matches(field.key, "node_id")) {
      target = &info.node_id;
      node_at = path;
    } else {
      continue;
    }
    if (auto r = detail::read_string_field(*doc, field.value, path, *target); !r) return std::unexpected(r.error());
  }
  // A missing key points at the object, an empty value at the value.
  auto missing = [&](const JsonPath& at, const char* key) {
    return std::unexpected(doc->schema_error(at, at.steps.empty() ? std::string("missing \"") + key + "\""
                                                                  : std::string("must not be empty")));
  };
  if (info.forest_id.empty()) return missing(forest_at, "forest_id");
  if (info.node_id.empty()) return missing(node_at, "node_id");
  return info;
}

std::expected<std::optional<NodeInfo>, Error> load_node_info(const std::string& path) {
  auto file = read_file(path);
  if (!file) return std::unexpected(file.error());
  if (!file->has_value()) return std::optional<NodeInfo>();
  auto info = parse_node_info((*file)->bytes, path);
  if (!info) return std::unexpected(info.error());
  return std::optional<NodeInfo>(std::move(*info));
}

}  // namespace forest::discovery
