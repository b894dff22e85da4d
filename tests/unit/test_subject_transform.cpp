// Subject transforms (nats-server's newTransform/Match rules for $N, {{wildcard(N)}} and '>').
#include <catch2/catch.hpp>

#include "subject_transform.hpp"

using forest::broker::make_subject_transform;

namespace {
std::string map(std::string_view src, std::string_view dest, std::string_view subject) {
  auto t = make_subject_transform(src, dest);
  if (!t) return "error: " + t.error();
  auto out = t->apply(subject);
  return out ? *out : "<no match>";
}
}  // namespace

TEST_CASE("subject transforms map wildcards and the tail", "[transform]") {
  CHECK(map(">", ">", "a.b.c") == "a.b.c");
  CHECK(map("", ">", "a.b") == "a.b");
  CHECK(map("orders.*", "copy.$1", "orders.eu") == "copy.eu");
  CHECK(map("orders.*.*", "copy.$2.$1", "orders.eu.new") == "copy.new.eu");
  CHECK(map("orders.*.*", "copy.{{wildcard(2)}}.{{wildcard(1)}}", "orders.eu.new") == "copy.new.eu");
  CHECK(map("orders.>", "copy.>", "orders.eu.new.x") == "copy.eu.new.x");
  CHECK(map("orders.*.>", "copy.$1.>", "orders.eu.new.x") == "copy.eu.new.x");
  CHECK(map("orders.new", "copy.fixed", "orders.new") == "copy.fixed");
  CHECK(map("orders.*", "copy.$1", "other.eu") == "<no match>");
  CHECK(map("orders.*", "copy.$1", "orders.eu.more") == "<no match>");
  CHECK(map("orders.*", "copy.$cash", "orders.eu").starts_with("error"));  // $cash is a literal: $1 unused
}

TEST_CASE("subject transforms refuse what nats-server refuses, and say what is not supported", "[transform]") {
  CHECK(!make_subject_transform("orders.*", "copy.$2"));       // index out of range
  CHECK(!make_subject_transform("orders.*.*", "copy.$1"));     // a wildcard unused
  CHECK(!make_subject_transform("orders.>", "copy.x"));        // '>' on one side only
  CHECK(!make_subject_transform("orders.*", "copy.*"));        // a wildcard in the destination
  CHECK(!make_subject_transform("orders..x", "copy"));         // not a subject
  auto partition = make_subject_transform("orders.*", "p.{{partition(3,1)}}");
  REQUIRE(!partition);
  CHECK(partition.error().find("not supported") != std::string::npos);
}
