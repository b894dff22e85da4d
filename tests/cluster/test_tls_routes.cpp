// TLS on routes (cluster { tls {} }): two nodes whose routes handshake TLS first (both sides
// verify the other's certificate against the CA), forest-server with forest-server and with
// nats-server 2.9.10 dialing either way; a peer whose certificate is from another CA is refused
// on both sides, logged, and redialed as usual. Certificates: support/test_certs.hpp.
#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster_catch.hpp"
#include "cluster_support.hpp"
#include "raw_client.hpp"
#include "run_command.hpp"
#include "test_certs.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

const TestCerts& certs() {
  const TestCerts& c = test_certs();
  if (!c.ok) FAIL("openssl could not make the test certificates: " << c.error);
  return c;
}

// A node's config: its cluster block with TLS routes (and the routes it dials).
std::string cluster_conf(const std::string& cert, const std::string& ca, const std::vector<std::string>& routes,
                         const std::string& timeout = "2") {
  const TestCerts& c = certs();
  std::string text = "cluster {\n  name: ctls\n  listen: \"127.0.0.1:-1\"\n";
  if (!routes.empty()) {
    text += "  routes: [";
    for (const std::string& r : routes) text += "\"" + r + "\" ";
    text += "]\n";
  }
  text += "  tls {\n    cert_file: \"" + c(cert + ".pem") + "\"\n    key_file: \"" + c(cert + ".key") + "\"\n    ca_file: \"" +
          c(ca + ".pem") + "\"\n    timeout: " + timeout + "\n  }\n}\n";
  return text;
}

struct TlsNode {
  std::unique_ptr<TempFile> conf;
  std::unique_ptr<Node> node;
};

// The server name is in the file, not a flag: nats-server 2.9.10 forgets `-n` on a reload
// and then refuses it ("config reload not supported for ServerName: old=a, new=").
std::string with_name(const std::string& name, const std::string& conf_text) {
  return "server_name: " + name + "\n" + conf_text;
}

TlsNode start_tls_node(Impl impl, const std::string& name, const std::string& conf_text) {
  TlsNode n;
  n.conf = std::make_unique<TempFile>("tls-route-" + name + ".conf", with_name(name, conf_text));
  n.node = start_node({.impl = impl, .name = "", .cluster_name = "", .extra = {"-D", "-c", n.conf->path()},
                       .cluster_flag = false});
  return n;
}

// Seed and dialer kinds.
using Pair = std::pair<Impl, Impl>;

std::string describe(const Pair& p) {
  return std::string(impl_name(p.second)) + " dials " + impl_name(p.first);
}

}  // namespace

TEST_CASE("TLS routes: the handshake comes first, then messages flow both ways", "[cluster][tls][mixed]") {
  const Pair p = GENERATE(from_range(oracle_filtered(std::vector<Pair>{
      {Impl::forest, Impl::forest}, {Impl::nats, Impl::forest}, {Impl::forest, Impl::nats}, {Impl::nats, Impl::nats}})));
  INFO(describe(p));
  TlsNode a = start_tls_node(p.first, "a", cluster_conf("server", "ca", {}));
  TlsNode b = start_tls_node(p.second, "b", cluster_conf("server", "ca", {a.node->route_url()}));
  require_mesh({a.node.get(), b.node.get()});
  for (TlsNode* n : {&a, &b}) {
    if (n->node->impl() == Impl::forest) CHECK(n->node->log().find("TLS route handshake error") == std::string::npos);
  }

  for (int dir = 0; dir < 2; ++dir) {
    Node& to = dir == 0 ? *a.node : *b.node;
    Node& from = dir == 0 ? *b.node : *a.node;
    INFO((dir == 0 ? "from b to a" : "from a to b"));
    Client sub(to);
    REQUIRE(sub.ok());
    sub.sub("tls.>", "1");
    REQUIRE(sub.flush());
    REQUIRE(wait_remote_sub(from, to, "tls.>"));
    Client pub(from);
    REQUIRE(pub.ok());
    const std::string big(100 * 1024, 'r');
    pub.pub("tls.small", "hello over a tls route");
    pub.pub("tls.big", big);
    REQUIRE(pub.flush());
    auto m = sub.next();
    REQUIRE(m);
    CHECK(m->subject == "tls.small");
    CHECK(m->payload == "hello over a tls route");
    m = sub.next();
    REQUIRE(m);
    CHECK(m->payload == big);
  }

  // A plain TCP peer on the route port gets no INFO: the server waits for a ClientHello, and
  // logs the failed handshake when the peer goes.
  RawClient raw("127.0.0.1", a.node->route_port());
  REQUIRE(raw.connected());
  CHECK(raw.read_line(300ms).empty());
}

