#include "nkeys.hpp"

#include <sodium.h>

#include <initializer_list>
#include <stdexcept>
#include <vector>

namespace forest::broker::nkeys {

namespace {

constexpr uint8_t kPrefixUser = 20 << 3;  // 'U'
constexpr uint8_t kPrefixSeed = 18 << 3;  // 'S'
constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kBase64Std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void ensure_sodium() {
  // Thread-safe and idempotent (libsodium's own guarantee); fails only without entropy.
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}

uint16_t crc16_xmodem(const uint8_t* data, std::size_t n) {
  uint16_t crc = 0;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= static_cast<uint16_t>(data[i] << 8);
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
  }
  return crc;
}

// Base32 and base64 without padding are one scheme: each character carries `bits` bits of
// the byte stream, most significant first. `alphabets` lists the accepted alphabets (base64
// takes the URL-safe and the standard one); characters outside them fail the decode.
std::optional<std::vector<uint8_t>> decode_bits(std::string_view text, int bits_per_char,
                                                std::initializer_list<std::string_view> alphabets) {
  std::vector<uint8_t> out;
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    std::size_t pos = std::string_view::npos;
    for (std::string_view a : alphabets) {
      if (pos == std::string_view::npos) pos = a.find(c);
    }
    if (pos == std::string_view::npos) return std::nullopt;
    buffer = (buffer << bits_per_char) | static_cast<uint32_t>(pos);
    bits += bits_per_char;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(buffer >> bits));
    }
  }
  return out;
}

std::string encode_bits(const uint8_t* data, std::size_t n, int bits_per_char, std::string_view alphabet) {
  const uint32_t mask = (1u << bits_per_char) - 1;
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= bits_per_char) {
      bits -= bits_per_char;
      out.push_back(alphabet[(buffer >> bits) & mask]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (bits_per_char - bits)) & mask]);
  return out;
}

std::optional<std::vector<uint8_t>> base32_decode(std::string_view text) { return decode_bits(text, 5, {kBase32}); }

// Raw base64 in either alphabet; standard base64 may carry '=' padding.
std::optional<std::vector<uint8_t>> base64_decode_any(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  return decode_bits(text, 6, {kBase64Url, kBase64Std});
}

std::string base64url_encode(const uint8_t* data, std::size_t n) { return encode_bits(data, n, 6, kBase64Url); }

}  // namespace

std::string encode_with_checksum(std::vector<uint8_t> raw) {
  const uint16_t crc = crc16_xmodem(raw.data(), raw.size());
  raw.push_back(static_cast<uint8_t>(crc & 0xff));
  raw.push_back(static_cast<uint8_t>(crc >> 8));
  return encode_bits(raw.data(), raw.size(), 5, kBase32);
}

std::optional<PublicKey> decode_user_public_key(std::string_view text) {
  if (text.size() != 56) return std::nullopt;  // 35 bytes in base32
  const auto raw = base32_decode(text);
  if (!raw || raw->size() != 35 || (*raw)[0] != kPrefixUser) return std::nullopt;
  const uint16_t crc = static_cast<uint16_t>((*raw)[33] | ((*raw)[34] << 8));
  if (crc16_xmodem(raw->data(), 33) != crc) return std::nullopt;
  PublicKey key{};
  std::copy(raw->begin() + 1, raw->begin() + 33, key.begin());
  return key;
}

std::string make_nonce() {
  ensure_sodium();
  std::array<uint8_t, 11> raw{};
  randombytes_buf(raw.data(), raw.size());
  return base64url_encode(raw.data(), raw.size());
}

bool verify_nonce_signature(std::string_view user_public_key, std::string_view nonce, std::string_view signature) {
  const auto key = decode_user_public_key(user_public_key);
  if (!key || nonce.empty()) return false;
  const auto sig = base64_decode_any(signature);
  if (!sig || sig->size() != crypto_sign_BYTES) return false;
  ensure_sodium();
  return crypto_sign_verify_detached(sig->data(), reinterpret_cast<const unsigned char*>(nonce.data()), nonce.size(),
                                     key->data()) == 0;
}

UserKeyPair make_user_key_pair() {
  ensure_sodium();
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
  randombytes_buf(seed.data(), seed.size());
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  UserKeyPair out;
  crypto_sign_seed_keypair(pk.data(), out.secret.data(), seed.data());
  std::vector<uint8_t> pub{kPrefixUser};
  pub.insert(pub.end(), pk.begin(), pk.end());
  out.public_key = encode_with_checksum(std::move(pub));
  std::vector<uint8_t> s{static_cast<uint8_t>(kPrefixSeed | (kPrefixUser >> 5)), static_cast<uint8_t>((kPrefixUser & 31) << 3)};
  s.insert(s.end(), seed.begin(), seed.end());
  out.seed = encode_with_checksum(std::move(s));
  sodium_memzero(seed.data(), seed.size());
  return out;
}

std::string sign_nonce(const UserKeyPair& keys, std::string_view nonce) {
  ensure_sodium();
  std::array<uint8_t, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(nonce.data()), nonce.size(),
                       keys.secret.data());
  return base64url_encode(sig.data(), sig.size());
}

}  // namespace forest::broker::nkeys
