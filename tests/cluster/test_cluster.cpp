// Multi-process clusters of forest-servers: a mesh formed from one seed each, traffic across
// it (pub/sub with wildcards, request/reply, queue groups, headers), interest leaving with
// unsubscribe and disconnect, and a node killed and restarted on its ports.
//
// Every node runs on ephemeral ports; interest is waited for through /routez (never a blind
// sleep); message streams end with a marker published after them, so "nothing else arrived"
// is checked by order on the route, not by waiting.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster_catch.hpp"
#include "cluster_support.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

// A; B and C seeded with A; D seeded with B (it learns A and C from gossip).
struct FourNodes {
  std::unique_ptr<Node> a, b, c, d;
  std::vector<Node*> all;

  explicit FourNodes(Impl impl = default_impl()) {
    a = start_node({.impl = impl, .name = "A"});
    b = start_node({.impl = impl, .name = "B", .routes = {a->route_url()}});
    c = start_node({.impl = impl, .name = "C", .routes = {a->route_url()}});
    d = start_node({.impl = impl, .name = "D", .routes = {b->route_url()}});
    all = {a.get(), b.get(), c.get(), d.get()};
  }

  void require_mesh() { forest::testing::require_mesh(all); }
};

}  // namespace

TEST_CASE("a full mesh forms from seeds: B and C know A, D knows B", "[cluster]") {
  FourNodes n;
  n.require_mesh();
  for (Node* node : n.all) {
    const Routez z = routez(*node);
    INFO(node->name());
    CHECK(z.routes.size() == 3);
    CHECK(z.remote_ids().size() == 3);  // three different peers, no duplicate route
    CHECK(z.remote_ids().count(node->server_id()) == 0);
  }
}

TEST_CASE("a full mesh forms from a chain of seeds: each node knows only the previous one", "[cluster]") {
  // Seeds by address, or by host name (resolved by the dialer; gossip then names the same
  // servers by address, which must not make a second route).
  const std::string host = GENERATE(as<std::string>{}, "127.0.0.1", "localhost");
  INFO("seeds given as " << host);
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<Node*> all;
  for (int i = 0; i < 5; ++i) {
    NodeSpec spec{.name = std::string("N").append(std::to_string(i))};
    if (i > 0) spec.routes = {"nats://" + host + ":" + std::to_string(nodes.back()->route_port())};
    nodes.push_back(start_node(spec));
    all.push_back(nodes.back().get());
  }
  require_mesh(all);
}

TEST_CASE("pub/sub across nodes, with wildcards, one copy per subscriber", "[cluster]") {
  FourNodes n;
  n.require_mesh();
  Client on_c(*n.c), on_d(*n.d), pub(*n.a);
  REQUIRE(on_c.ok());
  REQUIRE(on_d.ok());
  REQUIRE(pub.ok());
  on_c.sub("orders.*", "1");
  on_c.sub("metrics.>", "2");
  on_c.sub("end", "3");
  on_d.sub("orders.*", "1");
  on_d.sub("end", "2");
  REQUIRE(on_c.flush());
  REQUIRE(on_d.flush());
  REQUIRE(wait_remote_sub(*n.a, *n.c, "orders.*"));
  REQUIRE(wait_remote_sub(*n.a, *n.c, "metrics.>"));
  REQUIRE(wait_remote_sub(*n.a, *n.c, "end"));
  REQUIRE(wait_remote_sub(*n.a, *n.d, "orders.*"));
  REQUIRE(wait_remote_sub(*n.a, *n.d, "end"));

  pub.pub("orders.new", "o1");
  pub.pub("orders.new.deep", "no");  // not matched by orders.*
  pub.pub("metrics.cpu.load", "m1");
  pub.pub("other", "no");
  pub.pub("orders.paid", "o2");
  pub.pub("end", "");
  REQUIRE(pub.flush());

  const auto got_c = read_until(on_c, "end");
  REQUIRE(got_c.size() == 3);
  CHECK(got_c[0].subject == "orders.new");
  CHECK(got_c[0].payload == "o1");
  CHECK(got_c[0].sid == "1");
  CHECK(got_c[1].subject == "metrics.cpu.load");
  CHECK(got_c[1].sid == "2");
  CHECK(got_c[2].payload == "o2");
  // D is reachable from A directly and through B and C: it must get each message once.
  const auto got_d = read_until(on_d, "end");
  REQUIRE(got_d.size() == 2);
  CHECK(got_d[0].payload == "o1");
  CHECK(got_d[1].payload == "o2");

  // And the other way: C publishes, a subscriber on A receives.
  Client on_a(*n.a);
  on_a.sub("back.>", "9");
  REQUIRE(on_a.flush());
  REQUIRE(wait_remote_sub(*n.c, *n.a, "back.>"));
  on_c.pub("back.to.a", "hello");
  auto m = on_a.next();
  REQUIRE(m);
  CHECK(m->subject == "back.to.a");
  CHECK(m->payload == "hello");
}

