// This machine's addresses, for the client URLs a server advertises when it listens on every
// address (nats-server lists the non-loopback ones in connect_urls).
#pragma once

#include <string>
#include <vector>

namespace forest::broker {

// Non-loopback, non-link-local IPv4 and IPv6 addresses of the up interfaces, IPv4 first.
[[nodiscard]] std::vector<std::string> non_loopback_addresses();

}  // namespace forest::broker
