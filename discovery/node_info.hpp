// This machine's identity in the forest: node-info.json, `{"forest_id": ..., "node_id": ...}`,
// written by the provisioner (other keys, such as morpheus's node_index, are ignored).
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "discovery/error.hpp"

namespace forest::discovery {

struct NodeInfo {
  std::string forest_id;  // the forest (cluster name); never empty
  std::string node_id;    // this node's id in the registry; never empty

  bool operator==(const NodeInfo&) const = default;
};

// Parses node-info text; `file` names it in errors. Both ids must be non-empty strings.
[[nodiscard]] std::expected<NodeInfo, Error> parse_node_info(std::string_view text, const std::string& file);

// Reads node-info from `path`. No file means standalone: nullopt, not an error (the seed's
// rule; the Go app dies instead). An unreadable or malformed file is an error.
[[nodiscard]] std::expected<std::optional<NodeInfo>, Error> load_node_info(const std::string& path);

}  // namespace forest::discovery
