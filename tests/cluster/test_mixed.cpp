// Mixed clusters: forest-servers and nats-server 2.9.10 in one cluster, seeded either way
// (ours seeded by theirs, theirs by ours), 2 of ours + 1 nats-server and 1 + 2. In each: a
// full mesh, delivery between every pair of nodes (with headers), a queue group with members
// on both kinds (each message exactly once), request/reply, and interest leaving.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "cluster_catch.hpp"
#include "cluster_support.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

struct Topology {
  Impl seed, second, third;  // the second and third are seeded with the first
};

std::string describe(const Topology& t) {
  return std::string("seed ") + impl_name(t.seed) + ", then " + impl_name(t.second) + " and " + impl_name(t.third);
}

struct Mixed {
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<Node*> all;

  explicit Mixed(const Topology& t) {
    nodes.push_back(start_node({.impl = t.seed, .name = std::string("n0-") + impl_name(t.seed)}));
    const std::string seed_url = nodes[0]->route_url();
    nodes.push_back(start_node({.impl = t.second, .name = std::string("n1-") + impl_name(t.second), .routes = {seed_url}}));
    nodes.push_back(start_node({.impl = t.third, .name = std::string("n2-") + impl_name(t.third), .routes = {seed_url}}));
    for (auto& n : nodes) all.push_back(n.get());
  }
};

// Every node other than `node` sees `subject` from it.
void require_interest_everywhere(const Mixed& m, const Node& node, const std::string& subject) {
  for (Node* other : m.all) {
    if (other == &node) continue;
    INFO(other->name() << " should see " << subject << " from " << node.name());
    REQUIRE(wait_remote_sub(*other, node, subject));
  }
}

const Topology kTopologies[] = {
    {Impl::nats, Impl::forest, Impl::forest},  // 2 ours + 1, ours seeded by theirs
    {Impl::forest, Impl::forest, Impl::nats},  // 2 ours + 1, theirs seeded by ours
    {Impl::nats, Impl::nats, Impl::forest},    // 1 ours + 2, ours seeded by theirs
    {Impl::forest, Impl::nats, Impl::nats},    // 1 ours + 2, theirs seeded by ours
};

Topology which_topology() { return kTopologies[GENERATE(0, 1, 2, 3)]; }

}  // namespace

TEST_CASE("mixed cluster: mesh and delivery between every pair, with headers", "[cluster][mixed]") {
  const Topology t = which_topology();
  INFO(describe(t));
  Mixed m(t);
  require_mesh(m.all);

  std::vector<std::unique_ptr<Client>> subs;
  for (Node* n : m.all) {
    subs.push_back(std::make_unique<Client>(*n));
    REQUIRE(subs.back()->ok());
    subs.back()->sub("cross.>", "1");
    REQUIRE(subs.back()->flush());
  }
  for (Node* n : m.all) require_interest_everywhere(m, *n, "cross.>");

  const std::string headers = "NATS/1.0\r\nX-From: mixed\r\n\r\n";
  // One source at a time; each subscriber reads up to that source's end marker.
  for (Node* from : m.all) {
    INFO("published on " << from->name());
    Client pub(*from);
    pub.pub("cross." + from->name() + ".1", "one");
    pub.hpub("cross." + from->name() + ".2", headers, "two");
    pub.pub("cross.x.y.z", "three");
    pub.pub("cross.end", "");
    REQUIRE(pub.flush());
    for (std::size_t i = 0; i < subs.size(); ++i) {
      INFO("received on " << m.all[i]->name());
      const auto got = read_until(*subs[i], "cross.end");
      REQUIRE(got.size() == 3);
      CHECK(got[0].subject == "cross." + from->name() + ".1");
      CHECK(got[0].payload == "one");
      CHECK(got[1].hmsg);
      CHECK(got[1].headers == headers);
      CHECK(got[1].payload == "two");
      CHECK(got[2].payload == "three");
    }
  }
}

TEST_CASE("mixed cluster: a queue group over both kinds gets each message once", "[cluster][mixed]") {
  const Topology t = which_topology();
  INFO(describe(t));
  Mixed m(t);
  require_mesh(m.all);

  // One member on every node, two on the last (a queue weight of 2 on its routes).
  std::vector<std::pair<Node*, std::unique_ptr<Client>>> members;
  for (Node* n : {m.all[0], m.all[1], m.all[2], m.all[2]}) {
    auto c = std::make_unique<Client>(*n);
    REQUIRE(c->ok());
    c->sub("work", "1", "q");
    c->sub("work.end", "2");
    REQUIRE(c->flush());
    members.emplace_back(n, std::move(c));
  }
  for (Node* n : m.all) {
    require_interest_everywhere(m, *n, "work");
    require_interest_everywhere(m, *n, "work.end");
  }

  std::map<std::string, int> seen;
  std::map<const Client*, int> per_member;
  for (Node* from : m.all) {
    INFO("published on " << from->name());
    Client pub(*from);
    for (int i = 0; i < 100; ++i) pub.pub("work", from->name() + "-" + std::to_string(i));
    pub.pub("work.end", "");
    REQUIRE(pub.flush());
    for (auto& [node, c] : members) {
      for (const Msg& msg : read_until(*c, "work.end")) {
        ++seen[msg.payload];
        ++per_member[c.get()];
      }
    }
  }
  CHECK(seen.size() == 300);
  int duplicates = 0;
  for (auto& [payload, count] : seen) duplicates += count - 1;
  CHECK(duplicates == 0);
  CHECK(per_member.size() == members.size());  // 300 random picks reach every member
}

