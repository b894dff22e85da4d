#include "discovery/discovery.hpp"

namespace forest::discovery {

std::expected<StartupView, Error> discover(const Paths& paths, const LocalAddresses& local, const PeerOptions& options) {
  StartupView view;
  auto self = load_node_info(paths.node_info);
  if (!self) return std::unexpected(self.error());
  view.self = std::move(*self);
  if (!view.self) return view;
  auto reg = load_registry(paths.registry);
  if (!reg) return std::unexpected(reg.error());
  view.registry = std::move(*reg);
  view.peers = select_peers(view.registry, *view.self, local, options);
  return view;
}

}  // namespace forest::discovery
