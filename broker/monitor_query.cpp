#include "monitor_query.hpp"

#include <charconv>
#include <system_error>
#include <type_traits>

namespace forest::broker {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Go's strconv error for a value: `strconv.Atoi: parsing "abc": invalid syntax`.
std::string go_num_error(std::string_view func, std::string_view value, std::errc ec) {
  return std::string(func) + ": parsing \"" + std::string(value) + "\": " +
         (ec == std::errc::result_out_of_range ? "value out of range" : "invalid syntax");
}

template <typename T>
std::expected<T, std::string> parse_number(std::string_view func, std::string_view kind, std::string_view key,
                                           std::string_view value) {
  std::string_view digits = value;
  // Go's Atoi takes a leading '+'; ParseUint does not.
  if constexpr (std::is_signed_v<T>) {
    if (digits.size() > 1 && digits.front() == '+') digits.remove_prefix(1);
  }
  T v{};
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  std::errc err = ec;
  if (err == std::errc() && end != digits.data() + digits.size()) err = std::errc::invalid_argument;
  if (err == std::errc()) return v;
  return std::unexpected("Error decoding " + std::string(kind) + " for '" + std::string(key) +
                         "': " + go_num_error(func, value, err));
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

QueryParams::QueryParams(std::string_view raw) {
  while (!raw.empty()) {
    const auto amp = raw.find('&');
    const std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) continue;
    values_.emplace(std::move(*key), std::move(*value));  // keeps the first, like Go's Get
  }
}

std::string QueryParams::get(std::string_view key) const {
  const auto it = values_.find(key);
  return it == values_.end() ? std::string() : it->second;
}

std::expected<int64_t, std::string> QueryParams::get_int(std::string_view key) const {
  const std::string v = get(key);
  if (v.empty()) return 0;
  return parse_number<int64_t>("strconv.Atoi", "int", key, v);
}

std::expected<uint64_t, std::string> QueryParams::get_uint(std::string_view key) const {
  const std::string v = get(key);
  if (v.empty()) return 0;
  return parse_number<uint64_t>("strconv.ParseUint", "uint64", key, v);
}

std::expected<bool, std::string> QueryParams::get_bool(std::string_view key) const {
  const std::string v = get(key);
  if (v.empty()) return false;
  if (v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "true" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "false" || v == "False") return false;
  return std::unexpected("Error decoding boolean for '" + std::string(key) + "': strconv.ParseBool: parsing \"" + v +
                         "\": invalid syntax");
}

}  // namespace forest::broker
