// The NATS wire-protocol parser: client verbs and the route verbs of the 2.9 protocol.
//
// Self-contained (no dependency on the rest of broker/), so it is unit-tested at every
// split point and fuzzed alone. One Parser per connection, owned by the connection's I/O
// thread; it is not thread-safe and needs no locks.
//
// Views handed to the handler point into the caller's read buffer or the parser's own
// buffers and are valid only for the duration of the callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace forest::protocol {

// Which side of the protocol we parse: a client connection accepts client verbs only;
// a route also accepts RS+/RS-/LS+/LS-/RMSG/LMSG/HMSG/A+/A-; `server` is what a client
// (the bench, an in-process client) reads from a server: MSG, HMSG, INFO, PING, PONG, +OK, -ERR.
enum class PeerKind : uint8_t { client, route, server };

// The outcome of feeding bytes. Everything but `ok` means the connection must close,
// after the server sent the error text that nats-server sends for that case.
enum class ParseStatus : uint8_t {
  ok,
  unknown_operation,    // -ERR 'Unknown Protocol Operation'
  max_control_line,     // -ERR 'maximum control line exceeded'
  max_payload,          // -ERR 'Maximum Payload Violation'
  bad_arguments,        // closed without an error text, as nats-server does
  headers_not_supported,// HPUB on a connection that did not negotiate headers: closed silently
  auth_violation,       // -ERR 'Authorization Violation': something other than CONNECT came first
  stopped_by_handler,   // a callback asked to stop (it already sent whatever was due)
  paused,               // a callback called pause(): the bytes from resume_offset() on are not parsed yet
};

// PUB / HPUB from a client; also the message part of RMSG / HMSG / LMSG from a route.
struct MessageArgs {
  std::string_view account;   // routes only
  std::string_view subject;
  std::string_view sid;       // MSG/HMSG read by a client only
  std::string_view reply;     // empty when none
  std::string_view size_text; // the total-size token exactly as received
  std::string_view header_size_text;
  int64_t header_size = -1;   // -1: no headers (PUB / RMSG)
  int64_t total_size = 0;     // headers + body
  std::span<const std::string_view> queues;  // RMSG/HMSG `| q1 q2` or `+ reply q1` lists
  bool origin_cluster = false;               // LMSG
};

// RS+ / RS- / LS+ / LS- from a route: `<account> <subject> [<queue> <weight>]`.
struct RemoteSubArgs {
  std::string_view account;
  std::string_view subject;
  std::string_view queue;
  int32_t weight = 0;
  bool leaf = false;  // LS+/LS- (origin-cluster aware variant)
};

// Callbacks; each returns false to stop parsing (the connection is closing).
class ParserHandler {
 public:
  virtual ~ParserHandler() = default;
  virtual bool on_connect(std::string_view json) = 0;
  virtual bool on_info(std::string_view json) = 0;
  // payload = headers + body, without the trailing CRLF. header_size splits it.
  virtual bool on_message(const MessageArgs& args, std::string_view payload) = 0;
  virtual bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) = 0;
  // max < 0: no limit given (or not a number, which nats-server treats the same way).
  virtual bool on_unsub(std::string_view sid, int64_t max) = 0;
  virtual bool on_ping() = 0;
  virtual bool on_pong() = 0;
  virtual bool on_ok() = 0;
  virtual bool on_err(std::string_view text) = 0;
  // With set_connect_required(true), called once when an operation other than CONNECT starts:
  // true lets it (and what follows) through without a CONNECT (nats-server's no_auth_user),
  // false refuses it (feed() returns auth_violation). The default refuses.
  virtual bool on_op_before_connect() { return false; }
  // Route verbs; the default refuses them so a client handler need not care.
  virtual bool on_remote_sub(const RemoteSubArgs&) { return false; }
  virtual bool on_remote_unsub(const RemoteSubArgs&) { return false; }
  virtual bool on_account_sub(std::string_view) { return false; }
  virtual bool on_account_unsub(std::string_view) { return false; }
};

