// The envelopes against Go's own bytes: every fixture decoded and re-encoded unchanged, the
// same bytes encoded from values built here, Go's decode results (decode-*.in / .out), and
// Leaf.Validate's table.
#include <catch2/catch.hpp>

#include <algorithm>

#include "app/core/go_json.hpp"
#include "fixtures.hpp"

using namespace forest::app;
using namespace forest::app::test;

namespace {

GoTime fixture_ts() { return *go_time_from_civil(2026, 1, 15, 11, 16, 31, 123'456'789); }

std::string encoded(const std::expected<std::string, Error>& r) {
  INFO((r ? std::string() : r.error().text));
  REQUIRE(r);
  return *r;
}

Leaf leaf_with(std::string data, std::string source = "s", GoTime ts = fixture_ts()) {
  return Leaf{"x.y", std::move(data), std::move(source), ts};
}

}  // namespace

TEST_CASE("the fixtures are there", "[app][fixtures]") {
  // A missing directory would make the loops below pass vacuously.
  CHECK(fixture_names(".json").size() == 22);
  CHECK(fixture_names(".in").size() == 8);
  CHECK(fixture_names(".out").size() == 8);
}

TEST_CASE("every Go fixture decodes and re-encodes to the same bytes", "[app][fixtures]") {
  for (const std::string& name : fixture_names(".json")) {
    INFO(name);
    const std::string go = fixture(name);
    REQUIRE(!go.empty());
    auto again = reencode(kind_of(name), go);
    INFO((again ? std::string() : again.error().text));
    REQUIRE(again);
    if (name == "leaf-invalid-utf8-source.json") {
      // The one fixture Go itself does not reproduce: its `\ufffd`s were written for invalid
      // bytes; decoded they are real U+FFFD characters, which Go's encoder (and ours) writes
      // as the raw bytes EF BF BD. The encode from the invalid bytes is checked below.
      std::string want = go;
      for (std::size_t at; (at = want.find("\\ufffd")) != std::string::npos;) want.replace(at, 6, "\xef\xbf\xbd");
      CHECK(*again == want);
      CHECK(*again != go);
      continue;
    }
    CHECK(*again == go);
  }
}

TEST_CASE("decode-*.in gives Go's .out, or a refusal where Go refuses", "[app][fixtures]") {
  for (const std::string& name : fixture_names(".in")) {
    const std::string stem = name.substr(0, name.size() - 3);
    INFO(stem);
    const std::string in = fixture(name);
    const std::string out = fixture(stem + ".out");
    REQUIRE(!out.empty());
    auto got = reencode(kind_of(stem), in);
    if (out.starts_with("DECODE ERROR")) {
      INFO("Go: " << out);
      CHECK_FALSE(got);
    } else {
      INFO((got ? std::string() : got.error().text));
      REQUIRE(got);
      CHECK(*got == out);
    }
  }
}

TEST_CASE("refusals name the right cause", "[app][fixtures]") {
  auto slot = decode_compost(fixture("decode-compost-slot-negative.in"));
  REQUIRE_FALSE(slot);
  CHECK(slot.error().code == Errc::type_mismatch);
  CHECK(slot.error().text == "json: cannot unmarshal number -1 into Go struct field Compost.slot of type uint64");

  for (const char* name : {"decode-leaf-ts-lowercase.in", "decode-leaf-ts-not-rfc3339.in"}) {
    auto leaf = decode_leaf(fixture(name));
    REQUIRE_FALSE(leaf);
    CHECK(leaf.error().code == Errc::bad_time);
    CHECK(leaf.error().text.starts_with("failed to unmarshal leaf: "));
  }
  auto unpadded = decode_river_data(fixture("decode-river-data-base64-unpadded.in"));
  REQUIRE_FALSE(unpadded);
  CHECK(unpadded.error().code == Errc::bad_base64);
  CHECK(unpadded.error().text == "illegal base64 data at input byte 0");
  auto object = decode_river_data(fixture("decode-river-data-not-base64.in"));
  REQUIRE_FALSE(object);
  CHECK(object.error().code == Errc::type_mismatch);
}

