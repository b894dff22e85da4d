#include "forest_discovery.hpp"

#include <chrono>
#include <thread>

#include "cluster.hpp"
#include "discovery/addresses.hpp"
#include "discovery/discovery.hpp"
#include "discovery/paths.hpp"
#include "discovery/peers.hpp"
#include "server.hpp"

namespace forest::app {
namespace {

// A registry being rewritten in place (the Go app does that) reads as truncated for a moment.
constexpr int kStartupAttempts = 5;
constexpr auto kStartupRetry = std::chrono::milliseconds(200);

}  // namespace

std::expected<DiscoveryPlan, std::string> plan_discovery(broker::Options& opts) {
  using namespace forest::discovery;
  DiscoveryPlan plan;
  const Paths paths = resolve_paths({opts.node_info, opts.registry});
  plan.node_info_path = paths.node_info;
  plan.registry_path = paths.registry;
  if (opts.cluster.port == broker::kRandomPort) {
    return std::unexpected(std::string("discovery needs a fixed cluster port: every node of a forest dials the others on it"));
  }
  plan.route_port = static_cast<uint16_t>(opts.cluster.port > 0 ? opts.cluster.port : kDefaultRoutePort);
  auto local = system_local_addresses();
  std::expected<StartupView, Error> view = std::unexpected(Error{});
  for (int attempt = 1;; ++attempt) {
    view = discover(paths, local ? *local : LocalAddresses{}, PeerOptions{plan.route_port});
    if (view || view.error().code != Errc::syntax || attempt == kStartupAttempts) break;
    std::this_thread::sleep_for(kStartupRetry);
  }
  if (!view) return std::unexpected(view.error().to_string());
  if (!view->self) {
    plan.log_lines.push_back("Discovery: no node-info at " + paths.node_info + " (" +
                             std::string(to_string(paths.node_info_source)) + "): standalone");
    return plan;
  }
  plan.joined = true;
  plan.self = *view->self;
  opts.cluster.configured = true;
  if (opts.cluster.name.empty()) opts.cluster.name = plan.self.forest_id;
  if (opts.cluster.port == 0) opts.cluster.port = plan.route_port;
  if (opts.server_name.empty()) opts.server_name = plan.self.node_id;
  plan.peer_urls = peer_urls(view->peers);
  std::string peers;
  for (const Peer& p : view->peers) peers += (peers.empty() ? "" : ", ") + p.node_id + " " + p.url;
  plan.log_lines.push_back("Discovery: forest " + plan.self.forest_id + ", node " + plan.self.node_id + " (" +
                           paths.node_info + "), registry " + paths.registry + ": " +
                           std::to_string(view->peers.size()) + " peer(s)" + (peers.empty() ? "" : ": " + peers));
  return plan;
}

std::expected<std::unique_ptr<discovery::RegistryWatcher>, std::string> follow_registry(broker::Server& server,
                                                                                      const DiscoveryPlan& plan) {
  using namespace forest::discovery;
  if (!plan.joined) return std::unique_ptr<RegistryWatcher>();
  broker::Cluster* cluster = server.cluster();
  if (cluster == nullptr) return std::unexpected(std::string("discovery: the cluster did not start"));
  cluster->set_discovered_routes(plan.peer_urls);
  std::vector<Peer> initial;
  for (const std::string& url : plan.peer_urls) initial.push_back(Peer{"", url});
  WatcherCallbacks callbacks;
  // The watcher's thread: the cluster takes the list under its own lock.
  callbacks.on_peers = [cluster](const std::vector<Peer>& peers) { cluster->set_discovered_routes(peer_urls(peers)); };
  callbacks.on_error = [&server](const Error& e) {
    server.log().error("Discovery: {} (keeping the last good registry, retrying)", e.to_string());
  };
  callbacks.on_recovered = [&server] { server.log().info("Discovery: the registry is readable again"); };
  WatcherOptions options;
  options.interval = std::chrono::duration_cast<std::chrono::milliseconds>(server.options()->registry_interval);
  options.peers.port = plan.route_port;
  auto watcher = RegistryWatcher::start(plan.registry_path, plan.self, options, std::move(callbacks),
                                        system_address_source(), initial);
  if (!watcher) return std::unexpected(watcher.error().to_string());
  return std::move(*watcher);
}

}  // namespace forest::app
