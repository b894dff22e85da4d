// JetStream in a forest-server cluster is local to its node (README: not clustered yet). Its
// API, stream subjects and direct gets are not announced to routes: a client on another node
// gets "no responders" and its publishes are not stored. Deliveries still reach subscribers on
// other nodes (with the stored subject) and their acks come back over the route.
#include <catch2/catch.hpp>

#include <filesystem>
#include <unistd.h>

#include "cluster_catch.hpp"

using namespace forest::testing;

namespace {

bool is_no_responders(const std::optional<Msg>& m) {
  return m && m->hmsg && m->headers.find("NATS/1.0 503") != std::string::npos;
}

}  // namespace

TEST_CASE("JetStream on one node: local API and streams, deliveries and acks across the route", "[cluster][jetstream]") {
  const auto dir = std::filesystem::temp_directory_path() / ("forest-js-cluster-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto a = start_node(NodeSpec{.impl = Impl::forest, .name = "JA", .extra = {"-js", "-sd", dir.string()}});
  auto b = start_node(NodeSpec{.impl = Impl::forest, .name = "JB", .routes = {a->route_url()}});
  require_mesh({a.get(), b.get()});

  Client ca(*a), cb(*b);
  REQUIRE(ca.ok());
  REQUIRE(cb.ok());
  ca.sub("_A.>", "1");
  cb.sub("_B.>", "1");
  cb.sub("deliver.b", "2");
  REQUIRE(ca.flush());
  REQUIRE(cb.flush());

  ca.pub("$JS.API.STREAM.CREATE.S", R"({"name":"S","subjects":["s.>"]})", "_A.create");
  auto created = ca.next();
  REQUIRE(created);
  CHECK(created->payload.find("\"did_create\":true") != std::string::npos);
  ca.pub("s.one", "1", "_A.ack1");
  auto ack = ca.next();
  REQUIRE(ack);
  CHECK(ack->payload.find("\"seq\":1") != std::string::npos);

  // From the other node: no responders for the API and for a stream subject.
  cb.pub("$JS.API.INFO", "", "_B.info");
  CHECK(is_no_responders(cb.next(std::chrono::seconds(2))));
  cb.pub("s.two", "2", "_B.ack2");
  CHECK(is_no_responders(cb.next(std::chrono::seconds(2))));

  // A push consumer on A whose deliver subject's subscriber is on B.
  ca.pub("$JS.API.CONSUMER.DURABLE.CREATE.S.P",
         R"({"stream_name":"S","config":{"durable_name":"P","deliver_subject":"deliver.b","ack_policy":"explicit"}})",
         "_A.cc");
  auto cc = ca.next();
  REQUIRE(cc);
  CHECK(cc->payload.find("\"name\":\"P\"") != std::string::npos);
  auto m = cb.next(std::chrono::seconds(5));
  REQUIRE(m);
  CHECK(m->subject == "s.one");  // the stored subject, carried over the route after '@'
  CHECK(m->payload == "1");
  CHECK(m->reply.rfind("$JS.ACK.S.P.1.1.1.", 0) == 0);
  cb.pub(m->reply, "+ACK", "_B.acked");  // an AckSync from the other node
  auto acked = cb.next(std::chrono::seconds(5));
  REQUIRE(acked);
  CHECK(acked->subject == "_B.acked");
  ca.pub("$JS.API.CONSUMER.INFO.S.P", "", "_A.info");
  auto info = ca.next();
  REQUIRE(info);
  CHECK(info->payload.find(R"("ack_floor":{"consumer_seq":1,"stream_seq":1)") != std::string::npos);
  CHECK(info->payload.find(R"("num_ack_pending":0)") != std::string::npos);

  ca.close();
  cb.close();
  b->stop();
  a->stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
