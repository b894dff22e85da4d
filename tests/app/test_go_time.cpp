// Go's time.Time in JSON: the RFC 3339 text it writes, and what its strict RFC 3339 parser
// takes (and, where only Go's lenient fallback would take a form, that we refuse it).
#include <catch2/catch.hpp>

#include <string>

#include "app/core/go_time.hpp"
#include "app/core/leaf.hpp"

using namespace forest::app;

namespace {

std::string text(const GoTime& t) {
  auto r = format_go_time(t);
  INFO((r ? std::string() : r.error().text));
  REQUIRE(r);
  return *r;
}

std::string parsed_text(std::string_view s) {
  auto t = parse_go_time(s);
  INFO(s << ": " << (t ? std::string() : t.error().text));
  REQUIRE(t);
  return text(*t);
}

}  // namespace

TEST_CASE("time: written as Go writes it", "[app][time]") {
  CHECK(text(GoTime{}) == "0001-01-01T00:00:00Z");
  CHECK(GoTime{}.is_zero());
  CHECK(text(GoTime::from_unix_ns(0)) == "1970-01-01T00:00:00Z");
  CHECK(text(GoTime::from_unix_ns(1)) == "1970-01-01T00:00:00.000000001Z");
  CHECK(text(GoTime::from_unix_ns(-1)) == "1969-12-31T23:59:59.999999999Z");
  CHECK(text(GoTime::from_unix_ns(1'768'475'791'123'456'789)) == "2026-01-15T11:16:31.123456789Z");
  CHECK(text(GoTime::from_unix_ns(1'768'475'791'120'000'000)) == "2026-01-15T11:16:31.12Z");
  CHECK(text(GoTime::from_unix_ns(1'768'475'791'000'000'000, 60)) == "2026-01-15T12:16:31+01:00");
  CHECK(text(GoTime::from_unix_ns(1'768'475'791'000'000'000, -330)) == "2026-01-15T05:46:31-05:30");
  CHECK(text(*go_time_from_civil(2024, 2, 29, 23, 59, 59, 999'999'999, 23 * 60 + 59)) ==
        "2024-02-29T23:59:59.999999999+23:59");
  CHECK(text(*go_time_from_civil(0, 1, 1, 0, 0, 0, 0)) == "0000-01-01T00:00:00Z");
  CHECK(text(*go_time_from_civil(9999, 12, 31, 23, 59, 59, 999'999'999)) == "9999-12-31T23:59:59.999999999Z");
  // The year Go checks is the one written, in the time's own offset.
  CHECK(text(*go_time_from_civil(9999, 12, 31, 23, 30, 0, 0, -60)) == "9999-12-31T23:30:00-01:00");
  CHECK(text(*go_time_from_civil(0, 1, 1, 0, 30, 0, 0, 60)) == "0000-01-01T00:30:00+01:00");
}