TEST_CASE("TLS routes: a peer with a certificate from another CA is refused and redialed", "[cluster][tls][mixed]") {
  const Pair p = GENERATE(from_range(oracle_filtered(std::vector<Pair>{
      {Impl::forest, Impl::forest}, {Impl::nats, Impl::forest}, {Impl::forest, Impl::nats}, {Impl::nats, Impl::nats}})));
  INFO(describe(p));
  TlsNode a = start_tls_node(p.first, "a", cluster_conf("server", "ca", {}));
  // b trusts a's CA, but its own certificate is from ca2, which a does not trust.
  TlsNode b = start_tls_node(p.second, "b", cluster_conf("server2", "ca", {a.node->route_url()}));
  // Refused at least twice: the dialer goes on trying, with its usual backoff.
  const bool refused_twice = eventually([&] { return count_in(a.node->log(), "TLS route handshake error") >= 2; }, 15s);
  INFO("a's log:\n" << a.node->log());
  INFO("b's log:\n" << b.node->log());
  CHECK(refused_twice);
  CHECK(routez(*a.node).routes.empty());
  CHECK(routez(*b.node).routes.empty());
  if (a.node->impl() == Impl::forest) {
    // OpenSSL's reason, and why the certificate was not accepted. Go (nats-server dialing)
    // sends no certificate at all when its issuer is not among the CAs the server names.
    const std::string log = a.node->log();
    CHECK((log.find("certificate verify failed") != std::string::npos ||
           log.find("peer did not return a certificate") != std::string::npos));
  }
  if (b.node->impl() == Impl::forest) {
    CHECK(b.node->log().find("Error trying to connect to route") != std::string::npos);
  }
}

TEST_CASE("TLS routes: a dialed peer whose certificate does not name its address is refused", "[cluster][tls]") {
  // The "nosan" certificate names no address: a, the accepting side, trusts it (same CA), but
  // b checks that a's certificate is valid for 127.0.0.1, the address it dialed, and refuses.
  const Impl impl = default_impl();
  TlsNode a = start_tls_node(impl, "a", cluster_conf("nosan", "ca", {}));
  TlsNode b = start_tls_node(impl, "b", cluster_conf("server", "ca", {a.node->route_url()}));
  const bool refused = eventually([&] { return count_in(b.node->log(), "TLS route handshake error") >= 1; }, 10s);
  INFO("b's log:\n" << b.node->log());
  CHECK(refused);
  CHECK(routez(*b.node).routes.empty());
  if (impl == Impl::forest) CHECK(b.node->log().find("IP address mismatch") != std::string::npos);

  // With `insecure: true` the dialing side does not check it: the route forms.
  TlsNode c = start_tls_node(impl, "c", cluster_conf("server", "ca", {a.node->route_url()}, "2\n    insecure: true"));
  CHECK(eventually([&] { return routez(*a.node).to(c.node->server_id()) != nullptr; }, 10s));
}

TEST_CASE("TLS routes: a bad certificate file is a startup error", "[cluster][tls]") {
  const Impl impl = default_impl();
  TempFile conf("tls-route-bad.conf", cluster_conf("garbage", "ca", {}));
  std::string out;
  const std::string binary = impl == Impl::forest ? ServerProcess::forest_binary() : ServerProcess::nats_binary();
  CHECK(run_command({binary, "-a", "127.0.0.1", "-p", "-1", "-c", conf.path()}, &out) != 0);
  INFO(out);
  CHECK(out.find("cert") != std::string::npos);
}

