// Hostile and unlucky clients: subscription churn, subjects nobody listens to, auto-unsubscribe
// racing publishers, slow receivers and fast producers. Every case runs against forest-server
// and nats-server 2.9.10; the checks are functional (what arrives, what is left in the
// index), never timings: the costs are measured by `forest-bench hostile`.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "http_get.hpp"
#include "raw_client.hpp"
#include "server_process.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<ServerProcess> start(const std::string& which, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"-a", "127.0.0.1", "-p", "-1", "-m", "-1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::start(which == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(), args);
}

std::string temp_conf(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("forest-hard-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

int64_t varz_field(int http_port, const std::string& path, const char* field) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  if (p.parse(http_get(http_port, path)).get(e) != simdjson::SUCCESS) return -1;
  int64_t v = -1;
  if (e[field].get(v) != simdjson::SUCCESS) {
    uint64_t u = 0;
    if (e[field].get(u) != simdjson::SUCCESS) return -1;
    v = static_cast<int64_t>(u);
  }
  return v;
}

// Polls until `pred` holds or `timeout` passes; returns whether it held.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

void handshake(RawClient& c, const std::string& connect = "CONNECT {\"verbose\":false}\r\n") {
  REQUIRE(c.read_line(3s).rfind("INFO ", 0) == 0);
  c.send(connect + "PING\r\n");
  REQUIRE(c.read_exactly(6, 3s) == "PONG\r\n");
}

// A subscriber socket with a small receive buffer, read at a chosen pace, counting the MSG
// lines it sees (it only needs to count: every message here has the same shape).
class PacedReader {
 public:
  PacedReader(int port, int rcvbuf) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~PacedReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }
  // Reads up to `n` bytes waiting at most `wait`; false when the peer closed.
  bool read_some(std::size_t n, std::chrono::milliseconds wait) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(wait.count())) <= 0) return true;
    std::string buf(n, '\0');
    const ssize_t got = ::recv(fd_, buf.data(), n, 0);
    if (got <= 0) {
      closed_ = true;
      return false;
    }
    data_.append(buf.data(), static_cast<std::size_t>(got));
    return true;
  }
  [[nodiscard]] bool closed() const { return closed_; }
  [[nodiscard]] const std::string& data() const { return data_; }
  [[nodiscard]] std::size_t count(std::string_view needle) const {
    std::size_t n = 0;
    for (auto pos = data_.find(needle); pos != std::string::npos; pos = data_.find(needle, pos + needle.size())) ++n;
    return n;
  }

 private:
  int fd_ = -1;
  bool closed_ = false;
  std::string data_;
};

}  // namespace

TEST_CASE("a connection's 200,000 subscriptions leave the index when it goes", "[hardening]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  // nats-server counts its own system subscriptions too.
  const int64_t baseline = varz_field(server->http_port(), "/subsz", "num_subscriptions");
  RawClient bystander("127.0.0.1", server->client_port());
  handshake(bystander);
  for (int round = 0; round < 2; ++round) {
    {
      RawClient churn("127.0.0.1", server->client_port());
      handshake(churn);
      std::string subs;
      for (int i = 0; i < 200000; ++i) subs += "SUB churn.x " + std::to_string(i) + "\r\n";
      churn.send(subs + "PING\r\n");
      REQUIRE(churn.read_exactly_answering_pings(6, 30s) == "PONG\r\n");
      CHECK(varz_field(server->http_port(), "/subsz", "num_subscriptions") == baseline + 200000);
    }
    CHECK(eventually([&] { return varz_field(server->http_port(), "/subsz", "num_subscriptions") == baseline; }, 10s));
    bystander.send("PING\r\n");
    CHECK(bystander.read_exactly_answering_pings(6, 5s) == "PONG\r\n");
  }
}