TEST_CASE("decoded values are what Go decodes", "[app][fixtures]") {
  auto leaf = decode_leaf(fixture("decode-leaf-unknown-and-duplicate-keys.in"));
  REQUIRE(leaf);
  CHECK(leaf->subject == "c.d");         // the last duplicate wins
  CHECK(leaf->data == R"({"x" : 1})");  // RawMessage keeps the bytes; encoding compacts them
  CHECK(leaf->ts.offset_min == 120);
  CHECK(leaf->ts == *go_time_from_civil(2026, 1, 15, 11, 16, 31, 0, 120));

  auto upper = decode_leaf(fixture("decode-leaf-case-insensitive.in"));
  REQUIRE(upper);
  CHECK(upper->subject == "a.b");
  CHECK(upper->data == R"({"x":1})");
  CHECK(upper->ts.nsec == 100'000'000);

  auto null_ts = decode_leaf(fixture("decode-leaf-ts-null.in"));
  REQUIRE(null_ts);
  CHECK(null_ts->ts.is_zero());

  auto river = decode_river_data(fixture("river-basic.json"));
  REQUIRE(river);
  CHECK(river->subject == "river.stripe.webhook");
  CHECK(river->data == std::optional<std::string>(R"({"type":"charge.succeeded","data":{"object":{"amount":15000}}})"));
  auto nil = decode_river_data(fixture("river-nil-data.json"));
  REQUIRE(nil);
  CHECK_FALSE(nil->data.has_value());
  auto empty = decode_river_data(fixture("river-empty-data.json"));
  REQUIRE(empty);
  CHECK(empty->data == std::optional<std::string>(""));

  auto slot = decode_compost(fixture("compost-slot.json"));
  REQUIRE(slot);
  CHECK(slot->slot == UINT64_MAX);
  CHECK(slot->action == "update");
}

TEST_CASE("leaves built here encode to Go's bytes", "[app][fixtures]") {
  const Leaf basic{"payment.completed",
                   "{\"customer_id\": \"c1\", \"amount\": 150,\n \"currency\": \"usd\", \"item_id\": \"x\"}",
                   "payment-tree", fixture_ts()};
  CHECK(encoded(encode_leaf(basic)) == fixture("leaf-basic.json"));

  CHECK(encoded(encode_leaf(leaf_with("1", "tab\tnl\nq\"bs\\\x01\x1f\x7f"))) == fixture("leaf-control-chars.json"));
  CHECK(encoded(encode_leaf(leaf_with(""))) == fixture("leaf-data-nil.json"));
  CHECK(encoded(encode_leaf(leaf_with("null"))) == fixture("leaf-data-null.json"));
  Leaf recompacted{"data.received", "{\n  \"amount\" : 100,\n  \"list\" : [ 1, 2, { \"a\" : null } ]\n}\n",
                   "general-tree", fixture_ts()};
  CHECK(encoded(encode_leaf(recompacted)) == fixture("leaf-data-recompacted.json"));
  CHECK(encoded(encode_leaf(leaf_with("\"hello\""))) == fixture("leaf-data-string.json"));
  Leaf html{"a.b", R"({"html":"<b>Tom & Jerry</b>"})", "tree<&>", fixture_ts()};
  CHECK(encoded(encode_leaf(html)) == fixture("leaf-html-escaped.json"));
  CHECK(encoded(encode_leaf(leaf_with("1", "bad\xff\xfe" "end"))) == fixture("leaf-invalid-utf8-source.json"));
  CHECK(encoded(encode_leaf(leaf_with("1", "s", *go_time_from_civil(2026, 1, 15, 12, 16, 31, 1000, 60)))) ==
        fixture("leaf-ts-offset.json"));
  CHECK(encoded(encode_leaf(leaf_with("1", "s", *go_time_from_civil(2026, 1, 15, 11, 16, 31, 500'000'000)))) ==
        fixture("leaf-ts-trimmed-fraction.json"));
  CHECK(encoded(encode_leaf(leaf_with("1", "s", *go_time_from_civil(2026, 1, 15, 11, 16, 31, 0)))) ==
        fixture("leaf-ts-whole-second.json"));
  Leaf unicode{"x.y", "{\"t\":\"\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8\xe2\x80\xa9\\u00e9\"}",
               "s\xe2\x80\xa8\xc3\xbc", fixture_ts()};
  CHECK(encoded(encode_leaf(unicode)) == fixture("leaf-unicode.json"));
  CHECK(encoded(encode_leaf(leaf_with("1", "s", GoTime{}))) == fixture("leaf-zero-ts.json"));
}

