// Parser tests: every message of a corpus fed whole, split at every byte position, and
// byte by byte; pipelined commands; oversize and malformed input.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "protocol/encoder.hpp"
#include "protocol/parser.hpp"

using namespace forest::protocol;

namespace {

// Records every callback as a line of text, so results compare as strings.
class Recorder : public ParserHandler {
 public:
  std::vector<std::string> events;
  bool on_connect(std::string_view j) override { return add("CONNECT " + std::string(j)); }
  bool on_info(std::string_view j) override { return add("INFO " + std::string(j)); }
  bool on_message(const MessageArgs& a, std::string_view payload) override {
    std::string e = a.header_size >= 0 ? "HMSG" : "MSG";
    if (!a.account.empty()) e += " acc=" + std::string(a.account);
    e += " " + std::string(a.subject);
    if (!a.sid.empty()) e += " sid=" + std::string(a.sid);
    if (!a.reply.empty()) e += " reply=" + std::string(a.reply);
    for (auto q : a.queues) e += " q=" + std::string(q);
    if (a.header_size >= 0) e += " hdr=" + std::to_string(a.header_size);
    e += " [" + std::string(payload) + "]";
    return add(e);
  }
  bool on_sub(std::string_view s, std::string_view q, std::string_view sid) override {
    return add("SUB " + std::string(s) + (q.empty() ? "" : " q=" + std::string(q)) + " sid=" + std::string(sid));
  }
  bool on_unsub(std::string_view sid, int64_t max) override {
    return add("UNSUB " + std::string(sid) + " max=" + std::to_string(max));
  }
  bool on_ping() override { return add("PING"); }
  bool on_pong() override { return add("PONG"); }
  bool on_ok() override { return add("OK"); }
  bool on_err(std::string_view t) override { return add("ERR " + std::string(t)); }
  bool on_remote_sub(const RemoteSubArgs& r) override {
    return add("RS+ " + std::string(r.account) + " " + std::string(r.subject) +
               (r.queue.empty() ? "" : " " + std::string(r.queue) + " w=" + std::to_string(r.weight)));
  }
  bool on_remote_unsub(const RemoteSubArgs& r) override {
    return add("RS- " + std::string(r.account) + " " + std::string(r.subject) +
               (r.queue.empty() ? "" : " " + std::string(r.queue)));
  }