TEST_CASE("time: years Go cannot write are refused", "[app][time]") {
  const GoTime last = *go_time_from_civil(9999, 12, 31, 23, 59, 59, 999'999'999);
  const GoTime after{last.unix_s + 1, 0, 0};
  auto r = format_go_time(after);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::bad_time);
  const GoTime first = *go_time_from_civil(0, 1, 1, 0, 0, 0, 0);
  CHECK_FALSE(format_go_time(GoTime{first.unix_s - 1, 999'999'999, 0}));
  CHECK_FALSE(format_go_time(GoTime{first.unix_s, 0, -1}));  // 0000-01-01T00:00 UTC is year -1 at -00:01
  CHECK_FALSE(format_go_time(GoTime{0, 1'000'000'000, 0}));
  CHECK_FALSE(format_go_time(GoTime{0, -1, 0}));
  CHECK_FALSE(format_go_time(GoTime{0, 0, 24 * 60}));
  CHECK_FALSE(encode_leaf(Leaf{"a", "1", "s", after}));
}

TEST_CASE("time: RFC 3339 forms Go's parser takes", "[app][time]") {
  CHECK(parsed_text("2026-01-15T11:16:31Z") == "2026-01-15T11:16:31Z");
  CHECK(parsed_text("2026-01-15T11:16:31.1Z") == "2026-01-15T11:16:31.1Z");
  CHECK(parsed_text("2026-01-15T11:16:31.000Z") == "2026-01-15T11:16:31Z");
  CHECK(parsed_text("2026-01-15T11:16:31.123456789Z") == "2026-01-15T11:16:31.123456789Z");
  // Past nine digits the fraction is truncated, not rounded.
  CHECK(parsed_text("2026-01-15T11:16:31.1234567899999Z") == "2026-01-15T11:16:31.123456789Z");
  CHECK(parsed_text("2026-01-15T11:16:31+02:00") == "2026-01-15T11:16:31+02:00");
  CHECK(parsed_text("2026-01-15T11:16:31.5-23:59") == "2026-01-15T11:16:31.5-23:59");
  // A zero offset is written back as Z, whichever way it came.
  CHECK(parsed_text("2026-01-15T11:16:31+00:00") == "2026-01-15T11:16:31Z");
  CHECK(parsed_text("2026-01-15T11:16:31-00:00") == "2026-01-15T11:16:31Z");
  CHECK(parsed_text("2024-02-29T00:00:00Z") == "2024-02-29T00:00:00Z");
  CHECK(parsed_text("2000-02-29T00:00:00Z") == "2000-02-29T00:00:00Z");
  CHECK(parsed_text("0000-02-29T00:00:00Z") == "0000-02-29T00:00:00Z");  // year 0 is a leap year
  CHECK(parsed_text("0001-01-01T00:00:00Z") == "0001-01-01T00:00:00Z");
  CHECK(parsed_text("9999-12-31T23:59:59.999999999+23:59") == "9999-12-31T23:59:59.999999999+23:59");

  auto t = parse_go_time("2026-01-15T12:16:31.000001+01:00");
  REQUIRE(t);
  CHECK(t->unix_s == 1'768'475'791);
  CHECK(t->nsec == 1000);
  CHECK(t->offset_min == 60);
  auto zero = parse_go_time("0001-01-01T00:00:00Z");
  REQUIRE(zero);
  CHECK(zero->is_zero());
  CHECK(*zero == GoTime{});
}

TEST_CASE("time: what Go refuses, and the lenient-fallback forms we refuse too", "[app][time]") {
  const char* refused[] = {
      "",
      "2026-01-15",
      "2026-01-15T11:16",
      "2026-01-15T11:16:31",           // no zone
      "2026-01-15t11:16:31Z",          // lowercase t
      "2026-01-15T11:16:31z",          // lowercase z
      "2026-01-15 11:16:31Z",          // space
      "2026-01-15T11:16:31 Z",
      "2026-01-15T11:16:31Zx",
      "2026-01-15T11:16:31.Z",         // a dot without digits
      "2026-01-15T11:16:31.",
      "2026-01-15T11:16:31,5Z",        // comma fraction: Go's fallback takes it; in doubt, refuse
      "2026-01-15T1:16:31Z",           // one-digit hour: likewise
      "2026-1-15T11:16:31Z",
      "26-01-15T11:16:31Z",
      "+2026-01-15T11:16:31Z",
      "12026-01-15T11:16:31Z",
      "2026-13-15T11:16:31Z",
      "2026-00-15T11:16:31Z",
      "2026-01-00T11:16:31Z",
      "2026-01-32T11:16:31Z",
      "2026-02-29T11:16:31Z",          // 2026 is no leap year
      "1900-02-29T11:16:31Z",
      "2026-04-31T11:16:31Z",
      "2026-01-15T24:00:00Z",
      "2026-01-15T11:60:31Z",
      "2026-01-15T11:16:60Z",          // no leap seconds
      "2026-01-15T11:16:31+24:00",
      "2026-01-15T11:16:31+01:60",
      "2026-01-15T11:16:31+0100",
      "2026-01-15T11:16:31+01",
      "2026-01-15T11:16:31+1:00",
      "2026-01-15T11:16:31 +01:00",
      "2026-01-15T11:16:31+01:00:00",
      "2026-01-15T11:16:31UTC",
      "2026/01/15T11:16:31Z",
      "2026-01-15T11-16-31Z",
      "2026-01-15T11:16:31.5+01:00Z",
      "\xef\xbc\x92" "026-01-15T11:16:31Z",
  };
  for (const char* s : refused) {
    INFO("ts: " << s);
    auto r = parse_go_time(s);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::bad_time);
  }
  // In JSON the text between the quotes is taken as is: Go does not unescape it.
  GoTime t;
  CHECK_FALSE(decode_time_field(R"("\u0032026-01-15T11:16:31Z")", t));
  CHECK_FALSE(decode_time_field(R"("2026-01-15T11:16:31\u005a")", t));
  CHECK_FALSE(decode_time_field("1768475791", t));
  CHECK_FALSE(decode_time_field("\"\"", t));
  CHECK(t.is_zero());
  CHECK(decode_time_field("null", t));
  CHECK(t.is_zero());
  REQUIRE(decode_time_field("\"2026-01-15T11:16:31Z\"", t));
  CHECK(t.unix_s == 1'768'475'791);
}

TEST_CASE("time: text and value round-trip across the calendar", "[app][time]") {
  // Days from year 0 to 9999 in steps that hit every month, leap days and both offsets' signs.
  const GoTime first = *go_time_from_civil(0, 1, 1, 0, 0, 0, 0);
  const GoTime last = *go_time_from_civil(9999, 12, 31, 0, 0, 0, 0);
  int checked = 0;
  for (std::int64_t s = first.unix_s + 86'400; s < last.unix_s - 86'400; s += 86'400 * 37 + 3'671) {
    const std::int32_t offset = static_cast<std::int32_t>(s % 1439);
    const GoTime t{s, static_cast<std::int32_t>((s * 7919) % 1'000'000'000 + (s < 0 ? 1'000'000'000 : 0)) % 1'000'000'000,
                   offset};
    auto str = format_go_time(t);
    REQUIRE(str);
    auto back = parse_go_time(*str);
    INFO(*str);
    REQUIRE(back);
    CHECK(*back == t);
    ++checked;
  }
  CHECK(checked > 90'000);
}

TEST_CASE("time: now is UTC and plausible", "[app][time]") {
  const GoTime now = GoTime::now_utc();
  CHECK(now.offset_min == 0);
  CHECK_FALSE(now.is_zero());
  CHECK(now.unix_s > 1'767'225'600);  // after 2026-01-01
  auto s = format_go_time(now);
  REQUIRE(s);
  CHECK(s->ends_with("Z"));
}