TEST_CASE("TLS routes: a peer that stalls in the handshake is closed after the timeout", "[cluster][tls]") {
  // forest-server only: nats-server 2.9.10 logs its read deadline with other words.
  TlsNode a = start_tls_node(Impl::forest, "a", cluster_conf("server", "ca", {}, "0.5"));
  std::vector<std::unique_ptr<RawClient>> stalled;
  for (int i = 0; i < 3; ++i) {
    stalled.push_back(std::make_unique<RawClient>("127.0.0.1", a.node->route_port()));
    REQUIRE(stalled.back()->connected());
  }
  // Meanwhile a real peer connects: the stalled ones hold no thread it needs.
  TlsNode b = start_tls_node(Impl::forest, "b", cluster_conf("server", "ca", {a.node->route_url()}));
  require_mesh({a.node.get(), b.node.get()});
  for (auto& raw : stalled) {
    CHECK(raw->read_until_closed(5s).empty());
    CHECK(raw->peer_closed());
  }
  // The log is read by the harness's own thread: the line may trail the close a little.
  CHECK(eventually([&] { return a.node->log().find("TLS handshake timeout") != std::string::npos; }, 10s));
}

TEST_CASE("TLS routes: pinned_certs refuses a trusted peer whose key is not pinned", "[cluster][tls][mixed]") {
  const Impl accepting = GENERATE(from_range(oracle_filtered(std::vector<Impl>{Impl::forest, Impl::nats})));
  INFO("accepting side: " << impl_name(accepting));
  auto spki = [](const std::string& name) {
    std::ifstream in(certs()(name + ".spki"));
    std::string hex;
    in >> hex;
    return hex;
  };
  // a pins only the client certificate's key; b's "server" certificate is from the same CA.
  TlsNode a = start_tls_node(accepting, "a", cluster_conf("server", "ca", {}, "2\n    pinned_certs: [\"" + spki("client") + "\"]"));
  TlsNode b = start_tls_node(Impl::forest, "b", cluster_conf("server", "ca", {a.node->route_url()}));
  const bool refused = eventually([&] { return count_in(a.node->log(), "certificate not pinned") >= 1; }, 10s);
  INFO("a's log:\n" << a.node->log());
  CHECK(refused);
  CHECK(routez(*a.node).routes.empty());

  // Pinning b's key lets it in.
  TlsNode c = start_tls_node(accepting, "c", cluster_conf("server", "ca", {}, "2\n    pinned_certs: [\"" + spki("server") + "\"]"));
  TlsNode d = start_tls_node(Impl::forest, "d", cluster_conf("server", "ca", {c.node->route_url()}));
  require_mesh({c.node.get(), d.node.get()});
}

TEST_CASE("TLS routes reload: new routes use the re-read certificates, the open one stays", "[cluster][tls][reload]") {
  const Impl impl = default_impl();
  TlsNode a = start_tls_node(impl, "a", cluster_conf("server", "ca", {}));
  TlsNode b = start_tls_node(impl, "b", cluster_conf("server", "ca", {a.node->route_url()}));
  require_mesh({a.node.get(), b.node.get()});

  // a now presents server2 and trusts ca2 only.
  std::ofstream(a.conf->path(), std::ios::trunc) << with_name("a", cluster_conf("server2", "ca2", {}));
  const std::size_t from = a.node->log().size();
  a.node->process().send_signal(SIGHUP);
  const bool reloaded = eventually([&] { return a.node->log().find("Reloaded server configuration", from) != std::string::npos; }, 5s);
  INFO("a's log after the reload:\n" << a.node->log().substr(from));
  REQUIRE(reloaded);

  // A peer of ca2 gets in; one of the old CA does not; b's route stays.
  TlsNode c = start_tls_node(impl, "c", cluster_conf("server2", "ca2", {a.node->route_url()}));
  CHECK(eventually([&] { return routez(*a.node).to(c.node->server_id()) != nullptr; }, 10s));
  TlsNode d = start_tls_node(impl, "d", cluster_conf("server", "ca", {a.node->route_url()}));
  const bool refused = eventually([&] {
    return a.node->log().find("TLS route handshake error", from) != std::string::npos;
  }, 10s);
  INFO("a's log:\n" << a.node->log());
  CHECK(refused);
  CHECK(routez(*a.node).to(d.node->server_id()) == nullptr);
  CHECK(routez(*a.node).to(b.node->server_id()) != nullptr);
}