 private:
  bool add(std::string e) {
    events.push_back(std::move(e));
    return true;
  }
};

struct Outcome {
  ParseStatus status;
  std::vector<std::string> events;
};

Outcome feed_chunks(PeerKind kind, const std::string& input, const std::vector<std::size_t>& cuts,
                    bool headers = true) {
  Parser p(kind);
  p.set_headers_allowed(headers);
  Recorder r;
  std::size_t start = 0;
  ParseStatus st = ParseStatus::ok;
  for (std::size_t cut : cuts) {
    st = p.feed(std::string_view(input).substr(start, cut - start), r);
    start = cut;
    if (st != ParseStatus::ok) return {st, r.events};
  }
  st = p.feed(std::string_view(input).substr(start), r);
  return {st, r.events};
}

// Feeds the input whole, split in two at every position, and one byte at a time: the
// outcome must not depend on how the bytes arrived.
Outcome check_all_splits(PeerKind kind, const std::string& input, bool headers = true) {
  const Outcome whole = feed_chunks(kind, input, {}, headers);
  for (std::size_t i = 1; i < input.size(); ++i) {
    const Outcome split = feed_chunks(kind, input, {i}, headers);
    INFO("split at " << i << " of " << input.size());
    REQUIRE(split.status == whole.status);
    REQUIRE(split.events == whole.events);
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
  const Outcome bytewise = feed_chunks(kind, input, every, headers);
  REQUIRE(bytewise.status == whole.status);
  REQUIRE(bytewise.events == whole.events);
  return whole;
}

}  // namespace

TEST_CASE("client corpus parses the same at every split point", "[parser]") {
  struct Case {
    std::string input;
    std::vector<std::string> events;
  };
  const std::vector<Case> corpus = {
      {"PING\r\n", {"PING"}},
      {"PONG\r\n", {"PONG"}},
      {"ping\r\npong\r\n", {"PING", "PONG"}},
      {"PINGxyz\r\n", {"PING"}},
      {"+OK\r\n", {"OK"}},
      {"CONNECT {\"verbose\":false}\r\n", {"CONNECT {\"verbose\":false}"}},
      {"CONNECT{}\r\n", {"CONNECT {}"}},
      {"PUB foo 5\r\nhello\r\n", {"MSG foo [hello]"}},
      {"PUB foo bar 5\r\nhello\r\n", {"MSG foo reply=bar [hello]"}},
      {"pub\tfoo  \t 0\r\n\r\n", {"MSG foo []"}},
      {"PUB foo 2\r\n\r\n\r\n", {"MSG foo [\r\n]"}},
      {"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", {"HMSG foo hdr=12 [NATS/1.0\r\n\r\nhi]"}},
      {"HPUB foo r 12 12\r\nNATS/1.0\r\n\r\n\r\n", {"HMSG foo reply=r hdr=12 [NATS/1.0\r\n\r\n]"}},
      {"SUB foo 1\r\n", {"SUB foo sid=1"}},
      {"SUB foo.* bar 22\r\n", {"SUB foo.* q=bar sid=22"}},
      {"UNSUB 1\r\n", {"UNSUB 1 max=-1"}},
      {"UNSUB 1 10\r\n", {"UNSUB 1 max=10"}},
      {"UNSUB 1 x\r\n", {"UNSUB 1 max=-1"}},
      {"-ERR 'oops'\r\n", {"ERR 'oops'"}},
      {"INFO {\"a\":1}\r\n", {"INFO {\"a\":1}"}},
      {"SUB a 1\nPUB a 1\nx\r\nPING\n", {"SUB a sid=1", "MSG a [x]", "PING"}},
      // Blanks after the verb, and trailing bytes of argument-less verbs, at every split.
      {"SUB  \t  foo 1\r\n", {"SUB foo sid=1"}},
      {"PUB\t\t  foo  1\r\nx\r\n", {"MSG foo [x]"}},
      {"CONNECT   {}\r\n", {"CONNECT {}"}},
      {"PING" + std::string(300, 'x') + "\r\nPONG y\r\n+OK z\r\n", {"PING", "PONG", "OK"}},
  };
  for (const Case& c : corpus) {
    INFO("input: " << c.input);
    const Outcome o = check_all_splits(PeerKind::client, c.input);
    CHECK(o.status == ParseStatus::ok);
    CHECK(o.events == c.events);
  }
}

TEST_CASE("pipelined commands in one buffer are all dispatched in order", "[parser]") {
  std::string input;
  std::vector<std::string> expected;
  for (int i = 0; i < 200; ++i) {
    const std::string payload(static_cast<std::size_t>(i), 'x');
    input += "PUB s." + std::to_string(i) + " " + std::to_string(i) + "\r\n" + payload + "\r\n";
    expected.push_back("MSG s." + std::to_string(i) + " [" + payload + "]");
    if (i % 10 == 0) {
      input += "PING\r\n";
      expected.push_back("PING");
    }
  }
  const Outcome whole = feed_chunks(PeerKind::client, input, {});
  REQUIRE(whole.status == ParseStatus::ok);
  REQUIRE(whole.events == expected);
  // Splits every 7 bytes exercise arguments and payloads cut in many places at once.
  std::vector<std::size_t> cuts;
  for (std::size_t i = 7; i < input.size(); i += 7) cuts.push_back(i);
  const Outcome chunked = feed_chunks(PeerKind::client, input, cuts);
  REQUIRE(chunked.status == ParseStatus::ok);
  REQUIRE(chunked.events == expected);
}

TEST_CASE("malformed client input gets nats-server's verdict", "[parser]") {
  struct Case {
    std::string input;
    ParseStatus status;
    std::vector<std::string> events_before;
  };
  const std::vector<Case> corpus = {
      {"XYZ\r\n", ParseStatus::unknown_operation, {}},
      {"\r\n", ParseStatus::unknown_operation, {}},
      {"PUBX foo 1\r\n", ParseStatus::unknown_operation, {}},
      {"PUB\r\n", ParseStatus::unknown_operation, {}},
      {"UNSUB\r\n", ParseStatus::unknown_operation, {}},
      {"PING\r\nMSG foo 1 1\r\n", ParseStatus::unknown_operation, {"PING"}},
      {"RS+ $G foo\r\n", ParseStatus::unknown_operation, {}},  // route verb on a client connection
      {"PUB foo\r\n", ParseStatus::bad_arguments, {}},
      {"PUB foo a b 1\r\n", ParseStatus::bad_arguments, {}},
      {"PUB foo -1\r\n", ParseStatus::bad_arguments, {}},
      {"PUB foo 1234567890\r\n", ParseStatus::bad_arguments, {}},
      {"SUB foo\r\n", ParseStatus::bad_arguments, {}},
      {"SUB foo 1 2 3\r\n", ParseStatus::bad_arguments, {}},
      {"UNSUB 1 2 3\r\n", ParseStatus::bad_arguments, {}},
      {"HPUB foo 10 5\r\n", ParseStatus::bad_arguments, {}},
      {"HPUB foo x 5\r\n", ParseStatus::bad_arguments, {}},
      {"PUB foo 2\r\nabc\r\n", ParseStatus::unknown_operation, {}},
      {"PUB foo 1\r\naXY", ParseStatus::unknown_operation, {}},
      {"PUB foo 1\r\na\rX", ParseStatus::unknown_operation, {}},
      {"PUB foo 2000000\r\n", ParseStatus::max_payload, {}},
  };
  for (const Case& c : corpus) {
    INFO("input: " << c.input);
    const Outcome o = check_all_splits(PeerKind::client, c.input);
    CHECK(o.status == c.status);
    CHECK(o.events == c.events_before);
  }
}

TEST_CASE("an unknown operation is refused before its line ends", "[parser]") {
  Parser p(PeerKind::client);
  Recorder r;
  CHECK(p.feed("P", r) == ParseStatus::ok);   // could still be PUB, PING, PONG
  CHECK(p.feed("X", r) == ParseStatus::unknown_operation);
  Parser q(PeerKind::client);
  CHECK(q.feed("XYZ", r) == ParseStatus::unknown_operation);
}

TEST_CASE("control line and payload limits", "[parser]") {
  SECTION("a long argument line is refused even without a newline") {
    Parser p(PeerKind::client, ParserLimits{.max_control_line = 64, .max_payload = 1024});
    Recorder r;
    const std::string arg(100, 'a');
    CHECK(p.feed("SUB " + arg, r) == ParseStatus::max_control_line);
  }
  SECTION("exactly the limit passes, one more fails") {
    const std::string subject(60, 'a');  // "SUB <60> 1" -> argument of 62 bytes
    {
      Parser p(PeerKind::client, ParserLimits{.max_control_line = 62, .max_payload = 1024});
      Recorder r;
      CHECK(p.feed("SUB " + subject + " 1\r\n", r) == ParseStatus::ok);
    }
    {
      Parser p(PeerKind::client, ParserLimits{.max_control_line = 61, .max_payload = 1024});
      Recorder r;
      CHECK(p.feed("SUB " + subject + " 1\r\n", r) == ParseStatus::max_control_line);
    }
  }
  SECTION("payload over max_payload is refused at the control line") {
    Parser p(PeerKind::client, ParserLimits{.max_control_line = 4096, .max_payload = 10});
    Recorder r;
    CHECK(p.feed("PUB foo 10\r\n0123456789\r\n", r) == ParseStatus::ok);
    CHECK(p.feed("PUB foo 11\r\n", r) == ParseStatus::max_payload);
  }
  SECTION("the rest of a PING/PONG/+OK line is skipped, however long, and not stored") {
    // nats-server ignores those bytes one by one: a megabyte after PING still gets a PONG.
    Parser p(PeerKind::client);
    Recorder r;
    CHECK(p.feed("PING", r) == ParseStatus::ok);
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 16; ++i) {
      REQUIRE(p.feed(chunk, r) == ParseStatus::ok);
      REQUIRE(p.buffered_line_bytes() <= 4);
    }
    CHECK(p.feed("\r\nPING\r\n", r) == ParseStatus::ok);
    CHECK(r.events == std::vector<std::string>{"PING", "PING"});
  }
  SECTION("blanks between a verb and its arguments do not count and are not stored") {
    Parser p(PeerKind::client, ParserLimits{.max_control_line = 64, .max_payload = 1024});
    Recorder r;
    CHECK(p.feed("PUB", r) == ParseStatus::ok);
    const std::string blanks(64 * 1024, ' ');
    for (int i = 0; i < 16; ++i) {
      REQUIRE(p.feed(blanks, r) == ParseStatus::ok);
      REQUIRE(p.buffered_line_bytes() <= 4);
    }
    CHECK(p.feed("foo 1\r\nx\r\n", r) == ParseStatus::ok);
    CHECK(r.events == std::vector<std::string>{"MSG foo [x]"});
  }
  SECTION("blanks after the arguments count, as in nats-server") {
    Parser p(PeerKind::client, ParserLimits{.max_control_line = 64, .max_payload = 1024});
    Recorder r;
    CHECK(p.feed("SUB foo 1" + std::string(100, ' '), r) == ParseStatus::max_control_line);
  }
  SECTION("a read that ends on the CR of a line at the limit is not over it") {
    const std::string line = "SUB " + std::string(60, 'a') + " 1\r";  // argument of 62 bytes
    {
      Parser p(PeerKind::client, ParserLimits{.max_control_line = 62, .max_payload = 1024});
      Recorder r;
      CHECK(p.feed(line, r) == ParseStatus::ok);
      CHECK(p.feed("\n", r) == ParseStatus::ok);
      CHECK(r.events == std::vector<std::string>{"SUB " + std::string(60, 'a') + " sid=1"});
    }
    {
      Parser p(PeerKind::client, ParserLimits{.max_control_line = 61, .max_payload = 1024});
      Recorder r;
      CHECK(p.feed(line, r) == ParseStatus::max_control_line);
    }
  }
  SECTION("an argument split across reads is held to the limit as a whole") {
    Parser p(PeerKind::client, ParserLimits{.max_control_line = 64, .max_payload = 1024});
    Recorder r;
    CHECK(p.feed("SUB " + std::string(40, 'a'), r) == ParseStatus::ok);
    CHECK(p.feed(std::string(24, 'a'), r) == ParseStatus::ok);  // 64: at the limit
    CHECK(p.feed("a", r) == ParseStatus::max_control_line);
  }
}

