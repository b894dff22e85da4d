#include "discovery/peers.hpp"

#include <set>

namespace forest::discovery {

std::vector<Peer> select_peers(const Registry& registry, const NodeInfo& self, const LocalAddresses& local,
                               const PeerOptions& options) {
  std::vector<Peer> peers;
  std::set<std::string, std::less<>> seen;
  for (const RegistryNode& node : registry.nodes_of(self.forest_id)) {
    if (node.id == self.node_id) continue;
    if (local.contains(node.ip) || local.contains(node.ipv6) || local.contains(node.ipv4)) continue;
    const std::string& address = node.preferred_address();
    if (address.empty()) continue;
    std::string url = route_url(address, options.port);
    if (!seen.insert(url).second) continue;
    peers.push_back(Peer{node.id, std::move(url)});
  }
  return peers;
}

std::vector<std::string> peer_urls(const std::vector<Peer>& peers) {
  std::vector<std::string> urls;
  urls.reserve(peers.size());
  for (const auto& p : peers) urls.push_back(p.url);
  return urls;
}

}  // namespace forest::discovery
