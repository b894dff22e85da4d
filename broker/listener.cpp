#include "listener.hpp"

namespace forest::broker {
namespace {

std::expected<int, std::string> bind_and_listen(tcp::acceptor& acceptor, const tcp::endpoint& ep, bool dual_stack) {
  error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && dual_stack) acceptor.set_option(asio::ip::v6_only(false), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    return std::unexpected(ec.message());
  }
  return static_cast<int>(acceptor.local_endpoint().port());
}

}  // namespace

std::expected<int, std::string> open_listener(tcp::acceptor& acceptor, const std::string& host, int port) {
  const auto p = static_cast<unsigned short>(port);
  if (host.empty() || host == "0.0.0.0" || host == "::") {
    // One IPv6 socket that takes IPv4 too; a host without IPv6 falls back to IPv4 only.
    if (auto r = bind_and_listen(acceptor, tcp::endpoint(asio::ip::address_v6::any(), p), true)) return r;
    return bind_and_listen(acceptor, tcp::endpoint(asio::ip::address_v4::any(), p), false);
  }
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected("invalid listen address '" + host + "': " + ec.message());
  return bind_and_listen(acceptor, tcp::endpoint(address, p), false);
}

}  // namespace forest::broker
