#include "discovery/addresses.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace forest::discovery {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  return s;
}

std::string format_v4(const in_addr& a) {
  char buf[INET_ADDRSTRLEN];
  return ::inet_ntop(AF_INET, &a, buf, sizeof buf) != nullptr ? std::string(buf) : std::string();
}

std::string format_v6(const in6_addr& a) {
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    in_addr v4{};
    std::memcpy(&v4, a.s6_addr + 12, 4);
    return format_v4(v4);
  }
  char buf[INET6_ADDRSTRLEN];
  return ::inet_ntop(AF_INET6, &a, buf, sizeof buf) != nullptr ? std::string(buf) : std::string();
}

}  // namespace

std::string normalize_address(std::string_view address) {
  const std::string s(trim(address));
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) return format_v4(v4);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) return format_v6(v6);
  return s;
}

bool is_ip_address(std::string_view address) {
  const std::string s(address);
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, s.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, s.c_str(), &v6) == 1;
}

LocalAddresses::LocalAddresses(std::initializer_list<std::string_view> addresses) {
  for (auto a : addresses) add(a);
}

bool LocalAddresses::contains(std::string_view address) const {
  if (address.empty()) return false;
  return set_.contains(normalize_address(address));
}

std::expected<LocalAddresses, Error> system_local_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::unexpected(io_error("", "getifaddrs", errno));
  LocalAddresses out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      out.add(format_v4(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      out.add(format_v6(reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr));
    }
  }
  ::freeifaddrs(list);
  return out;
}

std::string route_url(std::string_view address, std::uint16_t port) {
  const std::string a = normalize_address(address);
  std::string url = "nats://";
  if (a.find(':') != std::string::npos) {
    url += '[';
    url += a;
    url += ']';
  } else {
    url += a;
  }
  url += ':';
  url += std::to_string(port);
  return url;
}

}  // namespace forest::discovery