TEST_CASE("request/reply: requester on A, responder on D", "[cluster]") {
  FourNodes n;
  n.require_mesh();
  Client responder(*n.d), requester(*n.a);
  responder.sub("svc.echo", "1");
  REQUIRE(responder.flush());
  REQUIRE(wait_remote_sub(*n.a, *n.d, "svc.echo"));
  // The inbox is subscribed just before each request, as clients do: its RS+ travels ahead of
  // the request on the same route, so the reply finds it without waiting.
  for (int i = 0; i < 20; ++i) {
    const std::string inbox = std::string("_INBOX.ctest.").append(std::to_string(i));
    const std::string sid = std::to_string(100 + i);
    const std::string question = std::string("q").append(std::to_string(i));
    requester.sub(inbox, sid);
    requester.pub("svc.echo", question, inbox);
    auto req = responder.next();
    REQUIRE(req);
    CHECK(req->reply == inbox);
    responder.pub(req->reply, "re:" + req->payload);
    auto reply = requester.next();
    REQUIRE(reply);
    CHECK(reply->sid == sid);
    CHECK(reply->payload == "re:" + question);
    requester.unsub(sid);
  }
}

TEST_CASE("a queue group spread over three nodes: each message to exactly one member", "[cluster]") {
  FourNodes n;
  n.require_mesh();
  // Members: one on A, two on C, one on D; the publisher is on B (no member of its own) or A.
  Node* const publisher_node = GENERATE(as<std::string>{}, "B", "A") == "B" ? n.b.get() : n.a.get();
  INFO("publisher on " << publisher_node->name());
  std::vector<std::pair<Node*, std::unique_ptr<Client>>> members;
  for (Node* node : {n.a.get(), n.c.get(), n.c.get(), n.d.get()}) {
    auto c = std::make_unique<Client>(*node);
    REQUIRE(c->ok());
    c->sub("jobs", "1", "workers");
    c->sub("jobs.end", "2");
    REQUIRE(c->flush());
    members.emplace_back(node, std::move(c));
  }
  for (Node* node : {n.a.get(), n.c.get(), n.d.get()}) {
    if (node == publisher_node) continue;
    REQUIRE(wait_remote_sub(*publisher_node, *node, "jobs"));
    REQUIRE(wait_remote_sub(*publisher_node, *node, "jobs.end"));
  }
  Client pub(*publisher_node);
  constexpr int kMessages = 300;
  for (int i = 0; i < kMessages; ++i) pub.pub("jobs", std::to_string(i));
  pub.pub("jobs.end", "");
  REQUIRE(pub.flush());

  std::map<std::string, int> seen;  // payload -> deliveries
  std::map<std::string, int> per_node;
  for (auto& [node, c] : members) {
    for (const Msg& m : read_until(*c, "jobs.end")) {
      ++seen[m.payload];
      ++per_node[node->name()];
    }
  }
  CHECK(seen.size() == kMessages);  // none lost
  int duplicates = 0;
  for (auto& [payload, count] : seen) duplicates += count - 1;
  CHECK(duplicates == 0);
  // 300 random picks: every node's members get some (a miss has odds below 1e-50).
  CHECK(per_node.size() == 3);
}

