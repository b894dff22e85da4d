// Server ids in the form nats-server uses: an nkey-style public key ("N" + 55 base32 chars):
// base32(prefix byte for servers, 32 random bytes, CRC-16 little-endian), made by nkeys.cpp.
// Clients and tools that check the format accept it.
#include "server_id.hpp"

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "nkeys.hpp"

namespace forest::broker {

std::string make_server_id() {
  constexpr uint8_t kPrefixServer = 13 << 3;  // 'N'
  std::vector<uint8_t> raw{kPrefixServer};
  std::random_device rd;
  for (std::size_t i = 0; i < 32; ++i) raw.push_back(static_cast<uint8_t>(rd()));
  return nkeys::encode_with_checksum(std::move(raw));
}

std::string make_event_id() {
  constexpr std::string_view digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 gen{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, digits.size() - 1);
  std::string out(22, '0');
  for (char& c : out) c = digits[pick(gen)];
  return out;
}

}  // namespace forest::broker
