// The shared registry, registry.json: every forest's nodes,
//   {"nodes": {"<forest_id>": [{"id", "ip", "ipv6"?, "ipv4"?, "forest_id"}, ...]}}
// read like the Go app reads it (case-insensitive keys, null as empty) and written the way
// it writes it (2-space indented, fields in its struct order, forests sorted by id).
#pragma once

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "discovery/error.hpp"

namespace forest::discovery {

// Keys we do not know, kept as compact JSON text so that rewriting the file does not drop
// what another tool put there (the Go app drops them; we prefer to lose nothing).
using ExtraFields = std::vector<std::pair<std::string, std::string>>;

struct RegistryNode {
  std::string id;
  std::string ip;    // the legacy address field: every writer sets it
  std::string ipv6;  // optional (omitted from the file when empty)
  std::string ipv4;  // optional (omitted from the file when empty)
  std::string forest_id;
  ExtraFields extra;

  // The address to dial: ipv6, then ipv4, then ip (the Go app's order, with IPv6
  // connectivity assumed as its main does). Empty when the node has none.
  [[nodiscard]] const std::string& preferred_address() const;

  bool operator==(const RegistryNode&) const = default;
};

struct Registry {
  // By forest id; std::map so that writing follows Go's sorted map order.
  std::map<std::string, std::vector<RegistryNode>, std::less<>> forests;
  ExtraFields extra;  // unknown top-level keys

  // The nodes of one forest; empty when the forest is not listed.
  [[nodiscard]] const std::vector<RegistryNode>& nodes_of(std::string_view forest_id) const;

  bool operator==(const Registry&) const = default;
};

// Parses registry text; `file` names it in errors. A missing or null "nodes" is an empty
// registry; a value of the wrong type anywhere is an error positioned at that value.
[[nodiscard]] std::expected<Registry, Error> parse_registry(std::string_view text, const std::string& file);

// Reads the registry at `path`; a missing file is an empty registry (as in the Go app).
[[nodiscard]] std::expected<Registry, Error> load_registry(const std::string& path);

// The file text as the Go app's json.MarshalIndent(reg, "", "  ") writes it (no trailing
// newline, HTML-safe string escapes), with extra fields after the known ones.
[[nodiscard]] std::string format_registry(const Registry& registry);

}  // namespace forest::discovery