TEST_CASE("headers: HPUB across a route arrives as HMSG with the same header bytes", "[cluster]") {
  FourNodes n;
  n.require_mesh();
  Client sub(*n.c), pub(*n.a);
  sub.sub("h.>", "1");
  REQUIRE(sub.flush());
  REQUIRE(wait_remote_sub(*n.a, *n.c, "h.>"));
  const std::string headers = "NATS/1.0\r\nX-Trace: abc-123\r\nX-Multi: one\r\nX-Multi: two\r\n\r\n";
  pub.hpub("h.one", headers, "body bytes");
  pub.hpub("h.empty", headers, "");  // headers only
  pub.pub("h.plain", "no headers");
  REQUIRE(pub.flush());
  auto m1 = sub.next();
  REQUIRE(m1);
  CHECK(m1->hmsg);
  CHECK(m1->headers == headers);
  CHECK(m1->payload == "body bytes");
  auto m2 = sub.next();
  REQUIRE(m2);
  CHECK(m2->hmsg);
  CHECK(m2->headers == headers);
  CHECK(m2->payload.empty());
  auto m3 = sub.next();
  REQUIRE(m3);
  CHECK_FALSE(m3->hmsg);
  CHECK(m3->payload == "no headers");
}

TEST_CASE("interest leaves with the last subscriber: unsubscribe and disconnect", "[cluster]") {
  auto a = start_node({.name = "A"});
  auto b = start_node({.name = "B", .routes = {a->route_url()}});
  require_mesh({a.get(), b.get()});
  const bool by_disconnect = GENERATE(false, true);
  INFO((by_disconnect ? "disconnect" : "unsubscribe"));

  auto sub = std::make_unique<Client>(*b);
  sub->sub("news.x", "1");
  REQUIRE(sub->flush());
  REQUIRE(wait_remote_sub(*a, *b, "news.x"));
  Client pub(*a);
  pub.pub("news.x", "before");
  REQUIRE(pub.flush());
  auto m = sub->next();
  REQUIRE(m);
  CHECK(m->payload == "before");

  if (by_disconnect) {
    sub.reset();
  } else {
    sub->unsub("1");
    REQUIRE(sub->flush());
  }
  REQUIRE(wait_no_remote_sub(*a, *b, "news.x"));
  const int64_t out_before = routez(*a).to(b->server_id())->out_msgs;
  for (int i = 0; i < 50; ++i) pub.pub("news.x", "unwanted");
  REQUIRE(pub.flush());  // A has handled them all
  CHECK(routez(*a).to(b->server_id())->out_msgs == out_before);

  // A subscriber appearing later gets new messages only (nothing of the above was queued).
  Client later(*b);
  later.sub("news.x", "7");
  REQUIRE(later.flush());
  REQUIRE(wait_remote_sub(*a, *b, "news.x"));
  pub.pub("news.x", "after");
  REQUIRE(pub.flush());
  auto m2 = later.next();
  REQUIRE(m2);
  CHECK(m2->payload == "after");
}

