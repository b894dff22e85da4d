// A real client (libnats) given only node A's URL learns the cluster from INFO connect_urls,
// and when A is killed it fails over to another node and keeps receiving on its subscription.
// Run on a forest-server cluster and, as the oracle, on a nats-server one.
#include <catch2/catch.hpp>

#include <nats/nats.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster_catch.hpp"
#include "cluster_support.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

struct NatsLib {
  NatsLib() { nats_Open(-1); }
};
NatsLib nats_lib;

std::set<std::string> discovered_servers(natsConnection* nc) {
  char** servers = nullptr;
  int count = 0;
  std::set<std::string> out;
  if (natsConnection_GetDiscoveredServers(nc, &servers, &count) != NATS_OK) return out;
  for (int i = 0; i < count; ++i) {
    out.insert(servers[i]);
    free(servers[i]);
  }
  free(servers);
  return out;
}

std::string connected_url(natsConnection* nc) {
  char buf[256] = {};
  if (natsConnection_GetConnectedUrl(nc, buf, sizeof buf) != NATS_OK) return "";
  return buf;
}

void on_reconnected(natsConnection*, void* closure) { static_cast<std::atomic<int>*>(closure)->fetch_add(1); }

}  // namespace

TEST_CASE("libnats fails over to a node it learned from connect_urls", "[cluster][failover]") {
  const Impl impl = GENERATE(from_range(oracle_filtered(std::vector<Impl>{Impl::forest, Impl::nats})));
  INFO("servers: " << impl_name(impl));
  auto a = start_node({.impl = impl, .name = "A"});
  auto b = start_node({.impl = impl, .name = "B", .routes = {a->route_url()}});
  auto c = start_node({.impl = impl, .name = "C", .routes = {a->route_url()}});
  require_mesh({a.get(), b.get(), c.get()});

  natsOptions* opts = nullptr;
  REQUIRE(natsOptions_Create(&opts) == NATS_OK);
  natsOptions_SetSendAsap(opts, true);
  natsOptions_SetURL(opts, a->client_url().c_str());  // A only: the rest comes from INFO
  natsOptions_SetReconnectWait(opts, 100);
  natsOptions_SetReconnectJitter(opts, 0, 0);
  natsOptions_SetMaxReconnect(opts, 50);  // 50 x 100 ms bounds the failover
  std::atomic<int> reconnects{0};
  natsOptions_SetReconnectedCB(opts, on_reconnected, &reconnects);
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_Connect(&nc, opts) == NATS_OK);

  // connect_urls: A's INFO (at connect, or an async update) names B and C.
  const std::string b_url = "nats://127.0.0.1:" + std::to_string(b->client_port());
  const std::string c_url = "nats://127.0.0.1:" + std::to_string(c->client_port());
  CHECK(eventually([&] {
    const auto s = discovered_servers(nc);
    return s.count(b_url) == 1 && s.count(c_url) == 1;
  }, 10s));

  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&sub, nc, "fo.x") == NATS_OK);
  REQUIRE(natsConnection_Flush(nc) == NATS_OK);
  REQUIRE(wait_remote_sub(*b, *a, "fo.x"));
  {
    Client pub(*b);
    pub.pub("fo.x", "before");
    REQUIRE(pub.flush());
    natsMsg* m = nullptr;
    REQUIRE(natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK);
    CHECK(std::string(natsMsg_GetData(m), natsMsg_GetDataLength(m)) == "before");
    natsMsg_Destroy(m);
  }

  a->kill();
  REQUIRE(eventually([&] { return reconnects.load() >= 1 && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED; }, 15s));
  const std::string now_on = connected_url(nc);
  INFO("reconnected to " << now_on);
  CHECK((now_on == b_url || now_on == c_url));
  // Publish from the node the client is not on, so each message crosses a route; the client
  // resubscribed on reconnect, and its interest reaches the publisher's node in a moment.
  Node& publisher = now_on == b_url ? *c : *b;
  Client pub(publisher);
  REQUIRE(pub.ok());
  bool got_one = false;
  for (int attempt = 0; attempt < 100 && !got_one; ++attempt) {
    pub.pub("fo.x", "probe");
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub, 100) == NATS_OK) {
      got_one = true;
      natsMsg_Destroy(m);
    }
  }
  REQUIRE(got_one);
  // Then a burst arrives whole and in order (late probes, still on the route, are skipped).
  for (int i = 0; i < 100; ++i) pub.pub("fo.x", std::to_string(i));
  REQUIRE(pub.flush());
  for (int i = 0; i < 100;) {
    natsMsg* m = nullptr;
    REQUIRE(natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK);
    const std::string data(natsMsg_GetData(m), natsMsg_GetDataLength(m));
    natsMsg_Destroy(m);
    if (data == "probe") continue;
    CHECK(data == std::to_string(i));
    ++i;
  }

  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
}