TEST_CASE("mixed cluster: request/reply between every pair", "[cluster][mixed]") {
  const Topology t = which_topology();
  INFO(describe(t));
  Mixed m(t);
  require_mesh(m.all);
  int n = 0;
  for (Node* server_node : m.all) {
    Client responder(*server_node);
    const std::string svc = "svc." + server_node->name();
    responder.sub(svc, "1");
    REQUIRE(responder.flush());
    require_interest_everywhere(m, *server_node, svc);
    for (Node* client_node : m.all) {
      if (client_node == server_node) continue;
      INFO("request from " << client_node->name() << " to " << server_node->name());
      Client requester(*client_node);
      const std::string inbox = "_INBOX.mixed." + std::to_string(++n);
      requester.sub(inbox, "9");
      requester.pub(svc, "ping", inbox);
      auto req = responder.next();
      REQUIRE(req);
      CHECK(req->reply == inbox);
      responder.pub(req->reply, "pong from " + server_node->name());
      auto reply = requester.next();
      REQUIRE(reply);
      CHECK(reply->payload == "pong from " + server_node->name());
    }
  }
}

TEST_CASE("mixed cluster: interest leaves on unsubscribe and on disconnect", "[cluster][mixed]") {
  const Topology t = which_topology();
  INFO(describe(t));
  Mixed m(t);
  require_mesh(m.all);
  for (Node* host : m.all) {
    for (const bool by_disconnect : {false, true}) {
      INFO("subscriber on " << host->name() << (by_disconnect ? ", disconnects" : ", unsubscribes"));
      const std::string subject = "gone." + host->name() + (by_disconnect ? ".d" : ".u");
      auto sub = std::make_unique<Client>(*host);
      sub->sub(subject, "1");
      REQUIRE(sub->flush());
      require_interest_everywhere(m, *host, subject);
      if (by_disconnect) {
        sub.reset();
      } else {
        sub->unsub("1");
        REQUIRE(sub->flush());
      }
      for (Node* other : m.all) {
        if (other == host) continue;
        INFO(other->name() << " should drop " << subject);
        REQUIRE(wait_no_remote_sub(*other, *host, subject));
        Client pub(*other);
        REQUIRE(pub.ok());
        // Between two nats-servers the route also carries their $SYS account's events (a
        // client connecting is one), so its out_msgs is a clean count only when a
        // forest-server is at one end.
        const bool clean_count = other->impl() == Impl::forest || host->impl() == Impl::forest;
        const Routez z_before = routez(*other);
        const RouteView* before = z_before.to(host->server_id());
        REQUIRE(before != nullptr);
        for (int i = 0; i < 20; ++i) pub.pub(subject, "unwanted");
        REQUIRE(pub.flush());  // handled, so not sent over the route if it was going to be
        const Routez z_after = routez(*other);
        const RouteView* after = z_after.to(host->server_id());
        REQUIRE(after != nullptr);
        if (clean_count) CHECK(after->out_msgs == before->out_msgs);
      }
      // A subscriber appearing later gets only what is published after it: nothing of the
      // above was sent its way and kept.
      Client later(*host);
      later.sub(subject, "2");
      REQUIRE(later.flush());
      require_interest_everywhere(m, *host, subject);
      for (Node* other : m.all) {
        if (other == host) continue;
        Client pub(*other);
        pub.pub(subject, "after from " + other->name());
        REQUIRE(pub.flush());
        auto got = later.next();
        REQUIRE(got);
        CHECK(got->payload == "after from " + other->name());
      }
    }
  }
}

