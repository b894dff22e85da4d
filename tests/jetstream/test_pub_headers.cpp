// Nats-* header reading as nats-server's getHeader does it, and the pub ack texts.
#include <catch2/catch.hpp>

#include "jetstream/pub_headers.hpp"

namespace js = forest::broker::js;

TEST_CASE("publish headers are read as nats-server reads them", "[jetstream][headers]") {
  const std::string h =
      "NATS/1.0\r\nX-Nats-Msg-Id: not-this\r\nNats-Msg-Id:   abc\r\nNats-Expected-Last-Sequence: 42\r\n"
      "Nats-Expected-Last-Subject-Sequence: -1\r\nNats-Rollup: sub\r\nnats-expected-stream: lower\r\n\r\n";
  CHECK(js::header_value(h, "Nats-Msg-Id") == std::optional<std::string_view>("abc"));
  CHECK_FALSE(js::header_value(h, "Msg-Id"));                // only whole keys at a line start
  CHECK_FALSE(js::header_value(h, "Nats-Expected-Stream"));  // keys are case-sensitive, as getHeader
  const auto p = js::parse_publish_headers(h);
  CHECK(p.msg_id == "abc");
  CHECK(p.expected_last_seq == std::optional<uint64_t>(42));
  CHECK(p.expected_last_subject_seq == std::optional<uint64_t>(UINT64_MAX));  // uint64(parseInt64) = uint64(-1)
  CHECK(p.rollup == "sub");
  CHECK(p.expected_stream.empty());
  CHECK_FALSE(p.expected_last_msg_id);
  const auto none = js::parse_publish_headers("");
  CHECK_FALSE(none.expected_last_seq);
  CHECK(none.msg_id.empty());
}

TEST_CASE("pub acks are nats-server's bytes", "[jetstream][headers]") {
  CHECK(js::pub_ack_json("S", "", 7, false) == R"({"stream":"S", "seq":7})");
  CHECK(js::pub_ack_json("S", "", 7, true) == R"({"stream":"S", "seq":7,"duplicate": true})");
  CHECK(js::pub_ack_json("S", "hub", 1, false) == R"({"stream":"S", "domain":"hub", "seq":1})");
  CHECK(js::pub_ack_error_json("S", js::api_error(js::JsErr::JSStreamNotMatchErr)) ==
        R"({"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},"stream":"S","seq":0})");
}
