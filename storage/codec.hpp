#pragma once
// Byte-level encoding shared by op records, stored values and keys: LEB128 varints, zigzag
// for signed values, big-endian fixed 64-bit integers (keys sort numerically in RocksDB's
// bytewise order), and length-prefixed strings. Readers never read past the end: a short or
// malformed buffer turns the reader's `ok()` false and every later read returns zero.

#include <cstdint>
#include <string>
#include <string_view>

namespace forest::storage::codec {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_svarint(std::string& out, std::int64_t v) {
  put_varint(out, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}

inline void put_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void put_bytes(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

inline void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

[[nodiscard]] inline std::uint64_t read_be64(std::string_view s) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool at_end() const { return in_.empty(); }
  [[nodiscard]] std::string_view rest() const { return in_; }

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return bad();
      auto b = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return bad();
  }

  std::int64_t svarint() {
    std::uint64_t u = varint();
    return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }

  std::uint8_t u8() {
    if (in_.empty()) return static_cast<std::uint8_t>(bad());
    auto b = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    return b;
  }

  bool boolean() { return u8() != 0; }

  std::uint64_t be64() {
    if (in_.size() < 8) return bad();
    std::uint64_t v = read_be64(in_);
    in_.remove_prefix(8);
    return v;
  }

  std::string_view bytes() {
    std::uint64_t n = varint();
    if (!ok_ || n > in_.size()) {
      bad();
      return {};
    }
    std::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }

  std::string string() { return std::string(bytes()); }

  // Marks the input malformed (a value out of its range): ok() turns false.
  void invalidate() { bad(); }

 private:
  std::uint64_t bad() {
    ok_ = false;
    in_ = {};
    return 0;
  }

  std::string_view in_;
  bool ok_ = true;
};

}  // namespace forest::storage::codec