TEST_CASE("a node killed and restarted on its ports rejoins, and traffic resumes across it", "[cluster]") {
  FourNodes n;
  n.require_mesh();
  // C dialed A (a configured route); A is the seed the others dialed; D's routes to A and C
  // are implicit (gossiped). Down for a moment, or long enough that the survivors' dialers
  // have failed a few times and given up on gossiped routes (nats-server issue #1399 was
  // routes never re-established after such a restart).
  const auto [which, down] = GENERATE(std::pair{'C', 0}, std::pair{'A', 0}, std::pair{'D', 3}, std::pair{'A', 3});
  Node& victim = which == 'C' ? *n.c : which == 'A' ? *n.a : *n.d;
  INFO("restarted: " << which << " after " << down << " s down");
  std::vector<Node*> others;
  for (Node* node : n.all) {
    if (node != &victim) others.push_back(node);
  }
  victim.kill();
  require_mesh(others);  // the survivors dropped their routes to it
  std::this_thread::sleep_for(std::chrono::seconds(down));
  victim.restart();
  require_mesh(n.all);

  // Traffic through the restarted node, both ways, with every other node.
  Client at_victim(victim);
  at_victim.sub("to.victim", "1");
  REQUIRE(at_victim.flush());
  for (Node* node : others) {
    REQUIRE(wait_remote_sub(*node, victim, "to.victim"));
    Client pub(*node);
    pub.pub("to.victim", "from " + node->name());
    REQUIRE(pub.flush());
    auto m = at_victim.next();
    REQUIRE(m);
    CHECK(m->payload == "from " + node->name());

    Client sub(*node);
    sub.sub("from.victim", "1");
    REQUIRE(sub.flush());
    REQUIRE(wait_remote_sub(victim, *node, "from.victim"));
    at_victim.pub("from.victim", "hi " + node->name());
    auto back = sub.next();
    REQUIRE(back);
    CHECK(back->payload == "hi " + node->name());
  }
}

TEST_CASE("interest that exists before a node joins is sent to it", "[cluster]") {
  auto a = start_node({.name = "A"});
  Client subs(*a);
  constexpr int kSubjects = 3000;
  std::string batch;
  for (int i = 0; i < kSubjects; ++i) batch += "SUB pre." + std::to_string(i) + " " + std::to_string(i + 1) + "\r\n";
  batch += "SUB pre.q work 99999\r\n";
  subs.send_raw(batch);
  REQUIRE(subs.flush());

  auto b = start_node({.name = "B", .routes = {a->route_url()}});
  require_mesh({a.get(), b.get()});
  // Counted by name: between nats-servers the route also carries their $SYS subscriptions.
  REQUIRE(eventually([&] {
    const Routez z = routez(*b);
    const RouteView* r = z.to(a->server_id());
    if (r == nullptr) return false;
    std::size_t ours = 0;
    for (const auto& sub : r->subs) ours += sub.rfind("pre.", 0) == 0;
    return ours == kSubjects + 1;
  }, 10s));
  Client pub(*b);
  pub.pub("pre.2999", "last");
  pub.pub("pre.q", "queued");
  pub.pub("pre.0", "first");
  REQUIRE(pub.flush());
  for (const char* want : {"last", "queued", "first"}) {
    auto m = subs.next();
    REQUIRE(m);
    CHECK(m->payload == want);
  }
}

TEST_CASE("interest is counted: it stays while one subscriber on the node remains", "[cluster]") {
  auto a = start_node({.name = "A"});
  auto b = start_node({.name = "B", .routes = {a->route_url()}});
  require_mesh({a.get(), b.get()});
  const bool queue = GENERATE(false, true);
  INFO((queue ? "queue group" : "plain"));
  Client first(*b), second(*b);
  first.sub("cnt", "1", queue ? "g" : "");
  second.sub("cnt", "1", queue ? "g" : "");
  REQUIRE(first.flush());
  REQUIRE(second.flush());
  REQUIRE(wait_remote_sub(*a, *b, "cnt"));
  first.unsub("1");
  REQUIRE(first.flush());
  // A marker subscribed after the UNSUB: its RS+ follows any RS- for "cnt" on the route, so
  // once A has the marker it has seen whatever B said about "cnt".
  first.sub("marker", "2");
  REQUIRE(first.flush());
  REQUIRE(wait_remote_sub(*a, *b, "marker"));
  CHECK(has_remote_sub(*a, *b, "cnt"));
  Client pub(*a);
  pub.pub("cnt", "still");
  REQUIRE(pub.flush());
  auto m = second.next();
  REQUIRE(m);
  CHECK(m->payload == "still");
  second.unsub("1");
  REQUIRE(second.flush());
  REQUIRE(wait_no_remote_sub(*a, *b, "cnt"));
}

