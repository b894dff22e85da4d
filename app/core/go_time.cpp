#include "app/core/go_time.hpp"

#include <chrono>

namespace forest::app {

namespace {

constexpr std::int64_t seconds_per_day = 86'400;

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (the era-based civil
// calendar arithmetic: 400-year eras of 146097 days, years starting in March).
constexpr std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146'097 + doe - 719'468;
}

struct Civil {
  std::int64_t year;
  int month;
  int day;
};

constexpr Civil civil_from_days(std::int64_t z) noexcept {
  z += 719'468;
  const std::int64_t era = floor_div(z, 146'097);
  const std::int64_t doe = z - era * 146'097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const auto day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const auto month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return Civil{yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(1, 1, 1) * seconds_per_day == GoTime::zero_unix_s);
static_assert(civil_from_days(days_from_civil(2024, 2, 29)).day == 29);

constexpr bool is_leap(std::int64_t y) noexcept { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

constexpr int days_in_month(std::int64_t y, int m) noexcept {
  constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

std::unexpected<Error> time_error(std::string_view text, std::string_view why) {
  std::string msg = "parsing time \"";
  msg += text;
  msg += "\" as RFC 3339: ";
  msg += why;
  return fail(Errc::bad_time, std::move(msg));
}

// Decimal digits s[at, at+n) as a number, or -1.
int digits(std::string_view s, std::size_t at, std::size_t n) noexcept {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

void append_2(std::string& out, int v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

}  // namespace

GoTime GoTime::from_unix_ns(std::int64_t ns, std::int32_t offset_min) noexcept {
  const std::int64_t s = floor_div(ns, 1'000'000'000);
  return GoTime{s, static_cast<std::int32_t>(ns - s * 1'000'000'000), offset_min};
}

GoTime GoTime::now_utc() noexcept {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return from_unix_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch).count());
}

std::expected<GoTime, Error> go_time_from_civil(int year, int month, int day, int hour, int minute, int second,
                                                int nsec, int offset_min) {
  if (year < 0 || year > 9999 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
      hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || nsec < 0 ||
      nsec > 999'999'999 || offset_min <= -24 * 60 || offset_min >= 24 * 60) {
    return fail(Errc::bad_time, "time field out of range");
  }
  const std::int64_t local = days_from_civil(year, month, day) * seconds_per_day + hour * 3600 + minute * 60 + second;
  return GoTime{local - std::int64_t{offset_min} * 60, nsec, offset_min};
}

std::expected<void, Error> append_go_time(std::string& out, const GoTime& t) {
  if (t.nsec < 0 || t.nsec > 999'999'999 || t.offset_min <= -24 * 60 || t.offset_min >= 24 * 60) {
    return fail(Errc::bad_time, "Time.MarshalJSON: invalid time value");
  }
  const std::int64_t local = t.unix_s + std::int64_t{t.offset_min} * 60;
  const std::int64_t days = floor_div(local, seconds_per_day);
  const std::int64_t sod = local - days * seconds_per_day;
  const Civil c = civil_from_days(days);
  if (c.year < 0 || c.year > 9999) return fail(Errc::bad_time, "Time.MarshalJSON: year outside of range [0,9999]");
  const auto year = static_cast<int>(c.year);
  append_2(out, year / 100);
  append_2(out, year % 100);
  out.push_back('-');
  append_2(out, c.month);
  out.push_back('-');
  append_2(out, c.day);
  out.push_back('T');
  append_2(out, static_cast<int>(sod / 3600));
  out.push_back(':');
  append_2(out, static_cast<int>(sod / 60 % 60));
  out.push_back(':');
  append_2(out, static_cast<int>(sod % 60));
  if (t.nsec != 0) {
    char frac[9];
    std::int32_t n = t.nsec;
    for (int i = 8; i >= 0; --i) {
      frac[i] = static_cast<char>('0' + n % 10);
      n /= 10;
    }
    std::size_t len = 9;
    while (frac[len - 1] == '0') --len;
    out.push_back('.');
    out.append(frac, len);
  }
  if (t.offset_min == 0) {
    out.push_back('Z');
  } else {
    const int off = t.offset_min < 0 ? -t.offset_min : t.offset_min;
    out.push_back(t.offset_min < 0 ? '-' : '+');
    append_2(out, off / 60);
    out.push_back(':');
    append_2(out, off % 60);
  }
  return {};
}

std::expected<std::string, Error> format_go_time(const GoTime& t) {
  std::string out;
  auto r = append_go_time(out, t);
  if (!r) return std::unexpected(std::move(r.error()));
  return out;
}

std::expected<GoTime, Error> parse_go_time(std::string_view s) {
  // Fixed layout first: "2006-01-02T15:04:05".
  if (s.size() < 19) return time_error(s, "too short");
  const int year = digits(s, 0, 4);
  const int month = digits(s, 5, 2);
  const int day = digits(s, 8, 2);
  const int hour = digits(s, 11, 2);
  const int minute = digits(s, 14, 2);
  const int second = digits(s, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) {
    return time_error(s, "expected digits");
  }
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return time_error(s, "expected separators \"-\", \"T\" and \":\" (uppercase T)");
  }
  std::size_t i = 19;
  int nsec = 0;
  if (i + 1 < s.size() && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
    ++i;
    int scale = 100'000'000;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      nsec += (s[i] - '0') * scale;  // digits past the ninth are read and ignored, as Go does
      scale /= 10;
      ++i;
    }
  }
  const std::string_view zone = s.substr(i);
  int offset_min = 0;
  if (zone != "Z") {
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':') {
      return time_error(s, "expected \"Z\" or a \"±hh:mm\" offset");
    }
    const int oh = digits(zone, 1, 2);
    const int om = digits(zone, 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return time_error(s, "zone offset out of range");
    offset_min = (zone[0] == '-' ? -1 : 1) * (oh * 60 + om);
  }
  auto t = go_time_from_civil(year, month, day, hour, minute, second, nsec, offset_min);
  if (!t) return time_error(s, "field out of range");
  return t;
}

std::expected<void, Error> decode_time_field(std::string_view value, GoTime& out) {
  if (value == "null") return {};
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') {
    return fail(Errc::bad_time, "Time.UnmarshalJSON: input is not a JSON string");
  }
  auto t = parse_go_time(value.substr(1, value.size() - 2));
  if (!t) return std::unexpected(std::move(t.error()));
  out = *t;
  return {};
}

}  // namespace forest::app
