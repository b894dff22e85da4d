#include "discovery/registry.hpp"

#include "discovery/file_io.hpp"
#include "discovery/json_doc.hpp"
#include "discovery/json_write.hpp"

namespace forest::discovery {

using detail::JsonDocument;
using detail::JsonPath;

const std::string& RegistryNode::preferred_address() const {
  if (!ipv6.empty()) return ipv6;
  if (!ipv4.empty()) return ipv4;
  return ip;
}

const std::vector<RegistryNode>& Registry::nodes_of(std::string_view forest_id) const {
  static const std::vector<RegistryNode> none;
  const auto it = forests.find(forest_id);
  return it == forests.end() ? none : it->second;
}

namespace {

// An unknown key: the last of duplicates wins, as with known keys.
void keep_extra(ExtraFields& extra, std::string_view key, simdjson::dom::element value) {
  std::string text = simdjson::minify(value);
  for (auto& [k, v] : extra) {
    if (k == key) {
      v = std::move(text);
      return;
    }
  }
  extra.emplace_back(std::string(key), std::move(text));
}

std::expected<RegistryNode, Error> parse_node(const JsonDocument& doc, simdjson::dom::element value, const JsonPath& path) {
  simdjson::dom::object obj;
  if (value.get_object().get(obj) != simdjson::SUCCESS) {
    return std::unexpected(doc.schema_error(path, "expected a node object {\"id\", \"ip\", ...}, found " +
                                                      std::string(detail::type_name(value.type()))));
  }
  RegistryNode node;
  std::size_t index = 0;
  for (auto field : obj) {
    const JsonPath at = path.member(index++, field.key);
    std::string* target = nullptr;
    if (detail::key_matches(field.key, "id")) target = &node.id;
    else if (detail::key_matches(field.key, "ip")) target = &node.ip;
    else if (detail::key_matches(field.key, "ipv6")) target = &node.ipv6;
    else if (detail::key_matches(field.key, "ipv4")) target = &node.ipv4;
    else if (detail::key_matches(field.key, "forest_id")) target = &node.forest_id;
    if (target == nullptr) {
      keep_extra(node.extra, field.key, field.value);
      continue;
    }
    if (auto r = detail::read_string_field(doc, field.value, at, *target); !r) return std::unexpected(r.error());
  }
  return node;
}

std::expected<std::vector<RegistryNode>, Error> parse_forest(const JsonDocument& doc, simdjson::dom::element value,
                                                             const JsonPath& path) {
  std::vector<RegistryNode> nodes;
  if (value.is_null()) return nodes;  // Go's nil slice
  simdjson::dom::array arr;
  if (value.get_array().get(arr) != simdjson::SUCCESS) {
    return std::unexpected(doc.schema_error(path, "expected an array of nodes, found " +
                                                      std::string(detail::type_name(value.type()))));
  }
  std::size_t index = 0;
  for (auto element : arr) {
    auto node = parse_node(doc, element, path.element(index++));
    if (!node) return std::unexpected(node.error());
    nodes.push_back(std::move(*node));
  }
  return nodes;
}

std::expected<void, Error> parse_forests(const JsonDocument& doc, simdjson::dom::element value, const JsonPath& path,
                                         Registry& reg) {
  reg.forests.clear();  // a later duplicate "nodes" key replaces an earlier one, as in Go
  if (value.is_null()) return {};
  simdjson::dom::object obj;
  if (value.get_object().get(obj) != simdjson::SUCCESS) {
    return std::unexpected(doc.schema_error(path, "expected an object of forests {\"<forest_id>\": [...]}, found " +
                                                      std::string(detail::type_name(value.type()))));
  }
  std::size_t index = 0;
  for (auto field : obj) {
    auto nodes = parse_forest(doc, field.value, path.member(index++, field.key));
    if (!nodes) return std::unexpected(nodes.error());
    reg.forests[std::string(field.key)] = std::move(*nodes);
  }
  return {};
}

void indent(std::string& out, int level) { out.append(static_cast<std::size_t>(level) * 2, ' '); }

// One member line: `"key": ` at `level`, preceded by the separator of the previous member.
void member(std::string& out, int level, bool& first, std::string_view key) {
  out += first ? "\n" : ",\n";
  first = false;
  indent(out, level);
  detail::append_go_quoted(out, key);
  out += ": ";
}

void format_node(std::string& out, const RegistryNode& node) {
  out += '{';
  bool first = true;
  member(out, 4, first, "id");
  detail::append_go_quoted(out, node.id);
  member(out, 4, first, "ip");
  detail::append_go_quoted(out, node.ip);
  if (!node.ipv6.empty()) {  // `json:"ipv6,omitempty"`
    member(out, 4, first, "ipv6");
    detail::append_go_quoted(out, node.ipv6);
  }
  if (!node.ipv4.empty()) {
    member(out, 4, first, "ipv4");
    detail::append_go_quoted(out, node.ipv4);
  }
  member(out, 4, first, "forest_id");
  detail::append_go_quoted(out, node.forest_id);
  for (const auto& [key, raw] : node.extra) {
    member(out, 4, first, key);
    out += raw;
  }
  out += '\n';
  indent(out, 3);
  out += '}';
}

}  // namespace

std::expected<Registry, Error> parse_registry(std::string_view text, const std::string& file) {
  auto doc = JsonDocument::parse(text, file);
  if (!doc) return std::unexpected(doc.error());
  const JsonPath top;
  simdjson::dom::object obj;
  if (doc->root().get_object().get(obj) != simdjson::SUCCESS) {
    return std::unexpected(doc->schema_error(top, "expected an object {\"nodes\": {...}}, found " +
                                                      std::string(detail::type_name(doc->root().type()))));
  }
  Registry reg;
  std::size_t index = 0;
  for (auto field : obj) {
    const JsonPath at = top.member(index++, field.key);
    if (detail::key_matches(field.key, "nodes")) {
      if (auto r = parse_forests(*doc, field.value, at, reg); !r) return std::unexpected(r.error());
    } else {
      keep_extra(reg.extra, field.key, field.value);
    }
  }
  return reg;
}

std::expected<Registry, Error> load_registry(const std::string& path) {
  auto file = read_file(path);
  if (!file) return std::unexpected(file.error());
  if (!file->has_value()) return Registry{};
  return parse_registry((*file)->bytes, path);
}

std::string format_registry(const Registry& registry) {
  std::string out = "{";
  bool first = true;
  member(out, 1, first, "nodes");
  if (registry.forests.empty()) {
    out += "{}";
  } else {
    out += '{';
    bool first_forest = true;
    for (const auto& [forest_id, nodes] : registry.forests) {
      member(out, 2, first_forest, forest_id);
      if (nodes.empty()) {
        out += "[]";
        continue;
      }
      out += '[';
      bool first_node = true;
      for (const auto& node : nodes) {
        out += first_node ? "\n" : ",\n";
        first_node = false;
        indent(out, 3);
        format_node(out, node);
      }
      out += '\n';
      indent(out, 2);
      out += ']';
    }
    out += '\n';
    indent(out, 1);
    out += '}';
  }
  for (const auto& [key, raw] : registry.extra) {
    member(out, 1, first, key);
    out += raw;
  }
  out += "\n}";
  return out;
}

}  // namespace forest::discovery