TEST_CASE("HPUB needs negotiated headers; CONNECT-first gate", "[parser]") {
  Parser p(PeerKind::client);
  Recorder r;
  CHECK(p.feed("HPUB foo 12 12\r\n", r) == ParseStatus::headers_not_supported);

  Parser gate(PeerKind::client);
  gate.set_connect_required(true);
  CHECK(gate.feed("PING\r\n", r) == ParseStatus::auth_violation);
  Parser gate2(PeerKind::client);
  gate2.set_connect_required(true);
  CHECK(gate2.feed("CONNECT {}\r\n", r) == ParseStatus::ok);
}

TEST_CASE("before CONNECT the handler decides once whether other operations may pass", "[parser]") {
  // A no_auth_user: the first operation that is not CONNECT asks the handler, once.
  class Admitting : public Recorder {
   public:
    int asked = 0;
    bool admit = true;
    bool on_op_before_connect() override {
      ++asked;
      return admit;
    }
  };
  const std::string input = "SUB a 1\r\nPING\r\nPUB a 1\r\nx\r\n";
  for (std::size_t split = 0; split < input.size(); ++split) {
    INFO("split at " << split);
    Parser p(PeerKind::client);
    p.set_connect_required(true);
    Admitting h;
    REQUIRE(p.feed(input.substr(0, split), h) == ParseStatus::ok);
    REQUIRE(p.feed(input.substr(split), h) == ParseStatus::ok);
    CHECK(h.asked == 1);
    CHECK(h.events == std::vector<std::string>{"SUB a sid=1", "PING", "MSG a [x]"});
  }
  Parser refused(PeerKind::client);
  refused.set_connect_required(true);
  Admitting no;
  no.admit = false;
  CHECK(refused.feed("PING\r\n", no) == ParseStatus::auth_violation);
  CHECK(no.events.empty());
  // A line already under way when the requirement is set is still checked.
  Parser midway(PeerKind::client);
  Admitting late;
  late.admit = false;
  CHECK(midway.feed("PI", late) == ParseStatus::ok);
  midway.set_connect_required(true);
  CHECK(midway.feed("NG\r\n", late) == ParseStatus::auth_violation);
  CHECK(late.events.empty());
  // CONNECT itself never asks.
  Parser connect(PeerKind::client);
  connect.set_connect_required(true);
  Admitting c;
  CHECK(connect.feed("CONNECT {}\r\n", c) == ParseStatus::ok);
  CHECK(c.asked == 0);
}