TEST_CASE("subjects nobody subscribes to do not grow the match caches", "[hardening]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  RawClient pub("127.0.0.1", server->client_port());
  handshake(pub, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
  const std::string pad(190, 'p');
  std::string batch;
  for (int i = 0; i < 100000; ++i) {
    batch += "PUB " + pad + "." + std::to_string(i) + " 2\r\nhi\r\n";
    if (batch.size() > 256 * 1024) {
      pub.send(batch);
      batch.clear();
    }
  }
  pub.send(batch + "PING\r\n");
  REQUIRE(pub.read_exactly_answering_pings(6, 30s) == "PONG\r\n");
  // nats-server keeps about 1,024 entries; ours at most 4,096 per I/O thread without
  // subscriptions. Either way a small fraction of the 100,000 subjects.
  CHECK(eventually(
      [&] {
        const int64_t cached = varz_field(server->http_port(), "/subsz", "num_cache");
        return cached >= 0 && cached <= 10000;
      },
      5s));
}

TEST_CASE("UNSUB with a maximum while publishers on other connections flood", "[hardening][concurrency]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  // Ours with two I/O threads, so the publishers and the subscriber really are on different ones.
  auto server = which == "forest" ? start(which, {"--io_threads", "2"}) : start(which);
  std::atomic<bool> stop{false};
  std::vector<std::thread> publishers;
  // Joined also when a REQUIRE throws: a joinable std::thread destroyed aborts the whole run.
  struct JoinOnExit {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~JoinOnExit() {
      stop.store(true);
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  } join_on_exit{stop, publishers};
  for (int p = 0; p < 2; ++p) {
    publishers.emplace_back([&, port = server->client_port()] {
      RawClient pub("127.0.0.1", port);
      pub.read_line(3s);
      pub.send("CONNECT {\"verbose\":false}\r\n");
      std::string batch;
      for (int i = 0; i < 64; ++i) batch += "PUB race 2\r\nhi\r\n";
      while (!stop.load()) {
        if (!pub.send(batch)) return;
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  const int64_t baseline = varz_field(server->http_port(), "/subsz", "num_subscriptions");
  RawClient sub("127.0.0.1", server->client_port());
  handshake(sub);
  // The next line that is not a server PING (answered). A std::function: inlined, GCC 12 sees
  // a false -Wrestrict in the string it returns.
  const std::function<std::string()> next_line = [&sub] {
    for (;;) {
      std::string line = sub.read_line(5s);
      if (line != "PING\r\n") return line;
      sub.send("PONG\r\n");
    }
  };
  for (int round = 1; round <= 20; ++round) {
    const std::string sid = std::to_string(round);
    sub.send("SUB race " + sid + "\r\n");
    // Wait for some messages, then set a maximum close to what was delivered so far.
    // A message of an earlier round's sid may still arrive first, even after a quiet PING round
    // (a slow build stretches the publisher's read batch): skipped, as clients drop them.
    const auto read_msg_of_this_round = [&] {
      for (;;) {
        const std::string line = next_line();
        REQUIRE(line.rfind("MSG race ", 0) == 0);
        REQUIRE(sub.read_exactly(4, 5s) == "hi\r\n");
        if (line == "MSG race " + sid + " 2\r\n") return;
        const int earlier = std::stoi(line.substr(9));
        REQUIRE(earlier < round);
      }
    };
    std::size_t seen = 0;
    for (; seen < 20; ++seen) read_msg_of_this_round();
    const std::size_t max = seen + static_cast<std::size_t>(round % 3);
    sub.send("UNSUB " + sid + " " + std::to_string(max) + "\r\nPING\r\n");
    // Read until our PONG, then until the subscription is certainly gone. An earlier round's
    // sid may still turn up here too: a publisher's batch that routed to it before its removal
    // hands its output over only at the batch's end, which under a slow build (TSan) can come
    // after a quiet PING round and a whole round of this sid's messages. Skipped, as above.
    for (;;) {
      const std::string line = next_line();
      REQUIRE(!line.empty());
      if (line == "PONG\r\n") break;
      REQUIRE(line.rfind("MSG race ", 0) == 0);
      REQUIRE(sub.read_exactly(4, 5s) == "hi\r\n");
      if (line == "MSG race " + sid + " 2\r\n") {
        ++seen;
        continue;
      }
      REQUIRE(std::stoi(line.substr(9)) < round);
    }
    CHECK(seen >= max);
    CHECK(eventually([&] { return varz_field(server->http_port(), "/subsz", "num_subscriptions") == baseline; }, 5s));
    // Nothing more for this sid once it is gone. A message routed before the removal may still
    // be on its way: a publisher on another I/O thread hands its staged output over at the end
    // of its read batch, which can come after our PONG (clients drop messages of a sid they no
    // longer have). So: PING rounds until one brings none.
    bool quiet = false;
    for (int ping = 0; ping < 10 && !quiet; ++ping) {
      sub.send("PING\r\n");
      std::string tail = next_line();
      quiet = true;
      while (tail != "PONG\r\n" && !tail.empty()) {
        REQUIRE(tail.rfind("MSG race ", 0) == 0);
        (void)sub.read_exactly(4, 5s);
        CHECK(std::stoi(tail.substr(9)) <= round);  // this sid's or an earlier one's, routed before removal
        quiet = false;
        tail = next_line();
      }
      REQUIRE(tail == "PONG\r\n");
    }
    CHECK(quiet);
  }
}

TEST_CASE("a sid freed by auto-unsubscribe can be used again at once", "[hardening]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which);
  RawClient c("127.0.0.1", server->client_port());
  handshake(c);
  c.send("SUB foo 1\r\nUNSUB 1 1\r\nPUB foo 1\r\na\r\nSUB foo 1\r\nPUB foo 1\r\nb\r\nPING\r\n");
  const std::string expected = "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n";
  CHECK(c.read_exactly(expected.size(), 5s) == expected);
}

TEST_CASE("a receiver cut off as a slow consumer takes no more requests", "[hardening]") {
  const std::string conf = temp_conf("slowreq.conf", "max_pending: 64KB\nmax_payload: 64KB\n");
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-c", conf});
  // The only responder never reads, with a tiny receive buffer.
  PacedReader responder(server->client_port(), 4096);
  REQUIRE(responder.send("CONNECT {\"verbose\":false}\r\nSUB svc 1\r\nPING\r\n"));
  REQUIRE(eventually([&] { return responder.read_some(4096, 100ms) && responder.count("PONG") == 1; }, 5s));
  RawClient requester("127.0.0.1", server->client_port());
  handshake(requester, "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n");
  requester.send("SUB _INBOX.r 9\r\nPING\r\n");
  REQUIRE(requester.read_exactly(6, 3s) == "PONG\r\n");
  // Far more than the socket buffers and max_pending hold, then a request.
  const std::string payload(60 * 1000, 'x');
  std::string flood;
  for (int i = 0; i < 150; ++i) flood += "PUB svc 60000\r\n" + payload + "\r\n";
  requester.send(flood + "HPUB svc _INBOX.r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n");
  const std::string no_responders = "HMSG _INBOX.r 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n";
  CHECK(requester.read_exactly_answering_pings(no_responders.size(), 10s) == no_responders);
  CHECK(requester.read_exactly_answering_pings(6, 5s) == "PONG\r\n");
  std::filesystem::remove(conf);
}

TEST_CASE("a fast producer is held back instead of its receiver being cut off", "[hardening]") {
  // max_pending 2 MB; the subscriber drains about 25 MB/s with a small receive buffer; the
  // producer offers 24 MB as fast as loopback takes it. Without the stall the receiver's
  // pending bytes pass max_pending within milliseconds; with it (nats-server's behaviour) the
  // producer waits whenever the receiver is past half of it, and everything arrives.
  const std::string conf = temp_conf("stall.conf", "max_pending: 2MB\n");
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  auto server = start(which, {"-c", conf});
  PacedReader sub(server->client_port(), 64 * 1024);
  REQUIRE(sub.send("CONNECT {\"verbose\":false}\r\nSUB burst 1\r\nPING\r\n"));
  REQUIRE(eventually([&] { return sub.read_some(4096, 100ms) && sub.count("PONG") == 1; }, 5s));
  constexpr int kMessages = 24 * 1024;
  std::thread producer([port = server->client_port()] {
    RawClient pub("127.0.0.1", port);
    pub.read_line(3s);
    pub.send("CONNECT {\"verbose\":false}\r\n");
    const std::string msg = "PUB burst 1024\r\n" + std::string(1024, 'b') + "\r\n";
    std::string batch;
    for (int i = 0; i < 256; ++i) batch += msg;
    for (int i = 0; i < kMessages / 256; ++i) pub.send(batch);
    pub.send("PING\r\n");
    (void)pub.read_exactly_answering_pings(6, 60s);
  });
  const std::string msg_line = "MSG burst 1 1024\r\n";
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (sub.count(msg_line) < kMessages && !sub.closed() && std::chrono::steady_clock::now() < deadline) {
    sub.read_some(256 * 1024, 10ms);
    std::this_thread::sleep_for(10ms);
  }
  producer.join();
  CHECK_FALSE(sub.closed());
  CHECK(sub.count(msg_line) == kMessages);
  CHECK(varz_field(server->http_port(), "/varz", "slow_consumers") == 0);
  std::filesystem::remove(conf);
}

TEST_CASE("malformed JSON tokens in CONNECT and in JetStream requests never end the server", "[hardening]") {
  const std::string which = GENERATE(from_range(server_kinds()));
  INFO("server: " << which);
  const auto store = std::filesystem::temp_directory_path() / ("forest-hard-js-" + std::to_string(::getpid()));
  std::filesystem::remove_all(store);
  auto server = start(which, {"-js", "-sd", store.string()});
  REQUIRE(server);
  // Tokens that start like null/true/false but are not (a NUL inside, cut short): simdjson
  // reports an error for them, which must be a refusal, not an exception.
  const std::vector<std::string> bodies = {std::string("{\"auth_token\":nu\0\0ll}", 22), "{\"verbose\":tru}",
                                           "{\"protocol\":nul,\"user\":\"x\"}", "{\"echo\":f"};
  for (const std::string& body : bodies) {
    RawClient c("127.0.0.1", server->client_port());
    REQUIRE(c.read_line(3s).rfind("INFO ", 0) == 0);
    c.send("CONNECT " + body + "\r\nPING\r\n");
    // Refused one way or another (nats-server: -ERR and close); never a PONG.
    std::string got;
    for (std::string line = c.read_line(2s); !line.empty(); line = c.read_line(2s)) got += line;
    CHECK(got.find("PONG") == std::string::npos);
  }
  // JetStream API requests with the same kind of tokens get an error reply.
  RawClient api("127.0.0.1", server->client_port());
  handshake(api);
  api.send("SUB _INBOX.bad 1\r\n");
  const std::vector<std::string> requests = {"{\"name\":\"S\",\"subjects\":nu\x01l}", "{\"name\":\"S\",\"no_ack\":tr}",
                                             "{\"name\":\"S\",\"max_msgs\":nul}"};
  for (const std::string& body : requests) {
    api.send("PUB $JS.API.STREAM.CREATE.S _INBOX.bad " + std::to_string(body.size()) + "\r\n" + body + "\r\n");
    const std::string line = api.read_line(5s);
    REQUIRE(line.rfind("MSG _INBOX.bad 1 ", 0) == 0);
    const std::size_t size = std::stoul(line.substr(std::string("MSG _INBOX.bad 1 ").size()));
    const std::string reply = api.read_exactly(size + 2, 5s);
    INFO(body << " -> " << reply);
    CHECK(reply.find("\"error\"") != std::string::npos);
  }
  // Still serving.
  RawClient after("127.0.0.1", server->client_port());
  handshake(after);
  after.send("PING\r\n");
  CHECK(after.read_line(3s) == "PONG\r\n");
  server.reset();
  std::filesystem::remove_all(store);
}
