// Accounts across a route: two nodes with the same accounts (A, B), every pairing of
// forest-server and nats-server 2.9.10. A message published in A on one node reaches A's
// subscribers on the other and never B's, also not B's '>' subscriber; B's messages never
// reach A's. RS+/RMSG carry the account name, so a mixed pair must agree on it.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster_catch.hpp"
#include "cluster_support.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

const char* kAccounts = R"(
accounts {
  A { users = [ {user: a, password: p} ] }
  B { users = [ {user: b, password: p} ] }
}
)";

const std::string kLoginA = R"("user":"a","pass":"p")";
const std::string kLoginB = R"("user":"b","pass":"p")";

// Messages until `end` arrives (or nothing more comes); their payloads.
std::vector<std::string> payloads_until(Client& c, const std::string& end) {
  std::vector<std::string> out;
  while (auto m = c.next(5s)) {
    if (m->subject == end) return out;
    out.push_back(m->payload);
  }
  out.push_back("<no end marker>");
  return out;
}

}  // namespace

TEST_CASE("accounts across a route: isolated both ways, delivered within", "[cluster][accounts]") {
  const auto impls = GENERATE(from_range(oracle_filtered(std::vector<std::pair<Impl, Impl>>{
      {Impl::forest, Impl::forest}, {Impl::forest, Impl::nats}, {Impl::nats, Impl::forest}})));
  INFO("node 1: " << impl_name(impls.first) << ", node 2: " << impl_name(impls.second));
  TempFile conf("accounts-cluster.conf", kAccounts);
  auto n1 = start_node({.impl = impls.first, .name = "acc1", .extra = {"-c", conf.path()}});
  auto n2 = start_node({.impl = impls.second, .name = "acc2", .routes = {n1->route_url()}, .extra = {"-c", conf.path()}});
  std::string why;
  REQUIRE(wait_mesh({n1.get(), n2.get()}, 10s, &why));

  Client a_sub(*n1, kLoginA), b_sub(*n1, kLoginB);
  REQUIRE(a_sub.ok());
  REQUIRE(b_sub.ok());
  a_sub.sub("acc.>", "1");
  b_sub.sub(">", "1");
  REQUIRE(a_sub.flush());
  REQUIRE(b_sub.flush());
  Client a_pub(*n2, kLoginA), b_pub(*n2, kLoginB);
  REQUIRE(a_pub.ok());
  REQUIRE(b_pub.ok());

  // Interest of A on node 1 reaches node 2: probe until one arrives.
  REQUIRE(eventually([&] {
    a_pub.pub("acc.probe", "p");
    (void)a_pub.flush();
    return a_sub.next(100ms).has_value();
  }, 10s));
  // And B's '>' on node 1 (B publishes to itself until one arrives).
  REQUIRE(eventually([&] {
    b_pub.pub("b.probe", "p");
    (void)b_pub.flush();
    return b_sub.next(100ms).has_value();
  }, 10s));
  while (a_sub.next(300ms)) {}
  while (b_sub.next(300ms)) {}

  b_pub.pub("acc.secret", "from-b");
  a_pub.pub("acc.one", "from-a");
  REQUIRE(b_pub.flush());
  REQUIRE(a_pub.flush());
  a_pub.pub("acc.end", "");
  b_pub.pub("b.end", "");
  REQUIRE(a_pub.flush());
  REQUIRE(b_pub.flush());
  CHECK(payloads_until(a_sub, "acc.end") == std::vector<std::string>{"from-a"});
  CHECK(payloads_until(b_sub, "b.end") == std::vector<std::string>{"from-b"});
}
