// Monitoring query parameters: decoded as Go's net/url decodes them, numbers and booleans read
// as nats-server reads them (64-bit ints, its error texts), malformed input never throws.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "monitor_query.hpp"

using namespace forest::broker;

TEST_CASE("percent_decode follows Go's unescaping", "[monitor]") {
  CHECK(percent_decode("a%2Eb", false) == "a.b");
  CHECK(percent_decode("a+b", true) == "a b");
  CHECK(percent_decode("a+b", false) == "a+b");
  CHECK(percent_decode("%41%4a%4A", false) == "AJJ");
  for (const char* bad : {"%", "%4", "a%zz", "%g0", "abc%"}) {
    INFO(bad);
    CHECK_FALSE(percent_decode(bad, true).has_value());
  }
}

TEST_CASE("QueryParams keeps the first value and drops undecodable pairs", "[monitor]") {
  const QueryParams q("subs=1&&limit=5&limit=7&test=a%2Eb&bad=%zz&flag&sort=cid+x");
  CHECK(q.get("subs") == "1");
  CHECK(q.get("limit") == "5");
  CHECK(q.get("test") == "a.b");
  CHECK_FALSE(q.has("bad"));
  CHECK(q.has("flag"));
  CHECK(q.get("flag").empty());
  CHECK(q.get("sort") == "cid x");
  CHECK(q.get("missing").empty());
}

TEST_CASE("QueryParams numbers: 64-bit, absent means 0, errors in nats-server's words", "[monitor]") {
  const QueryParams q("a=9223372036854775807&b=-9223372036854775808&c=%2B3&h=+3&d=abc&e=99999999999999999999&f=1x&g=&u=-1");
  CHECK(q.get_int("a") == INT64_MAX);
  CHECK(q.get_int("b") == INT64_MIN);
  CHECK(q.get_int("c") == 3);  // "%2B3" is "+3", which Atoi takes
  CHECK_FALSE(q.get_int("h").has_value());  // "+3" is " 3" in a query, as in Go
  CHECK(q.get_int("g") == 0);
  CHECK(q.get_int("absent") == 0);
  CHECK(q.get_int("d").error() == "Error decoding int for 'd': strconv.Atoi: parsing \"abc\": invalid syntax");
  CHECK(q.get_int("e").error() ==
        "Error decoding int for 'e': strconv.Atoi: parsing \"99999999999999999999\": value out of range");
  CHECK_FALSE(q.get_int("f").has_value());
  CHECK_FALSE(q.get_uint("u").has_value());
  CHECK(q.get_uint("a") == static_cast<uint64_t>(INT64_MAX));
}

TEST_CASE("QueryParams booleans take Go's ParseBool spellings", "[monitor]") {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) CHECK(QueryParams(std::string("x=") + t).get_bool("x") == true);
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False", ""}) CHECK(QueryParams(std::string("x=") + f).get_bool("x") == false);
  CHECK(QueryParams("x=yes").get_bool("x").error() ==
        "Error decoding boolean for 'x': strconv.ParseBool: parsing \"yes\": invalid syntax");
}
