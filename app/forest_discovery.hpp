// Discovery for a server: the forest's node-info and registry (discovery/) turned into the
// server's cluster settings before it starts, and the registry followed while it runs.
//
// With a node-info file the server joins its forest: the cluster name is the forest id, the
// server name the node id (unless either is set), the cluster port 6222 unless one is set
// (open even without peers, so the first node can be joined), and the other nodes of the
// forest are dialed and redialed for as long as the registry lists them. Without one it runs
// standalone. Used by forest-server (--node-info/--registry) and by the forest app.
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "discovery/node_info.hpp"
#include "discovery/registry_watcher.hpp"
#include "options.hpp"

namespace forest::broker {
class Server;
}

namespace forest::app {

struct DiscoveryPlan {
  bool joined = false;  // false: standalone (no node-info)
  discovery::NodeInfo self;
  std::string node_info_path, registry_path;
  std::vector<std::string> peer_urls;  // dialed at start
  uint16_t route_port = 6222;
  std::vector<std::string> log_lines;  // what was found, for the server log once it is open
};

// Reads node-info and the registry (retrying a half-written registry briefly: the Go app
// rewrites it in place) and adjusts `opts`. Errors name the file and position.
[[nodiscard]] std::expected<DiscoveryPlan, std::string> plan_discovery(broker::Options& opts);

// After start: hands the startup peers to the cluster and follows the registry.
[[nodiscard]] std::expected<std::unique_ptr<discovery::RegistryWatcher>, std::string> follow_registry(
    broker::Server& server, const DiscoveryPlan& plan);

}  // namespace forest::app
