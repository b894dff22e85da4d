// Opening a listening socket the way nats-server's Go runtime does: "0.0.0.0", "::" or an
// empty host listen on every address, IPv4 and IPv6 alike (one dual-stack socket), so clients
// and routes can reach the server over either. Any other host binds that address only.
#pragma once

#include <expected>
#include <string>

#include "asio.hpp"

namespace forest::broker {

// Opens, binds and listens; returns the bound port (useful with port 0) or why it failed.
[[nodiscard]] std::expected<int, std::string> open_listener(tcp::acceptor& acceptor, const std::string& host, int port);

}  // namespace forest::broker
