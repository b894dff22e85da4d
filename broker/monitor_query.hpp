// Query parameters of a monitoring request, decoded as Go's net/url does (percent-escapes, '+'
// as a space, the first value of a repeated key, pairs with a bad escape dropped) and read as
// nats-server's decodeInt / decodeUint64 / decodeBool read them, with their error texts.
// Plain values; used on the monitor thread.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace forest::broker {

// Decodes %XX escapes (and '+' when `plus_is_space`); nullopt on a malformed escape.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

class QueryParams {
 public:
  explicit QueryParams(std::string_view raw);

  [[nodiscard]] bool has(std::string_view key) const { return values_.contains(key); }
  // "" when absent.
  [[nodiscard]] std::string get(std::string_view key) const;
  // Absent or empty: 0. Go's int is 64 bits, so any int64 is accepted (callers clamp).
  [[nodiscard]] std::expected<int64_t, std::string> get_int(std::string_view key) const;
  [[nodiscard]] std::expected<uint64_t, std::string> get_uint(std::string_view key) const;
  // Absent or empty: false; otherwise Go's strconv.ParseBool spellings.
  [[nodiscard]] std::expected<bool, std::string> get_bool(std::string_view key) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace forest::broker