TEST_CASE("river data and composts built here encode to Go's bytes", "[app][fixtures]") {
  const std::string webhook = R"({"type":"charge.succeeded","data":{"object":{"amount":15000}}})";
  CHECK(encoded(encode_river_data({"river.stripe.webhook", webhook, fixture_ts()})) == fixture("river-basic.json"));
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  CHECK(encoded(encode_river_data({"river.bin", all_bytes, fixture_ts()})) == fixture("river-binary.json"));
  CHECK(encoded(encode_river_data({"river.x", std::string(), fixture_ts()})) == fixture("river-empty-data.json"));
  CHECK(encoded(encode_river_data({"river.x", std::nullopt, fixture_ts()})) == fixture("river-nil-data.json"));
  CHECK(encoded(encode_river_data({"river.x", "a", fixture_ts()})) == fixture("river-one-byte.json"));
  CHECK(encoded(encode_river_data({"river.x", "ab", fixture_ts()})) == fixture("river-two-bytes.json"));

  const Compost create{"tasks/followup-123", "create", R"({"status": "pending", "note": "<urgent>"})",
                       "aftersales-nim", fixture_ts(), 0};
  CHECK(encoded(encode_compost(create)) == fixture("compost-create.json"));
  // humus.Add puts `null` into a delete without data; an empty (nil) data writes the same.
  for (const char* data : {"null", ""}) {
    const Compost del{"tasks/followup-123", "delete", data, "aftersales-nim", fixture_ts(), 0};
    CHECK(encoded(encode_compost(del)) == fixture("compost-delete-null.json"));
  }
  const Compost slot{"k", "update", R"({"a":1})", "n", fixture_ts(), UINT64_MAX};
  CHECK(encoded(encode_compost(slot)) == fixture("compost-slot.json"));
}

TEST_CASE("Leaf.Validate: Go's table, in Go's order", "[app][validate]") {
  const Leaf good{"payment.completed", R"({"a":1})", "payment-tree", fixture_ts()};
  CHECK(validate_leaf(good));

  struct Row {
    const char* what;
    Leaf leaf;
    Errc want;
  };
  const Row rows[] = {
      {"missing subject", {"", R"({"a":1})", "src", fixture_ts()}, Errc::empty_subject},
      {"missing source", {"a.b", R"({"a":1})", "", fixture_ts()}, Errc::empty_source},
      {"missing data", {"a.b", "", "src", fixture_ts()}, Errc::empty_data},
      {"zero ts", {"a.b", R"({"a":1})", "src", GoTime{}}, Errc::zero_ts},
      // Several faults: the first in Go's order is reported.
      {"all missing", {"", "", "", GoTime{}}, Errc::empty_subject},
      {"source and data missing", {"a.b", "", "", GoTime{}}, Errc::empty_source},
      {"data missing, zero ts", {"a.b", "", "src", GoTime{}}, Errc::empty_data},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    auto r = validate_leaf(row.leaf);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == row.want);
  }
}

TEST_CASE("Leaf.Validate on decoded leaves: data null is valid, a missing data key is not", "[app][validate]") {
  auto null_data = decode_leaf(R"({"subject":"a.b","data":null,"source":"s","ts":"2026-01-15T11:16:31Z"})");
  REQUIRE(null_data);
  CHECK(null_data->data == "null");
  CHECK(validate_leaf(*null_data));

  auto no_data = decode_leaf(R"({"subject":"a.b","source":"s","ts":"2026-01-15T11:16:31Z"})");
  REQUIRE(no_data);
  auto r = validate_leaf(*no_data);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::empty_data);

  auto null_ts = decode_leaf(fixture("decode-leaf-ts-null.in"));
  REQUIRE(null_ts);
  auto z = validate_leaf(*null_ts);
  REQUIRE_FALSE(z);
  CHECK(z.error().code == Errc::zero_ts);

  // Go's IsZero looks at the instant: the zero time written in another offset is zero too.
  auto zero_elsewhere = decode_leaf(R"({"subject":"a.b","data":1,"source":"s","ts":"0001-01-01T01:00:00+01:00"})");
  REQUIRE(zero_elsewhere);
  auto ze = validate_leaf(*zero_elsewhere);
  REQUIRE_FALSE(ze);
  CHECK(ze.error().code == Errc::zero_ts);

  // Any JSON type is data.
  for (const char* data : {"\"text\"", "42", "true", "[]"}) {
    auto leaf = decode_leaf(std::string(R"({"subject":"a.b","source":"s","ts":"2026-01-15T11:16:31Z","data":)") +
                            data + "}");
    REQUIRE(leaf);
    CHECK(validate_leaf(*leaf));
  }
}

TEST_CASE("make_leaf stamps now in UTC and validates", "[app][validate]") {
  const GoTime before = GoTime::now_utc();
  const Leaf leaf = make_leaf("a.b", R"({"x":1})", "tree");
  const GoTime after = GoTime::now_utc();
  CHECK(leaf.subject == "a.b");
  CHECK(leaf.data == R"({"x":1})");
  CHECK(leaf.source == "tree");
  CHECK(leaf.ts.offset_min == 0);
  CHECK(leaf.ts.unix_ns() >= before.unix_ns());
  CHECK(leaf.ts.unix_ns() <= after.unix_ns());
  CHECK(validate_leaf(leaf));
  auto json = encode_leaf(leaf);
  REQUIRE(json);
  CHECK(json->ends_with("Z\"}"));
  auto back = decode_leaf(*json);
  REQUIRE(back);
  CHECK(*back == leaf);
}