TEST_CASE("a payload near max_payload crosses a route intact", "[cluster]") {
  auto a = start_node({.name = "A"});
  auto b = start_node({.name = "B", .routes = {a->route_url()}});
  require_mesh({a.get(), b.get()});
  Client sub(*b), pub(*a);
  sub.sub("big", "1");
  REQUIRE(sub.flush());
  REQUIRE(wait_remote_sub(*a, *b, "big"));
  std::string payload(1024 * 1024 - 64, 'x');
  for (std::size_t i = 0; i < payload.size(); i += 4093) payload[i] = static_cast<char>('a' + i % 26);
  const std::string headers = "NATS/1.0\r\nBig: yes\r\n\r\n";
  pub.pub("big", payload);
  pub.hpub("big", headers, payload.substr(0, payload.size() - headers.size()));
  REQUIRE(pub.flush(10s));
  auto m1 = sub.next(10s);
  REQUIRE(m1);
  CHECK(m1->payload == payload);
  auto m2 = sub.next(10s);
  REQUIRE(m2);
  CHECK(m2->headers == headers);
  CHECK(m2->payload == payload.substr(0, payload.size() - headers.size()));
}

// A joining node is sent the interest snapshot while clients churn subscriptions: every change
// after the snapshot must reach the node after it, or an RS- overtaken by the snapshot leaves
// the node a subscription that no longer exists (a bug we had: the snapshot was queued after
// the interest lock was released).
TEST_CASE("subscription churn while a node joins leaves it exactly the standing interest", "[cluster][churn]") {
  constexpr int kStanding = 20000;
  auto a = start_node({.name = "A", .extra = {"--io_threads", "4"}});
  Client standing(*a);
  std::string batch;
  for (int i = 0; i < kStanding; ++i) {
    batch.append("SUB s.").append(std::to_string(i)).append(" ").append(std::to_string(i + 1)).append("\r\n");
  }
  standing.send_raw(batch);
  REQUIRE(standing.flush(20s));
  std::vector<std::unique_ptr<Client>> churners;
  for (int k = 0; k < 4; ++k) churners.push_back(std::make_unique<Client>(*a));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&stop, cl = churners[t].get(), t] {
      // Paced (50 pairs every 2 ms) and bounded, so the peers' backlog of RS+/RS- stays small
      // enough to drain quickly even on a sanitizer build.
      for (int i = 0; i < 100000 && !stop.load(); i += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        std::string b;
        for (int k = i; k < i + 50; ++k) {
          const std::string sid = std::to_string(k + 1);
          b.append("SUB c.").append(std::to_string(t)).append(".").append(std::to_string(k));
          b.append(" ").append(sid).append("\r\nUNSUB ").append(sid).append("\r\n");
        }
        cl->send_raw(b);
      }
    });
  }
  std::vector<std::unique_ptr<Node>> joiners;
  for (int k = 0; k < 3; ++k) {
    joiners.push_back(start_node({.name = std::string("B").append(std::to_string(k)), .routes = {a->route_url()}}));
    REQUIRE(eventually([&] { return routez(*joiners.back()).to(a->server_id()) != nullptr; }, 10s));
  }
  stop = true;
  for (auto& t : threads) t.join();
  for (auto& c : churners) REQUIRE(c->flush(60s));
  for (auto& b : joiners) {
    int64_t have = -1;
    const bool exact = eventually([&] {
      const Routez z = routez(*b);
      const RouteView* r = z.to(a->server_id());
      have = r != nullptr ? r->subscriptions : -1;
      return have == kStanding;
    }, 30s);
    INFO(b->name() << " has " << have << " subscriptions from A, want " << kStanding);
    CHECK(exact);
  }
}
