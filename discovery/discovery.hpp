// The startup entry point of discovery, what a server calls once before it listens:
// read node-info (from Paths the caller got from resolve_paths()), and when it
// exists read the registry and pick the peers. Then, to follow the registry while running,
// start a RegistryWatcher with the same NodeInfo and `peers` as its initial list.
#pragma once

#include <expected>
#include <optional>
#include <vector>

#include "discovery/addresses.hpp"
#include "discovery/error.hpp"
#include "discovery/node_info.hpp"
#include "discovery/paths.hpp"
#include "discovery/peers.hpp"
#include "discovery/registry.hpp"

namespace forest::discovery {

struct StartupView {
  std::optional<NodeInfo> self;  // nullopt: no node-info file, standalone (no registry read)
  Registry registry;             // empty when standalone or when the registry file is missing
  std::vector<Peer> peers;       // the routes to dial; empty for the first node of a forest
};

// Every error is a startup error (print it and exit): a malformed or unreadable node-info or
// registry, with the file and position.
[[nodiscard]] std::expected<StartupView, Error> discover(const Paths& paths, const LocalAddresses& local,
                                                         const PeerOptions& options = {});

}  // namespace forest::discovery
