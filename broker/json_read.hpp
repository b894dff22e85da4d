// Reading JSON as Go's encoding/json does for nats-server's structs: keys matched without
// regard to case, unknown fields ignored, null leaves a field as it was, and a value of the
// wrong type fails the whole document (Go's Unmarshal error). simdjson's on-demand API: each
// value can be read once, in document order.
#pragma once

#include <simdjson.h>

#include <cctype>
#include <limits>
#include <type_traits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "time_text.hpp"

namespace forest::broker::json {

using simdjson::ondemand::value;

// `name` is lower case.
inline bool key_is(std::string_view key, std::string_view name) {
  if (key.size() != name.size()) return false;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(key[i])) != name[i]) return false;
  }
  return true;
}

// Whether `v` is JSON null. A malformed token is not null: the typed read that follows fails on
// it. Never convert a simdjson_result<bool> to bool: that throws on an error, and a client's
// bytes like `nu\0ll` would end the process (the build sets SIMDJSON_EXCEPTIONS=0 so that
// such a conversion does not compile).
inline bool is_null(value& v) {
  bool null = false;
  return v.is_null().get(null) == simdjson::SUCCESS && null;
}

inline bool read_string(value v, std::string& out) {
  if (is_null(v)) return true;
  std::string_view sv;
  if (v.get_string().get(sv) != simdjson::SUCCESS) return false;
  out.assign(sv);
  return true;
}

inline bool read_bool(value v, bool& out) {
  if (is_null(v)) return true;
  return v.get_bool().get(out) == simdjson::SUCCESS;
}

// Integers only, as Go's int fields: 1.5 or "1" fail. The range is checked against Int.
template <typename Int>
bool read_int(value v, Int& out) {
  if (is_null(v)) return true;
  if constexpr (std::is_unsigned_v<Int>) {
    uint64_t n = 0;
    if (v.get_uint64().get(n) != simdjson::SUCCESS) return false;
    if (n > static_cast<uint64_t>(std::numeric_limits<Int>::max())) return false;
    out = static_cast<Int>(n);
  } else {
    int64_t n = 0;
    if (v.get_int64().get(n) != simdjson::SUCCESS) return false;
    if (n < static_cast<int64_t>(std::numeric_limits<Int>::min()) || n > static_cast<int64_t>(std::numeric_limits<Int>::max())) {
      return false;
    }
    out = static_cast<Int>(n);
  }
  return true;
}

inline bool read_strings(value v, std::vector<std::string>& out) {
  if (is_null(v)) return true;
  simdjson::ondemand::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return false;
  out.clear();
  for (auto element : arr) {
    std::string_view sv;
    if (element.get_string().get(sv) != simdjson::SUCCESS) return false;
    out.emplace_back(sv);
  }
  return true;
}

// A time.Time: an RFC 3339 string, kept with its zone offset (Go writes it back in that offset).
inline bool read_time(value v, std::optional<ZonedTime>& out) {
  if (is_null(v)) return true;
  std::string s;
  if (!read_string(v, s)) return false;
  out = parse_rfc3339_zoned(s);
  return out.has_value();
}

// Calls fn(key, value) -> bool for each field of the object `v`; false on any error (also
// when `v` is not an object). A null `v` has no fields.
template <typename Fn>
bool for_each_field(value v, Fn&& fn) {
  if (is_null(v)) return true;
  simdjson::ondemand::object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) return false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    value fv;
    if (field.value().get(fv) != simdjson::SUCCESS) return false;
    if (!fn(key, fv)) return false;
  }
  return true;
}

// The same for a whole document, which must be one object. (simdjson 3.0.1 cannot tell us
// about bytes after it; Go would refuse them.)
template <typename Fn>
bool for_each_field(std::string_view json, Fn&& fn) {
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) return false;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    value v;
    if (field.value().get(v) != simdjson::SUCCESS) return false;
    if (!fn(key, v)) return false;
  }
  return true;
}

}  // namespace forest::broker::json
