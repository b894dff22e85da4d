// NATS nkeys (Ed25519 keys in NATS's text form) for nkey users: a user's public key in the
// config ("U..."), the nonce a server puts in INFO, and the signature of that nonce a client
// sends in CONNECT ("sig"). Ed25519 itself is libsodium's.
//
// Text form: base32 (RFC 4648 alphabet, no padding) of a prefix byte ('U' for users: 20 << 3),
// the 32-byte key, and a CRC-16/XMODEM of both, little endian. A seed ("SU...") has two
// prefix bytes (the seed marker 18 << 3 joined with the key type) before the 32-byte seed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forest::broker::nkeys {

using PublicKey = std::array<uint8_t, 32>;

// The key of a user's public nkey, or nullopt when the text is not one (wrong prefix,
// length, alphabet or checksum).
[[nodiscard]] std::optional<PublicKey> decode_user_public_key(std::string_view text);
[[nodiscard]] inline bool is_valid_user_public_key(std::string_view text) {
  return decode_user_public_key(text).has_value();
}

// The text form of raw bytes (prefix bytes and key): the CRC-16 appended, base32 without
// padding. Server ids are public keys of this form too (server_id.cpp).
[[nodiscard]] std::string encode_with_checksum(std::vector<uint8_t> raw);

// A fresh nonce for INFO: 11 random bytes, base64url without padding (15 characters), as
// nats-server makes them.
[[nodiscard]] std::string make_nonce();

// Whether `signature` (base64url without padding, or standard base64, as nats-server takes
// it) is the user's Ed25519 signature of the nonce text.
[[nodiscard]] bool verify_nonce_signature(std::string_view user_public_key, std::string_view nonce,
                                          std::string_view signature);

// For tests and tools: a new user key pair in text form, and signing with its seed.
struct UserKeyPair {
  std::string public_key;  // "U..."
  std::string seed;        // "SU..." (as an nkey seed file holds it)
  std::array<uint8_t, 64> secret{};  // libsodium's secret key (seed + public key)
};
[[nodiscard]] UserKeyPair make_user_key_pair();
[[nodiscard]] std::string sign_nonce(const UserKeyPair& keys, std::string_view nonce);  // base64url, no padding

}  // namespace forest::broker::nkeys
