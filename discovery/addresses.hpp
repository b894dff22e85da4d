// IP addresses: this machine's own (to recognise itself in the registry) and route URLs.
#pragma once

#include <cstdint>
#include <expected>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

#include "discovery/error.hpp"

namespace forest::discovery {

// The canonical text of an IP address ("2a01:04f8:0::1" and "[2a01:4f8::1]" both become
// "2a01:4f8::1"; an IPv4-mapped IPv6 address becomes its IPv4 form), so that addresses written
// by different tools compare equal. Anything that is not an IP address (a host name, an
// address with a zone) is returned as given, minus surrounding brackets and blanks.
[[nodiscard]] std::string normalize_address(std::string_view address);

[[nodiscard]] bool is_ip_address(std::string_view address);

// The addresses of this machine, normalized. A value type so tests can inject any set.
class LocalAddresses {
 public:
  LocalAddresses() = default;
  LocalAddresses(std::initializer_list<std::string_view> addresses);

  void add(std::string_view address) { set_.insert(normalize_address(address)); }
  [[nodiscard]] bool contains(std::string_view address) const;
  [[nodiscard]] const std::set<std::string, std::less<>>& all() const { return set_; }

  bool operator==(const LocalAddresses&) const = default;

 private:
  std::set<std::string, std::less<>> set_;
};

// Every address of every interface (getifaddrs), loopback included: a registry entry with
// 127.0.0.1 or ::1 can only ever be this machine.
[[nodiscard]] std::expected<LocalAddresses, Error> system_local_addresses();

inline constexpr std::uint16_t kDefaultRoutePort = 6222;

// A route URL: "nats://[2a01:4f8::1]:6222" for IPv6 (any address with a ':', as the Go app
// decides), "nats://10.0.0.1:6222" otherwise.
[[nodiscard]] std::string route_url(std::string_view address, std::uint16_t port = kDefaultRoutePort);

}  // namespace forest::discovery