TEST_CASE("mixed cluster: requests to a queue group on the other kind, with headers", "[cluster][mixed]") {
  // RMSG with both a reply and queue names ("+ reply q") is the form least used elsewhere.
  const Topology t = which_topology();
  INFO(describe(t));
  Mixed m(t);
  require_mesh(m.all);
  for (Node* service : m.all) {
    std::vector<std::unique_ptr<Client>> responders;
    const std::string svc = "qsvc." + service->name();
    for (int i = 0; i < 2; ++i) {
      responders.push_back(std::make_unique<Client>(*service));
      responders.back()->sub(svc, "1", "responders");
      responders.back()->sub(svc + ".end", "2");
      REQUIRE(responders.back()->flush());
    }
    require_interest_everywhere(m, *service, svc);
    require_interest_everywhere(m, *service, svc + ".end");
    for (Node* client_node : m.all) {
      if (client_node == service) continue;
      INFO("requests from " << client_node->name() << " to a group on " << service->name());
      Client requester(*client_node);
      requester.sub("_INBOX.q.>", "9");
      const std::string headers = "NATS/1.0\r\nReq: " + client_node->name() + "\r\n\r\n";
      constexpr int kRequests = 10;
      for (int i = 0; i < kRequests; ++i) requester.hpub(svc, headers, std::to_string(i));
      // hpub has no reply: send the same with one, raw.
      for (int i = 0; i < kRequests; ++i) {
        const std::string inbox = "_INBOX.q." + std::to_string(i);
        const std::string body = std::to_string(i);
        requester.send_raw("HPUB " + svc + " " + inbox + " " + std::to_string(headers.size()) + " " +
                           std::to_string(headers.size() + body.size()) + "\r\n" + headers + body + "\r\n");
      }
      requester.pub(svc + ".end", "");
      REQUIRE(requester.flush());
      // 2 x kRequests messages over both responders, each delivered once; the ones with a
      // reply subject are answered.
      int received = 0, answered = 0;
      for (auto& r : responders) {
        for (const Msg& req : read_until(*r, svc + ".end")) {
          ++received;
          CHECK(req.hmsg);
          CHECK(req.headers == headers);
          if (!req.reply.empty()) {
            r->pub(req.reply, "ok " + req.payload);
            ++answered;
          }
        }
      }
      CHECK(received == 2 * kRequests);
      CHECK(answered == kRequests);
      std::set<std::string> replies;
      for (int i = 0; i < kRequests; ++i) {
        auto reply = requester.next();
        REQUIRE(reply);
        replies.insert(reply->subject + " " + reply->payload);
      }
      CHECK(replies.size() == kRequests);
      CHECK(replies.count("_INBOX.q.3 ok 3") == 1);
    }
  }
}

TEST_CASE("mixed cluster: a node killed and restarted rejoins, traffic resumes", "[cluster][mixed]") {
  const Topology t = which_topology();
  // The seed (which the others dialed) or one that dialed it.
  const int victim_index = GENERATE(0, 2);
  INFO(describe(t) << "; restarting n" << victim_index);
  Mixed m(t);
  require_mesh(m.all);
  Node& victim = *m.all[victim_index];
  std::vector<Node*> others;
  for (Node* n : m.all) {
    if (n != &victim) others.push_back(n);
  }
  victim.kill();
  require_mesh(others);
  victim.restart();
  require_mesh(m.all);

  Client at_victim(victim);
  at_victim.sub("rj.in", "1");
  REQUIRE(at_victim.flush());
  for (Node* n : others) {
    INFO("with " << n->name());
    REQUIRE(wait_remote_sub(*n, victim, "rj.in"));
    Client c(*n);
    c.sub("rj.out", "1");
    REQUIRE(c.flush());
    REQUIRE(wait_remote_sub(victim, *n, "rj.out"));
    c.pub("rj.in", "to " + victim.name());
    REQUIRE(c.flush());
    auto in = at_victim.next();
    REQUIRE(in);
    CHECK(in->payload == "to " + victim.name());
    at_victim.pub("rj.out", "from " + victim.name());
    auto out = c.next();
    REQUIRE(out);
    CHECK(out->payload == "from " + victim.name());
  }
}

TEST_CASE("mixed pair: interest that exists before a node joins is sent to it", "[cluster][mixed]") {
  const auto impls = GENERATE(std::pair{Impl::forest, Impl::nats}, std::pair{Impl::nats, Impl::forest});
  INFO("first " << impl_name(impls.first) << ", joined by " << impl_name(impls.second));
  auto a = start_node({.impl = impls.first, .name = "A"});
  Client subs(*a);
  constexpr int kSubjects = 2000;
  std::string batch;
  for (int i = 0; i < kSubjects; ++i) batch += "SUB pre." + std::to_string(i) + " " + std::to_string(i + 1) + "\r\n";
  batch += "SUB pre.q work 99999\r\nSUB pre.q work 99998\r\n";  // a queue weight of 2
  subs.send_raw(batch);
  REQUIRE(subs.flush());
  auto b = start_node({.impl = impls.second, .name = "B", .routes = {a->route_url()}});
  require_mesh({a.get(), b.get()});
  REQUIRE(eventually([&] {
    const Routez z = routez(*b);
    const RouteView* r = z.to(a->server_id());
    if (r == nullptr) return false;
    std::size_t ours = 0;
    for (const auto& sub : r->subs) ours += sub.rfind("pre.", 0) == 0;
    return ours == kSubjects + 1;
  }, 10s));
  Client pub(*b);
  pub.pub("pre.1999", "last");
  pub.pub("pre.q", "queued");
  pub.pub("pre.0", "first");
  REQUIRE(pub.flush());
  for (const char* want : {"last", "queued", "first"}) {
    auto msg = subs.next();
    REQUIRE(msg);
    CHECK(msg->payload == want);
  }
  auto extra = subs.next(300ms);  // the queue message went to one member, not two
  CHECK_FALSE(extra);
}
