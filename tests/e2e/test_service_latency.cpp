// Service latency tracking of exports (suite `imports`): the report the exporting account
// receives on the latency subject for a measured request (200), for one without a reply (400),
// one nobody took (503), one whose requester left (408) and one past the response threshold
// (504); sampling by tracing headers; the config errors. Every case runs against forest-server
// and, with the same config file, nats-server 2.9.10 (unless FOREST_SKIP_ORACLE=1).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "raw_client.hpp"
#include "run_command.hpp"
#include "server_process.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

struct LatencyConf {
  std::string path;
  explicit LatencyConf(const std::string& text)
      : path((std::filesystem::temp_directory_path() / ("forest-lat-" + std::to_string(::getpid()) + ".conf")).string()) {
    std::ofstream(path, std::ios::trunc) << text;
  }
  ~LatencyConf() { std::filesystem::remove(path); }
};

const char* kLatency = R"(
accounts {
  A {
    users = [ {user: a1, password: p}, {user: a2, password: p} ]
    exports = [
      {service: "svc.all", latency: {sampling: 100%, subject: "lat.all"}}
      {service: "svc.hdr", latency: {sampling: headers, subject: "lat.hdr"}}
      {service: "svc.quick", latency: "lat.quick", response_threshold: "1s"}
      {service: "svc.plain"}
    ]
  }
  B {
    users = [ {user: b1, password: p} ]
    imports = [
      {service: {account: A, subject: "svc.all"}}
      {service: {account: A, subject: "svc.hdr"}}
      {service: {account: A, subject: "svc.quick"}}
      {service: {account: A, subject: "svc.plain"}}
    ]
  }
}
)";

std::unique_ptr<RawClient> login(const ServerProcess& s, const std::string& user) {
  auto c = std::make_unique<RawClient>("127.0.0.1", s.client_port());
  REQUIRE(c->read_line(3s).rfind("INFO ", 0) == 0);
  c->send("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"name\":\"" + user + "-conn\",\"lang\":\"raw\"," +
          "\"version\":\"1.2.3\",\"user\":\"" + user + "\",\"pass\":\"p\"}\r\nPING\r\n");
  REQUIRE(c->read_line(3s) == "PONG\r\n");
  return c;
}

struct Received {
  std::string line;  // "MSG subject sid [reply] size\r\n" (or HMSG), empty if none came
  std::string body;  // headers and payload
};

// The next MSG/HMSG within `timeout`, answering server PINGs. Messages from other clients
// and reports from the server's own publisher may follow a PONG of ours, so tests wait.
Received next(RawClient& c, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const std::string line = c.read_line(std::max(left, 1ms));
    if (line.empty()) return {};
    if (line == "PING\r\n") {
      c.send("PONG\r\n");
      continue;
    }
    if (line.rfind("MSG ", 0) != 0 && line.rfind("HMSG ", 0) != 0) continue;
    const std::size_t size = std::stoul(line.substr(line.rfind(' ') + 1));
    const std::string body = c.read_exactly(size + 2, 3s);
    return {line, body.substr(0, size)};
  }
  return {};
}

std::string next_message(RawClient& c, std::chrono::milliseconds timeout) { return next(c, timeout).body; }

// Everything up to the PONG of a PING sent now (the server's own PINGs answered, not kept).
std::string drain(RawClient& c) {
  c.send("PING\r\n");
  std::string out;
  for (;;) {
    const std::string line = c.read_line(3s);
    if (line.empty() || line == "PONG\r\n") return out;
    if (line == "PING\r\n") {
      c.send("PONG\r\n");
      continue;
    }
    out += line;
  }
}