TEST_CASE("credential fields of CONNECT are redacted in traces", "[parser][trace]") {
  struct Case {
    std::string in, out;
  };
  const std::vector<Case> cases = {
      // nats-server's own format for pass: the value replaced, the quotes kept.
      {R"({"verbose":false,"user":"derek","pass":"s3cr3t!"})", R"({"verbose":false,"user":"derek","pass":"[REDACTED]"})"},
      {R"({"auth_token":"tok","name":"x"})", R"({"auth_token":"[REDACTED]","name":"x"})"},
      {R"({"jwt":"eyJ0eXAi.x.y","sig":"c2ln","nkey":"UABC"})", R"({"jwt":"[REDACTED]","sig":"[REDACTED]","nkey":"UABC"})"},
      {R"({ "pass" : "a\"b,c}" , "user":"u"})", R"({ "pass" : "[REDACTED]" , "user":"u"})"},
      // Go reads keys case-insensitively and through escapes: so does the redaction.
      {R"({"PASS":"x","Auth_Token":"y","p\u0061ss":"z"})", R"({"PASS":"[REDACTED]","Auth_Token":"[REDACTED]","p\u0061ss":"[REDACTED]"})"},
      {"{\"pa\xC5\xBF\xC5\xBF\":\"x\"}", "{\"pa\xC5\xBF\xC5\xBF\":\"[REDACTED]\"}"},
      {R"({"password":"x"})", R"({"password":"[REDACTED]"})"},
      // Values of other types, nested values, and broken JSON.
      {R"({"pass":12345,"user":"u"})", R"({"pass":[REDACTED],"user":"u"})"},
      {R"({"pass":{"a":"s","b":[1,"}"]},"user":"u"})", R"({"pass":[REDACTED],"user":"u"})"},
      {R"({"pass":"unterminated)", R"({"pass":"[REDACTED]")"},
      {R"({"pass":)", R"({"pass":)"},
      // A value that merely looks like a key name is left alone.
      {R"({"name":"pass","user":"pass"})", R"({"name":"pass","user":"pass"})"},
  };
  for (const Case& c : cases) {
    INFO("input: " << c.in);
    CHECK(redact_connect_secrets(c.in) == c.out);
  }
  CHECK(fold_json_key("Auth_TOKEN") == "auth_token");
  CHECK(fold_json_key("\xE2\x84\xAA" "ey") == "key");  // Kelvin sign
}

