// Account imports across a route: two nodes with the same accounts, every pairing of
// forest-server and nats-server 2.9.10. A stream import delivers a message published in A on
// node 1 to B's subscriber on node 2 exactly once; a service import carries a request from B
// on node 2 to a responder in A on node 1 and its reply back, to the requester only.
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

const char* kImports = R"(
accounts {
  A {
    users = [ {user: a, password: p} ]
    exports = [ {stream: "pub.>"}, {service: "req.*"} ]
  }
  B {
    users = [ {user: b, password: p} ]
    imports = [
      {stream: {account: A, subject: "pub.>"}, prefix: "x"}
      {service: {account: A, subject: "req.foo"}, to: "local.req"}
    ]
  }
}
)";

const std::string kLoginA = R"("user":"a","pass":"p")";
const std::string kLoginB = R"("user":"b","pass":"p")";

std::vector<std::string> subjects_until(Client& c, const std::string& end) {
  std::vector<std::string> out;
  while (auto m = c.next(5s)) {
    if (m->subject == end) return out;
    out.push_back(m->subject + " " + m->payload);
  }
  out.push_back("<no end marker>");
  return out;
}

const auto kPairs = std::vector<std::pair<Impl, Impl>>{
    {Impl::forest, Impl::forest}, {Impl::forest, Impl::nats}, {Impl::nats, Impl::forest}};

}  // namespace

TEST_CASE("imports across a route: a stream import reaches the other node once", "[cluster][imports]") {
  const auto impls = GENERATE(from_range(oracle_filtered(kPairs)));
  INFO("node 1: " << impl_name(impls.first) << ", node 2: " << impl_name(impls.second));
  TempFile conf("imports-cluster.conf", kImports);
  auto n1 = start_node({.impl = impls.first, .name = "imp1", .extra = {"-c", conf.path()}});
  auto n2 = start_node({.impl = impls.second, .name = "imp2", .routes = {n1->route_url()}, .extra = {"-c", conf.path()}});
  std::string why;
  REQUIRE(wait_mesh({n1.get(), n2.get()}, 10s, &why));

  Client b_sub(*n2, kLoginB);
  REQUIRE(b_sub.ok());
  b_sub.sub("x.pub.>", "1");
  b_sub.sub(">", "2");
  REQUIRE(b_sub.flush());
  Client a_pub(*n1, kLoginA);
  REQUIRE(a_pub.ok());

  // The import's interest in A reaches node 1: probe until one arrives.
  REQUIRE(eventually([&] {
    a_pub.pub("pub.probe", "p");
    (void)a_pub.flush();
    return b_sub.next(100ms).has_value();
  }, 10s));
  while (b_sub.next(300ms)) {}

  a_pub.pub("pub.one", "1");
  a_pub.pub("secret.two", "2");
  a_pub.pub("pub.end", "");
  REQUIRE(a_pub.flush());
  // Each subscription once: x.pub.one on sid 1 and on sid 2, nothing of secret.two.
  const auto got = subjects_until(b_sub, "x.pub.end");
  CHECK(got == std::vector<std::string>{"x.pub.one 1", "x.pub.one 1"});
  // (The end marker reaches both subscriptions; the second copy follows.)
  auto m = b_sub.next(2s);
  REQUIRE(m.has_value());
  CHECK(m->subject == "x.pub.end");
  CHECK_FALSE(b_sub.next(300ms).has_value());
}

TEST_CASE("imports across a route: a service import's request and reply", "[cluster][imports]") {
  const auto impls = GENERATE(from_range(oracle_filtered(kPairs)));
  INFO("node 1: " << impl_name(impls.first) << ", node 2: " << impl_name(impls.second));
  TempFile conf("imports-cluster.conf", kImports);
  auto n1 = start_node({.impl = impls.first, .name = "imp1", .extra = {"-c", conf.path()}});
  auto n2 = start_node({.impl = impls.second, .name = "imp2", .routes = {n1->route_url()}, .extra = {"-c", conf.path()}});
  std::string why;
  REQUIRE(wait_mesh({n1.get(), n2.get()}, 10s, &why));

  Client responder(*n1, kLoginA);
  REQUIRE(responder.ok());
  responder.sub("req.foo", "1");
  REQUIRE(responder.flush());
  Client requester(*n2, kLoginB), bystander(*n2, kLoginB);
  REQUIRE(requester.ok());
  REQUIRE(bystander.ok());
  requester.sub("_INBOX.me", "5");
  bystander.sub("_R_.>", "6");
  REQUIRE(requester.flush());
  REQUIRE(bystander.flush());

  // The responder's interest reaches node 2: request until one arrives.
  std::optional<Msg> request;
  REQUIRE(eventually([&] {
    requester.pub("local.req", "hi", "_INBOX.me");
    (void)requester.flush();
    request = responder.next(100ms);
    return request.has_value();
  }, 10s));
  CHECK(request->subject == "req.foo");
  REQUIRE(request->reply.rfind("_R_.", 0) == 0);
  CHECK(request->headers.find("Nats-Request-Info: {\"acc\":\"B\"") != std::string::npos);
  CHECK(request->payload == "hi");

  // The reply subject's interest (node 2's response subscription) is on node 1 already: the
  // request came through it... the answer goes back over the route.
  responder.pub(request->reply, "answer");
  REQUIRE(responder.flush());
  auto reply = requester.next(5s);
  REQUIRE(reply.has_value());
  CHECK(reply->subject == "_INBOX.me");
  CHECK(reply->payload == "answer");
  // A singleton's second answer is dropped; the bystander never sees an _R_ subject.
  responder.pub(request->reply, "again");
  REQUIRE(responder.flush());
  CHECK_FALSE(requester.next(500ms).has_value());
  CHECK_FALSE(bystander.next(300ms).has_value());
}
