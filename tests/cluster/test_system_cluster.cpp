// The system account across a route: $SYS.REQ.SERVER.PING asked on one node is answered by
// both (the service's subscriptions are ordinary interest of the system account, so routes
// carry them), in the pairings forest-forest and forest-nats (nats-server answers as well).
#include <catch2/catch.hpp>

#include <algorithm>
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

TEST_CASE("system imports across a route: an account's CONNZ is answered by every server, for it only",
          "[cluster][system-account]") {
  const auto impls = GENERATE(from_range(oracle_filtered(std::vector<std::pair<Impl, Impl>>{
      {Impl::forest, Impl::forest}, {Impl::forest, Impl::nats}})));
  INFO("node 1: " << impl_name(impls.first) << ", node 2: " << impl_name(impls.second));
  TempFile conf("system-imports-cluster.conf", R"(
accounts {
  SYS { users = [ {user: sys, password: p} ] }
  A { users = [ {user: a, password: p} ] }
  B { users = [ {user: b, password: p} ] }
}
system_account: SYS
)");
  auto n1 = start_node({.impl = impls.first, .name = "imp1", .extra = {"-c", conf.path()}});
  auto n2 = start_node({.impl = impls.second, .name = "imp2", .routes = {n1->route_url()}, .extra = {"-c", conf.path()}});
  std::string why;
  REQUIRE(wait_mesh({n1.get(), n2.get()}, 10s, &why));
  // A has one client on each node, B one on the second; the asking client is A's on node 1.
  Client a1(*n1, R"("user":"a","pass":"p")"), a2(*n2, R"("user":"a","pass":"p")"), b2(*n2, R"("user":"b","pass":"p")");
  REQUIRE(a1.ok());
  REQUIRE(a2.ok());
  REQUIRE(b2.ok());
  a1.sub("_INBOX.a", "1");
  REQUIRE(a1.flush());
  // The answers: which server, and how many connections it lists (a list, so that a server
  // answering twice shows).
  std::vector<std::string> answers;
  const bool both = eventually(
      [&] {
        answers.clear();
        a1.pub("$SYS.REQ.SERVER.PING.CONNZ", "", "_INBOX.a");
        while (auto m = a1.next(1s)) {
          auto field = [&](const std::string& key) {
            const auto at = m->payload.find("\"" + key + "\":");
            if (at == std::string::npos) return std::string("?");
            const auto start = at + key.size() + 3;
            return m->payload.substr(start, m->payload.find_first_of(",}", start) - start);
          };
          answers.push_back(field("name") + " " + field("num_connections"));
        }
        return answers.size() >= 2;
      },
      10s);
  INFO("answers: " << answers.size());
  CHECK(both);
  std::sort(answers.begin(), answers.end());
  CHECK(answers == std::vector<std::string>{"\"imp1\" 1", "\"imp2\" 1"});
}