TEST_CASE("route verbs", "[parser]") {
  struct Case {
    std::string input;
    std::vector<std::string> events;
  };
  const std::vector<Case> corpus = {
      {"RS+ $G foo\r\n", {"RS+ $G foo"}},
      {"RS+ $G foo bar 3\r\n", {"RS+ $G foo bar w=3"}},
      {"RS- $G foo bar\r\n", {"RS- $G foo bar"}},
      {"LS+ origin $G foo\r\n", {"RS+ $G foo"}},
      {"RMSG $G foo 5\r\nhello\r\n", {"MSG acc=$G foo [hello]"}},
      {"RMSG $G foo reply 5\r\nhello\r\n", {"MSG acc=$G foo reply=reply [hello]"}},
      {"RMSG $G foo + reply q1 q2 5\r\nhello\r\n", {"MSG acc=$G foo reply=reply q=q1 q=q2 [hello]"}},
      {"RMSG $G foo | q1 5\r\nhello\r\n", {"MSG acc=$G foo q=q1 [hello]"}},
      {"HMSG $G foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", {"HMSG acc=$G foo hdr=12 [NATS/1.0\r\n\r\nhi]"}},
      {"HMSG $G foo + r q 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", {"HMSG acc=$G foo reply=r q=q hdr=12 [NATS/1.0\r\n\r\nhi]"}},
      {"LMSG origin $G foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", {"HMSG acc=$G foo hdr=12 [NATS/1.0\r\n\r\nhi]"}},
  };
  for (const Case& c : corpus) {
    INFO("input: " << c.input);
    const Outcome o = check_all_splits(PeerKind::route, c.input);
    CHECK(o.status == ParseStatus::ok);
    CHECK(o.events == c.events);
  }
  const Outcome bad = check_all_splits(PeerKind::route, "RMSG $G foo x q 5\r\nhello\r\n");
  CHECK(bad.status == ParseStatus::bad_arguments);
}

TEST_CASE("parse_size and split_args", "[parser]") {
  CHECK(parse_size("0") == 0);
  CHECK(parse_size("123456789") == 123456789);
  CHECK(parse_size("1234567890") == -1);
  CHECK(parse_size("") == -1);
  CHECK(parse_size("1a") == -1);
  std::string_view out[3];
  CHECK(split_args("  a \t b\r\n", out, 3) == 2);
  CHECK(out[0] == "a");
  CHECK(out[1] == "b");
  CHECK(split_args("a b c d", out, 3) == 4);
}