struct ParserLimits {
  int64_t max_control_line = 4096;  // applies to client connections only, like nats-server
  int64_t max_payload = 1024 * 1024;  // < 0 means no limit (routes); 0 allows empty payloads only
};

class Parser {
 public:
  explicit Parser(PeerKind kind, ParserLimits limits = {}) : kind_(kind), limits_(limits) {}

  // Feeds one read buffer. On anything but ok the parser is unusable (the connection closes).
  [[nodiscard]] ParseStatus feed(std::string_view data, ParserHandler& handler);

  void set_limits(ParserLimits limits) { limits_ = limits; }
  void set_headers_allowed(bool allowed) { headers_allowed_ = allowed; }
  // While set, an operation other than CONNECT must be let through by the handler's
  // on_op_before_connect() (auth required; CONNECT clears it in the handler).
  void set_connect_required(bool required) { connect_required_ = required; }
  // Called from a (non-message) callback: feed() returns `paused` right after that operation,
  // and resume_offset() says where in that buffer the unparsed bytes start. The caller feeds
  // them again later (e.g. once a slow authorization check is done).
  void pause() { pause_requested_ = true; }
  [[nodiscard]] std::size_t resume_offset() const { return resume_offset_; }
  [[nodiscard]] PeerKind kind() const { return kind_; }
  // True while a control line or a payload is split across reads (for tests and idle checks).
  [[nodiscard]] bool mid_operation() const { return state_ != State::line_start || !line_buf_.empty(); }
  // Bytes held for a control line split across reads (bounded; for tests).
  [[nodiscard]] std::size_t buffered_line_bytes() const { return line_buf_.size(); }

 private:
  enum class State : uint8_t { line_start, payload };

  ParseStatus parse_line(std::string_view line, std::string_view rest_of_buffer, std::size_t& consumed,
                         ParserHandler& handler);
  ParseStatus parse_message_args(std::string_view op_rest, bool route_msg, bool with_headers, bool origin,
                                 MessageArgs& out);
  ParseStatus parse_delivery_args(std::string_view arg, bool with_headers, MessageArgs& out);
  ParseStatus dispatch_message(const MessageArgs& args, std::string_view payload, ParserHandler& handler);
  [[nodiscard]] ParseStatus buffer_partial_line(std::string_view piece);

  PeerKind kind_;
  ParserLimits limits_;
  bool headers_allowed_ = false;
  bool connect_required_ = false;
  bool pause_requested_ = false;
  std::size_t resume_offset_ = 0;
  State state_ = State::line_start;

  std::string line_buf_;      // a control line split across reads (without the blanks after the verb)
  bool skip_line_ = false;    // line_buf_ holds an argument-less verb; the rest of its line is ignored
  std::string pending_line_;  // the control line of a message whose payload is split
  std::string payload_buf_;   // a payload (plus CRLF) split across reads
  std::size_t payload_need_ = 0;  // payload + CRLF bytes the current message needs in all

  std::vector<std::string_view> queue_views_;
  MessageArgs args_;  // reused for every message (see reset() in parser.cpp)
  bool msg_is_route_ = false, msg_has_headers_ = false, msg_origin_ = false;
};

// Splits on spaces and tabs (and CR/LF, as nats-server's splitArg does); at most `max_out` pieces
// are stored, and the function returns how many there were in all.
std::size_t split_args(std::string_view line, std::string_view* out, std::size_t max_out);

// nats-server's parseSize: 1-9 ASCII digits, else -1.
int64_t parse_size(std::string_view text);

// A JSON object key folded the way Go's encoding/json compares keys with struct fields (and so
// nats-server reads CONNECT): ASCII case-insensitively, with U+017F (long s) as 's' and U+212A
// (Kelvin sign) as 'k'. Compare the result with a lower-case field name.
std::string fold_json_key(std::string_view key);

// CONNECT's JSON for a trace line, with the value of every credential field (pass, auth_token,
// sig, jwt, and any key starting with "pass", as nats-server's pattern has it) replaced by
// "[REDACTED]". Works on malformed JSON too: it is traced before it is parsed.
std::string redact_connect_secrets(std::string_view json);

}  // namespace forest::protocol