void pub(RawClient& c, const std::string& subject, const std::string& reply, const std::string& payload,
         const std::string& headers = "") {
  const std::string r = reply.empty() ? "" : " " + reply;
  if (headers.empty()) {
    c.send("PUB " + subject + r + " " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n");
  } else {
    const std::string h = "NATS/1.0\r\n" + headers + "\r\n";
    c.send("HPUB " + subject + r + " " + std::to_string(h.size()) + " " + std::to_string(h.size() + payload.size()) +
           "\r\n" + h + payload + "\r\n");
  }
}

// The reply subject of a MSG/HMSG line.
std::string reply_of(const std::string& line) {
  std::vector<std::string> w;
  std::string cur;
  for (char ch : line.substr(0, line.find("\r\n")) + " ") {
    if (ch == ' ') {
      if (!cur.empty()) w.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (w.size() == 5 && w[0] == "MSG") return w[3];
  if (w.size() == 6 && w[0] == "HMSG") return w[3];
  return "";
}

bool has(const std::string& json, const std::string& part) { return json.find(part) != std::string::npos; }

// A JSON integer field's value (-1 if absent).
long long number(const std::string& json, const std::string& key) {
  const std::size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::stoll(json.substr(at + key.size() + 3));
}

struct Setup {
  std::unique_ptr<ServerProcess> server;
  std::unique_ptr<RawClient> responder, observer, requester;
};

Setup setup(const std::string& kind, const LatencyConf& conf) {
  Setup s;
  s.server = ServerProcess::start(kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(),
                                  {"-a", "127.0.0.1", "-p", "-1", "-c", conf.path});
  REQUIRE(s.server);
  s.responder = login(*s.server, "a1");
  s.observer = login(*s.server, "a2");
  s.requester = login(*s.server, "b1");
  s.responder->send("SUB svc.* 1\r\n");
  s.observer->send("SUB lat.* 9\r\n");
  s.requester->send("SUB _INBOX.b1.* 5\r\n");
  REQUIRE(drain(*s.responder).empty());
  REQUIRE(drain(*s.observer).empty());
  REQUIRE(drain(*s.requester).empty());
  return s;
}

// The request as the responder gets it: its reply subject.
std::string take_request(RawClient& responder) {
  const Received got = next(responder, 5s);
  INFO(got.line);
  const std::string reply = reply_of(got.line);
  REQUIRE(reply.rfind("_R_.", 0) == 0);
  return reply;
}

}  // namespace

TEST_CASE("service latency: a measured request reports requester, responder and times", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  LatencyConf conf(kLatency);
  Setup s = setup(kind, conf);

  pub(*s.requester, "svc.all", "_INBOX.b1.1", "q");
  const std::string reply = take_request(*s.responder);
  pub(*s.responder, reply, "", "answer");
  CHECK(next(*s.requester, 5s).line == "MSG _INBOX.b1.1 5 6\r\n");
  const std::string report = next_message(*s.observer, 5s);
  INFO(report);
  REQUIRE(!report.empty());
  CHECK(report.rfind(R"({"type":"io.nats.server.metric.v1.service_latency","id":")", 0) == 0);
  CHECK(has(report, R"("status":200,)"));
  CHECK(!has(report, "description"));
  // The requester: its account only (its account did not share more).
  CHECK(has(report, R"("requestor":{"acc":"B","rtt":)"));
  // The responder: everything nats-server knows of a client.
  CHECK(has(report, R"("responder":{"start":")"));
  CHECK(has(report, R"("host":"127.0.0.1","id":)"));
  CHECK(has(report, R"("acc":"A","user":"a1","name":"a1-conn","lang":"raw","ver":"1.2.3")"));
  CHECK(has(report, R"("ver":"1.2.3","rtt":)"));
  CHECK(has(report, R"("kind":"Client","client_type":"nats"})"));
  CHECK(has(report, R"(,"start":")"));
  const long long service = number(report, "service"), total = number(report, "total");
  CHECK(service >= 0);
  CHECK(number(report, "system") >= 0);
  CHECK(total >= service);
  CHECK(total < 5'000'000'000LL);  // nanoseconds: well under the test's own bound
  // One report per request.
  CHECK(next_message(*s.observer, 300ms).empty());

  // A service without latency tracking reports nothing.
  pub(*s.requester, "svc.plain", "_INBOX.b1.2", "q");
  pub(*s.responder, take_request(*s.responder), "", "ok");
  CHECK(next(*s.requester, 5s).body == "ok");
  CHECK(next_message(*s.observer, 300ms).empty());
}

TEST_CASE("service latency: a shared import reports the requester in full", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  std::string text = kLatency;
  const std::string plain = R"({service: {account: A, subject: "svc.all"}})";
  REQUIRE(text.find(plain) != std::string::npos);
  text.replace(text.find(plain), plain.size(), R"({service: {account: A, subject: "svc.all"}, share: true})");
  LatencyConf conf(text);
  Setup s = setup(kind, conf);

  pub(*s.requester, "svc.all", "_INBOX.b1.1", "q");
  // The request's Nats-Request-Info names the requester in full too.
  const Received request = next(*s.responder, 5s);
  INFO(request.body);
  CHECK(has(request.body, R"(Nats-Request-Info: {"start":")"));
  CHECK(has(request.body, R"("acc":"B","user":"b1","name":"b1-conn","lang":"raw","ver":"1.2.3")"));
  CHECK(has(request.body, R"("kind":"Client","client_type":"nats"})"));
  pub(*s.responder, reply_of(request.line), "", "answer");
  CHECK(next(*s.requester, 5s).line == "MSG _INBOX.b1.1 5 6\r\n");
  const std::string report = next_message(*s.observer, 5s);
  INFO(report);
  REQUIRE(!report.empty());
  CHECK(has(report, R"("requestor":{"start":")"));
  CHECK(has(report, R"("acc":"B","user":"b1","name":"b1-conn","lang":"raw","ver":"1.2.3","rtt":)"));
  CHECK(has(report, R"("kind":"Client","client_type":"nats"},"responder":{"start":")"));
}

TEST_CASE("service latency: sampling by the requests' tracing headers", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  LatencyConf conf(kLatency);
  Setup s = setup(kind, conf);
  // The report, if one comes: within 5 s when expected, none within 300 ms otherwise.
  auto ask = [&](const std::string& headers, bool expected) {
    pub(*s.requester, "svc.hdr", "_INBOX.b1.h", "q", headers);
    pub(*s.responder, take_request(*s.responder), "", "ok");
    CHECK(next(*s.requester, 5s).body == "ok");
    return next_message(*s.observer, expected ? 5000ms : 500ms);
  };
  CHECK(ask("", false).empty());
  CHECK(ask("X-B3-Sampled: 0\r\nX-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\n", false).empty());
  CHECK(ask("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\r\n", false).empty());
  CHECK(ask("b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0\r\n", false).empty());
  CHECK(ask("Uber-Trace-Id: 479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:2\r\n", false).empty());
  CHECK(ask("b3: 0\r\n", false).empty());
  // A header line without a colon: nats-server reads no headers at all, so nothing samples.
  CHECK(ask("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nno colon here\r\n", false).empty());

  std::string r = ask("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nOther: x\r\n", true);
  INFO(r);
  CHECK(has(r, R"("header":{"Traceparent":["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]})"));
  r = ask("Uber-Trace-Id: 479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:1\r\nuberctx-user: me\r\n", true);
  CHECK(has(r, R"("header":{"Uber-Trace-Id":["479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:1"],"Uberctx-User":["me"]})"));
  // nats-server decodes only the last flag character.
  CHECK(has(ask("Uber-Trace-Id: 1:2:3:03\r\n", true), R"("header":{"Uber-Trace-Id":["1:2:3:03"]})"));
  CHECK(has(ask("Uber-Trace-Id: 1:2:3:z1\r\n", true), R"("header":{"Uber-Trace-Id":["1:2:3:z1"]})"));
  // A repeated key is one array.
  r = ask("Uber-Trace-Id: 1:2:3:1\r\nUberctx-K: a\r\nUberctx-K: b\r\n", true);
  CHECK(has(r, R"("header":{"Uber-Trace-Id":["1:2:3:1"],"Uberctx-K":["a","b"]})"));
  r = ask("X-B3-Sampled: 1\r\n", true);
  CHECK(has(r, R"("header":{"X-B3-Sampled":["1"]})"));
  r = ask("b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n", true);
  CHECK(has(r, R"("header":{"B3":["80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"]})"));
  r = ask("X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\nX-B3-SpanId: e457b5a2e4d86bd1\r\n", true);
  CHECK(has(r, R"("header":{"X-B3-Spanid":["e457b5a2e4d86bd1"],"X-B3-Traceid":["80f198ee56343ba864fe8b2a57d3eff7"]})"));
  CHECK(has(r, R"("status":200,)"));
}

TEST_CASE("service latency: requests without an answer report 400, 503, 408 and 504", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  LatencyConf conf(kLatency);
  Setup s = setup(kind, conf);

  // No reply subject: nobody could answer.
  pub(*s.requester, "svc.all", "", "q");
  std::string r = next_message(*s.observer, 5s);
  INFO(r);
  CHECK(has(r, R"("status":400,"description":"Bad Request","requestor":{"acc":"B","rtt":)"));
  CHECK(!has(r, "responder"));
  CHECK(next_message(*s.observer, 500ms).empty());  // one report
  // The request itself still went to the service, with the requester's RTT once measured.
  const std::string request = next(*s.responder, 5s).body;
  INFO(request);
  CHECK(request.ends_with("\r\n\r\nq"));
  CHECK(std::regex_search(request, std::regex(R"(Nats-Request-Info: \{"acc":"B","rtt":[1-9][0-9]*\}\r\n)")));

  // The requester gives up (its inbox loses its subscriber) before the answer.
  s.requester->send("SUB _INBOX.lone 6\r\n");
  REQUIRE(drain(*s.requester).empty());
  pub(*s.requester, "svc.all", "_INBOX.lone", "q");
  (void)take_request(*s.responder);
  s.requester->send("UNSUB 6\r\n");
  REQUIRE(drain(*s.requester).empty());
  r = next_message(*s.observer, 5s);
  CHECK(has(r, R"("status":408,"description":"Request Timeout","requestor":{"acc":"B","rtt":)"));
  CHECK(!has(r, "responder"));
  CHECK(has(r, R"("service":0,)"));
  CHECK(next_message(*s.observer, 500ms).empty());

  // No answer within the export's response threshold (1 s).
  pub(*s.requester, "svc.quick", "_INBOX.b1.q", "q");
  (void)take_request(*s.responder);
  r = next_message(*s.observer, 6s);
  CHECK(has(r, R"("status":504,"description":"Service Timeout","requestor":{"acc":"B")"));
  CHECK(next_message(*s.observer, 500ms).empty());

  // Nobody in the exporting account takes the request.
  s.responder->send("UNSUB 1\r\n");
  REQUIRE(drain(*s.responder).empty());
  pub(*s.requester, "svc.all", "_INBOX.b1.u", "q");
  r = next_message(*s.observer, 5s);
  CHECK(has(r, R"("status":503,"description":"Service Unavailable","requestor":{"acc":"B")"));
  CHECK(next_message(*s.observer, 1500ms).empty());  // not a 504 later as well
}

TEST_CASE("service latency: configuration errors", "[imports]") {
  const std::string kind = GENERATE(from_range(server_kinds()));
  INFO("server: " << kind);
  const std::string binary = kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary();
  auto refused = [&](const std::string& exports, const std::string& expect) {
    LatencyConf conf("accounts { A { exports = [ " + exports + " ] } }\n");
    std::string out;
    INFO(exports);
    CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", conf.path, "-t"}, &out) != 0);
    INFO(out);
    CHECK(out.find(expect) != std::string::npos);
  };
  refused(R"({service: q, latency: {sampling: 0, subject: l}})", "bad sampling percentage, should be 1-100");
  refused(R"({service: q, latency: {sampling: "101%", subject: l}})", "bad sampling percentage, should be 1-100");
  refused(R"({service: q, latency: {sampling: "most", subject: l}})", "Failed to parse latency sample");
  refused(R"({service: q, latency: {sampling: 50}})", "Latency subject required, but missing");
  refused(R"({service: q, latency: {Subject: l}})", "Latency subject required, but missing");  // keys are exact
  refused(R"({service: q, latency: {sampling: "1x", subject: l}})", "Failed to parse latency sample");
  refused(R"({stream: s, latency: l})", "Detected latency directive on non-service");
  refused(R"({service: q, latency: "l.*"})", "Error adding service latency sampling for \"q\" on subject \"l.*\": invalid publish subject");
  refused(R"({service: q, latency: "q"})", "Error adding service latency sampling for \"q\" on subject \"q\": invalid publish subject");
  refused(R"({service: q, response_type: stream, latency: l})",
          "Error adding service latency sampling for \"q\" on subject \"l\": bad service response type");
  // `share` takes a boolean only (nats-server's error is Go's "interface conversion" text).
  {
    LatencyConf bad(R"(accounts { A { exports = [ {service: q} ] }
 B { imports = [ {service: {account: A, subject: q}, share: "yes"} ] } }
)");
    std::string out;
    CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", bad.path, "-t"}, &out) != 0);
    INFO(out);
    CHECK(out.find(kind == "forest" ? "share" : "is string, not bool") != std::string::npos);
  }
  // nats-server refuses this only when it happens to read no_system_account before accounts:
  // it walks the top-level keys in Go's random map order (about one run in four passes -t).
  // Ours reads the whole file first and always refuses it.
  if (kind == "forest") {
    LatencyConf no_sys(std::string("no_system_account: true\n") + kLatency);
    std::string out;
    CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", no_sys.path, "-t"}, &out) != 0);
    INFO(out);
    CHECK(out.find("Error adding service latency sampling for \"svc.all\": system account not setup") != std::string::npos);
  }
  // Accepted: the test's own file; a signed percentage and a key Go does not read.
  for (const std::string& text :
       {std::string(kLatency), std::string("accounts { A { exports = [ {service: q, latency: {sampling: \"+50%\", subject: l, other: 1}} ] } }\n")}) {
    LatencyConf fine(text);
    std::string out;
    INFO(text);
    CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", fine.path, "-t"}, &out) == 0);
    INFO(out);
  }
}