TEST_CASE("what a client reads from a server", "[parser]") {
  struct Case {
    std::string input;
    std::vector<std::string> events;
  };
  const std::vector<Case> corpus = {
      {"MSG foo 1 5\r\nhello\r\n", {"MSG foo sid=1 [hello]"}},
      {"MSG foo 1 _INBOX.x 2\r\nhi\r\n", {"MSG foo sid=1 reply=_INBOX.x [hi]"}},
      {"HMSG foo 9 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", {"HMSG foo sid=9 hdr=12 [NATS/1.0\r\n\r\nhi]"}},
      {"HMSG foo 9 r 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", {"HMSG foo sid=9 reply=r hdr=16 [NATS/1.0 503\r\n\r\n]"}},
      {"INFO {\"server_id\":\"x\"}\r\nPING\r\n+OK\r\n-ERR 'Stale Connection'\r\n",
       {"INFO {\"server_id\":\"x\"}", "PING", "OK", "ERR 'Stale Connection'"}},
  };
  for (const Case& c : corpus) {
    INFO("input: " << c.input);
    const Outcome o = check_all_splits(PeerKind::server, c.input);
    CHECK(o.status == ParseStatus::ok);
    CHECK(o.events == c.events);
  }
  // A server does not send client verbs.
  CHECK(check_all_splits(PeerKind::server, "PUB foo 1\r\nx\r\n").status == ParseStatus::unknown_operation);
}

TEST_CASE("a callback can pause parsing and the rest is fed later", "[parser]") {
  class Pauser : public Recorder {
   public:
    Parser* parser = nullptr;
    bool on_connect(std::string_view j) override {
      Recorder::on_connect(j);
      parser->pause();
      return true;
    }
  };
  const std::string input = "CONNECT {}\r\nSUB a 1\r\nPUB a 1\r\nx\r\n";
  for (std::size_t split = 1; split < input.size(); ++split) {
    Parser p(PeerKind::client);
    p.set_connect_required(true);
    Pauser h;
    h.parser = &p;
    std::string first = input.substr(0, split), rest;
    ParseStatus st = p.feed(first, h);
    if (st == ParseStatus::paused) {
      rest = first.substr(p.resume_offset()) + input.substr(split);
    } else {
      REQUIRE(st == ParseStatus::ok);
      st = p.feed(input.substr(split), h);
      REQUIRE(st == ParseStatus::paused);
      rest = input.substr(split).substr(p.resume_offset());
    }
    INFO("split at " << split);
    REQUIRE(h.events == std::vector<std::string>{"CONNECT {}"});
    p.set_connect_required(false);
    REQUIRE(p.feed(rest, h) == ParseStatus::ok);
    CHECK(h.events == std::vector<std::string>{"CONNECT {}", "SUB a sid=1", "MSG a [x]"});
  }
}

TEST_CASE("encoders produce what the parser reads back", "[parser][encoder]") {
  std::string wire;
  append_client_msg(wire, "orders.new", "7", "_INBOX.r", -1, "hello");
  append_client_msg(wire, "orders.new", "7", "", 12, "NATS/1.0\r\n\r\nhi");
  const Outcome client_side = check_all_splits(PeerKind::server, wire);
  CHECK(client_side.status == ParseStatus::ok);
  CHECK(client_side.events == std::vector<std::string>{"MSG orders.new sid=7 reply=_INBOX.r [hello]",
                                                       "HMSG orders.new sid=7 hdr=12 [NATS/1.0\r\n\r\nhi]"});

  std::string route;
  const std::vector<std::string_view> queues = {"q1", "q2"}, none;
  append_route_msg(route, "$G", "orders.new", "", none, -1, "hello");
  append_route_msg(route, "$G", "orders.new", "_R.x", queues, -1, "hello");
  append_route_msg(route, "$G", "orders.new", "", queues, 12, "NATS/1.0\r\n\r\nhi");
  append_route_sub(route, true, "$G", "orders.*", "workers", 3);
  append_route_sub(route, false, "$G", "orders.*", "workers", 0);
  append_route_sub(route, true, "$G", "orders.>", "", 0);
  const Outcome route_side = check_all_splits(PeerKind::route, route);
  CHECK(route_side.status == ParseStatus::ok);
  CHECK(route_side.events == std::vector<std::string>{
                                 "MSG acc=$G orders.new [hello]",
                                 "MSG acc=$G orders.new reply=_R.x q=q1 q=q2 [hello]",
                                 "HMSG acc=$G orders.new q=q1 q=q2 hdr=12 [NATS/1.0\r\n\r\nhi]",
                                 "RS+ $G orders.* workers w=3",
                                 "RS- $G orders.* workers",
                                 "RS+ $G orders.>",
                             });
}
