// The bytes a consumer puts on the wire and reads back, as nats-server 2.9.10 writes them:
// the ack reply subject of a delivery, the MSG.NEXT request body, the ack bodies (+ACK, -NAK
// with a delay, +WPI, +NXT, +TERM) and the status messages (100 Idle Heartbeat, 100
// FlowControl Request, 404/408/409). Pure functions, no state.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace forest::broker::js {

// $JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.<consumer seq>.<time ns>.<pending>
[[nodiscard]] std::string ack_reply_subject(std::string_view stream, std::string_view consumer, uint64_t deliveries,
                                            uint64_t sseq, uint64_t dseq, int64_t time_ns, uint64_t pending);

struct AckSubjectInfo {
  uint64_t deliveries = 0;
  uint64_t sseq = 0;
  uint64_t dseq = 0;
};
// nullopt unless the subject has the 9 tokens of an ack reply with numbers where they belong
// (nats-server's ackReplyInfo then yields zeros and the ack does nothing).
[[nodiscard]] std::optional<AckSubjectInfo> parse_ack_subject(std::string_view subject);

enum class AckKind : uint8_t { ack, nak, progress, next, term, unknown };
struct AckBody {
  AckKind kind = AckKind::unknown;
  // -NAK: the redelivery delay when one was given ("-NAK 5s" or -NAK {"delay": ns}); a delay
  // that does not parse is a plain -NAK (nats-server logs a warning).
  std::optional<int64_t> nak_delay_ns;
  bool bad_nak_delay = false;
  std::string_view next_request;  // +NXT: the rest, a MSG.NEXT body
};
// An empty body, +ACK or +OK is an ack (processAck); unknown bodies do nothing.
[[nodiscard]] AckBody parse_ack_body(std::string_view body);

// JSApiConsumerGetNextRequest, from a MSG.NEXT body: empty = one message; a bare number = the
// batch; else JSON {"batch","expires","max_bytes","no_wait","idle_heartbeat"}.
struct NextRequest {
  int64_t batch = 1;
  int64_t max_bytes = 0;
  bool no_wait = false;
  int64_t expires_ns = 0;    // relative; 0 = no expiry
  int64_t heartbeat_ns = 0;  // 0 = none
};
// The error is the text after "Bad Request - " in nats-server's 400 status.
[[nodiscard]] std::expected<NextRequest, std::string> parse_next_request(std::string_view body);

// "NATS/1.0 <code> <text>\r\n\r\n"
[[nodiscard]] std::string status_headers(int code, std::string_view text);
// The same with Nats-Pending-Messages and Nats-Pending-Bytes (408 Request Timeout, ...).
[[nodiscard]] std::string pending_status_headers(int code, std::string_view text, int64_t msgs, int64_t bytes);
// 100 Idle Heartbeat with Nats-Last-Consumer / Nats-Last-Stream (and Nats-Consumer-Stalled
// with the flow-control reply a push consumer waits for).
[[nodiscard]] std::string heartbeat_headers(uint64_t last_dseq, uint64_t last_sseq, std::string_view stalled_on);
// `n` characters drawn from `alphabet` (ephemeral consumer names, advisory ids).
[[nodiscard]] std::string random_token(std::string_view alphabet, std::size_t n);
// headers_only deliveries: the original headers (or a bare NATS/1.0 line) plus Nats-Msg-Size.
[[nodiscard]] std::string headers_only(std::string_view headers, std::size_t data_len);

}  // namespace forest::broker::js
