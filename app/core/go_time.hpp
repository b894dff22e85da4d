#pragma once
// Go's time.Time as encoding/json writes and reads it: RFC 3339 with nanoseconds, trailing
// fractional zeros trimmed (no fraction when the nanoseconds are 0), "Z" for a zero offset or
// "+hh:mm"; the zero time is 0001-01-01T00:00:00Z. Pure functions.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "app/core/error.hpp"

namespace forest::app {

// An instant plus the zone offset it is written with (Go keeps the offset a time was parsed
// with and marshals it back in that offset). Default-constructed, it is Go's zero time.
struct GoTime {
  // Seconds from 0001-01-01T00:00:00Z to the Unix epoch, negated.
  static constexpr std::int64_t zero_unix_s = -62'135'596'800;

  std::int64_t unix_s = zero_unix_s;  // seconds since 1970-01-01T00:00:00Z
  std::int32_t nsec = 0;              // 0 .. 999'999'999
  std::int32_t offset_min = 0;        // zone offset east of UTC, in minutes (|offset| < 24 h)

  // Go's IsZero: the instant, whatever the offset.
  [[nodiscard]] bool is_zero() const noexcept { return unix_s == zero_unix_s && nsec == 0; }
  [[nodiscard]] std::int64_t unix_ns() const noexcept { return unix_s * 1'000'000'000 + nsec; }

  [[nodiscard]] static GoTime from_unix_ns(std::int64_t ns, std::int32_t offset_min = 0) noexcept;
  // The wall clock now, in UTC (written with "Z").
  [[nodiscard]] static GoTime now_utc() noexcept;

  friend bool operator==(const GoTime&, const GoTime&) = default;
};

// The civil time y-m-d h:m:s.nsec at `offset_min`; refuses fields out of range (a day past the
// month's end included), as Go's RFC 3339 parser does.
[[nodiscard]] std::expected<GoTime, Error> go_time_from_civil(int year, int month, int day, int hour, int minute,
                                                              int second, int nsec, int offset_min = 0);

// The RFC 3339 text Go writes (no quotes). Refuses a year outside 0..9999 in the time's own
// offset, as Go's MarshalJSON does, and a GoTime whose nsec or offset is out of range.
[[nodiscard]] std::expected<std::string, Error> format_go_time(const GoTime& t);
[[nodiscard]] std::expected<void, Error> append_go_time(std::string& out, const GoTime& t);

// Parses the text between the quotes of a JSON time value (Go does not unescape it):
// YYYY-MM-DDTHH:MM:SS, an optional '.' fraction of one or more digits (only the first nine
// count), then "Z" or ±hh:mm; uppercase T and Z only. Refuses what Go 1.20+'s strict RFC 3339
// path refuses, and also the few forms only its lenient fallback takes (one-digit hour,
// ',' before the fraction): when in doubt, refuse.
[[nodiscard]] std::expected<GoTime, Error> parse_go_time(std::string_view text);

// The value of a JSON `ts` field: `null` leaves `out` as it is; a string is parsed; anything
// else is refused.
[[nodiscard]] std::expected<void, Error> decode_time_field(std::string_view value, GoTime& out);

}  // namespace forest::app
