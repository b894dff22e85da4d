// What a publish to a stream carries in its Nats-* headers, read as nats-server reads them
// (getHeader: a key at the start of a header line, exact case, the value after ':' with
// leading spaces dropped), and the pub ack replies written byte for byte as nats-server
// writes them (its success ack is hand-formatted, with a space after the commas).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api_errors.hpp"

namespace forest::broker::js {

// The value of header `key` in a raw "NATS/1.0\r\n..." block; nullopt when absent.
[[nodiscard]] std::optional<std::string_view> header_value(std::string_view headers, std::string_view key);

struct PublishHeaders {
  std::string msg_id;                 // Nats-Msg-Id
  std::string expected_stream;        // Nats-Expected-Stream
  std::optional<uint64_t> expected_last_seq;          // Nats-Expected-Last-Sequence
  std::optional<uint64_t> expected_last_subject_seq;  // Nats-Expected-Last-Subject-Sequence
  std::optional<std::string> expected_last_msg_id;    // Nats-Expected-Last-Msg-Id
  std::string rollup;                 // Nats-Rollup, as given ("sub", "all", or invalid)
};

// A number that does not parse is UINT64_MAX, as nats-server's uint64(parseInt64(..)) = uint64(-1).
[[nodiscard]] PublishHeaders parse_publish_headers(std::string_view headers);

// {"stream":"S", "seq":N} / {"stream":"S", "domain":"D", "seq":N}, with ,"duplicate": true.
[[nodiscard]] std::string pub_ack_json(std::string_view stream, std::string_view domain, uint64_t seq, bool duplicate);
// {"error":{...},"stream":"S","seq":0} (Go's json.Marshal of JSPubAckResponse).
[[nodiscard]] std::string pub_ack_error_json(std::string_view stream, const ApiError& error);

}  // namespace forest::broker::js
