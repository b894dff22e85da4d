// Times as text the way Go writes and reads them in nats-server's JSON: time.Time as RFC 3339
// with nanoseconds in UTC (trailing zeros of the fraction dropped), parsed back from any
// RFC 3339 form (a fraction of any length, "Z" or a "+hh:mm" offset).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace forest::broker {

// Nanoseconds since the Unix epoch.
[[nodiscard]] std::string rfc3339_from_unix_ns(int64_t unix_ns);
[[nodiscard]] inline std::string rfc3339(std::chrono::system_clock::time_point t) {
  return rfc3339_from_unix_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}
[[nodiscard]] std::optional<int64_t> parse_rfc3339(std::string_view text);

// A time as Go keeps it after parsing: the instant and the zone offset it was written with
// (Go marshals it back in that offset; offset 0 is written "Z").
struct ZonedTime {
  int64_t unix_ns = 0;
  int32_t utc_offset_s = 0;
  bool operator==(const ZonedTime&) const = default;
};
[[nodiscard]] std::optional<ZonedTime> parse_rfc3339_zoned(std::string_view text);
[[nodiscard]] std::string rfc3339(const ZonedTime& t);

}  // namespace forest::broker
