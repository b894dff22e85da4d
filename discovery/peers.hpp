// Peer selection: which registry nodes this node should dial, as route URLs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "discovery/addresses.hpp"
#include "discovery/node_info.hpp"
#include "discovery/registry.hpp"

namespace forest::discovery {

struct Peer {
  std::string node_id;  // as the registry names it (for logs)
  std::string url;      // "nats://[v6]:6222" or "nats://v4:6222"

  bool operator==(const Peer&) const = default;
};

struct PeerOptions {
  std::uint16_t port = kDefaultRoutePort;  // the cluster port every node of the forest listens on
};

// The nodes of `self`'s forest other than this node, in registry order. A node is this node
// when its id is self.node_id or when any of its addresses (ip, ipv6, ipv4) is one of `local`
// (the Go app's rule, which also covers a re-provisioned machine under a new id). Nodes with
// no address are skipped; a URL listed twice is returned once, at its first place.
[[nodiscard]] std::vector<Peer> select_peers(const Registry& registry, const NodeInfo& self,
                                             const LocalAddresses& local, const PeerOptions& options = {});

// Just the URLs, for a route dialer.
[[nodiscard]] std::vector<std::string> peer_urls(const std::vector<Peer>& peers);

}  // namespace forest::discovery
