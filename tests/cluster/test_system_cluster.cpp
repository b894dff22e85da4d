// The system account across a route: $SYS.REQ.SERVER.PING asked on one node is answered by
// both (the service's subscriptions are ordinary interest of the system account, so routes
// carry them), in the pairings forest-forest and forest-nats (nats-server answers as well).
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster_catch.hpp"
#include "cluster_support.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

const char* kSystem = R"(
accounts {
  SYS { users = [ {user: sys, password: p} ] }
}
system_account: SYS
)";

// The server names of the statsz replies that come within a while (`"name":"..."` in "server").
std::set<std::string> ping_names(Client& c) {
  c.pub("$SYS.REQ.SERVER.PING", "", "_INBOX.sys");
  std::set<std::string> names;
  while (auto m = c.next(1s)) {
    const std::string key = "\"name\":\"";
    const auto at = m->payload.find(key);
    if (at == std::string::npos) continue;
    const auto end = m->payload.find('"', at + key.size());
    names.insert(m->payload.substr(at + key.size(), end - at - key.size()));
  }
  return names;
}

}  // namespace

TEST_CASE("system account across a route: every server answers the PING", "[cluster][system-account]") {
  const auto impls = GENERATE(from_range(oracle_filtered(std::vector<std::pair<Impl, Impl>>{
      {Impl::forest, Impl::forest}, {Impl::forest, Impl::nats}})));
  INFO("node 1: " << impl_name(impls.first) << ", node 2: " << impl_name(impls.second));
  TempFile conf("system-cluster.conf", kSystem);
  auto n1 = start_node({.impl = impls.first, .name = "sys1", .extra = {"-c", conf.path()}});
  auto n2 = start_node({.impl = impls.second, .name = "sys2", .routes = {n1->route_url()}, .extra = {"-c", conf.path()}});
  std::string why;
  REQUIRE(wait_mesh({n1.get(), n2.get()}, 10s, &why));
  Client sys(*n1, R"("user":"sys","pass":"p")");
  REQUIRE(sys.ok());
  sys.sub("_INBOX.sys", "1");
  REQUIRE(sys.flush());
  // The other node's interest arrives a moment after the route forms: ask until both answer.
  std::set<std::string> names;
  const bool both = eventually(
      [&] {
        names = ping_names(sys);
        return names == std::set<std::string>{"sys1", "sys2"};
      },
      10s);
  INFO("answered: " << names.size());
  CHECK(both);
}
