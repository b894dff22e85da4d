// Server ids in the form nats-server uses: an nkey-style public key ("N" + 55 base32 chars):
// base32(prefix byte for servers, 32 random bytes, CRC-16 little-endian). Clients and
// tools that check the format accept it.
#include "server_id.hpp"

#include <array>
#include <cstdint>
#include <random>

namespace forest::broker {
namespace {

uint16_t crc16_xmodem(const uint8_t* data, std::size_t n) {
  uint16_t crc = 0;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= static_cast<uint16_t>(data[i]) << 8;
    for (int b = 0; b < 8; ++b) crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

std::string base32_nopad(const uint8_t* data, std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

}  // namespace

std::string make_server_id() {
  constexpr uint8_t kPrefixServer = 13 << 3;  // 'N'
  std::array<uint8_t, 35> raw{};
  raw[0] = kPrefixServer;
  std::random_device rd;
  for (std::size_t i = 1; i < 33; ++i) raw[i] = static_cast<uint8_t>(rd());
  const uint16_t crc = crc16_xmodem(raw.data(), 33);
  raw[33] = static_cast<uint8_t>(crc & 0xff);
  raw[34] = static_cast<uint8_t>(crc >> 8);
  return base32_nopad(raw.data(), raw.size());
}

}  // namespace forest::broker
