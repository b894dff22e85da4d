// Connection::publish_batch: many messages in one call, staged per in-process receiver and
// handed over once (broker/inprocess_stage.*). It must deliver what one publish() per message
// would, in order, to in-process and TCP subscribers alike, with the same limits, and nothing
// of a batch with an invalid message. The last case races batches against unsubscribes and
// closes of the receiver, for the sanitizer builds (entry lifetime, stagers_).
#include <catch2/catch.hpp>
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <forest/server.hpp>

#include "embed_support.hpp"

using namespace std::chrono_literals;
using forest::testing::eventually;

namespace {

std::vector<forest::Message> numbered(std::string_view subject, int n, int from = 0) {
  std::vector<forest::Message> out;
  for (int i = from; i < from + n; ++i) out.push_back(forest::Message{std::string(subject), "", "", std::to_string(i)});
  return out;
}

struct Collected {
  std::mutex mu;
  std::vector<std::string> data;
  void add(const forest::Message& m) {
    std::lock_guard lock(mu);
    data.push_back(m.data);
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return data.size();
  }
};

}  // namespace

TEST_CASE("publish_batch: in order to in-process and TCP subscribers, headers kept", "[embed][batch]") {
  forest::Server server(forest::testing::quiet_config());
  REQUIRE(server.start());
  auto pub = server.connect({.name = "batcher"});
  auto sub_conn = server.connect({.name = "receiver"});
  REQUIRE(pub);
  REQUIRE(sub_conn);
  Collected got, also;
  auto s1 = (*sub_conn)->subscribe("batch.>", [&](const forest::Message& m) { got.add(m); });
  auto s2 = (*pub)->subscribe("batch.b", [&](const forest::Message& m) { also.add(m); });  // echo: its own
  REQUIRE(s1);
  REQUIRE(s2);

  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, server.client_url().c_str()) == NATS_OK);
  natsSubscription* tsub = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&tsub, nc, "batch.>") == NATS_OK);
  REQUIRE(natsConnection_Flush(nc) == NATS_OK);

  std::vector<forest::Message> batch = numbered("batch.a", 300);
  for (int i = 0; i < 300; i += 3) batch[static_cast<std::size_t>(i)].subject = "batch.b";
  batch[7].headers = forest::Headers().add("X-Seven", "7").block();
  REQUIRE((*pub)->publish_batch(batch));

  REQUIRE(eventually([&] { return got.size() == 300 && also.size() == 100; }));
  {
    std::lock_guard lock(got.mu);
    for (int i = 0; i < 300; ++i) CHECK(got.data[static_cast<std::size_t>(i)] == std::to_string(i));
  }
  for (int i = 0; i < 300; ++i) {
    natsMsg* m = nullptr;
    REQUIRE(natsSubscription_NextMsg(&m, tsub, 5000) == NATS_OK);
    CHECK(std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))) == std::to_string(i));
    if (i == 7) {
      const char* v = nullptr;
      CHECK(natsMsgHeader_Get(m, "X-Seven", &v) == NATS_OK);
      CHECK(std::string(v != nullptr ? v : "") == "7");
    }
    natsMsg_Destroy(m);
  }
  CHECK((*pub)->publish_batch({}).has_value());  // an empty batch is no error
  natsSubscription_Destroy(tsub);
  natsConnection_Destroy(nc);
}

TEST_CASE("publish_batch: one invalid message publishes none; limits as for publish()", "[embed][batch]") {
  forest::Server server(forest::testing::quiet_config());
  REQUIRE(server.start());
  auto pub = server.connect({.name = "batcher"});
  REQUIRE(pub);
  auto slow_conn = server.connect({.name = "small-queue", .max_pending_msgs = 10, .on_event = {}});
  REQUIRE(slow_conn);
  std::atomic<bool> hold{true};
  std::atomic<bool> entered{false};
  Collected got;
  auto sub = (*slow_conn)->subscribe("limits.>", [&](const forest::Message& m) {
    entered = true;
    while (hold.load()) std::this_thread::sleep_for(1ms);
    got.add(m);
  });
  REQUIRE(sub);

  std::vector<forest::Message> bad = numbered("limits.ok", 5);
  bad[3].subject = "limits.*";
  auto r = (*pub)->publish_batch(bad);
  REQUIRE(!r);
  CHECK(r.error().text.find("message 3") != std::string::npos);
  REQUIRE((*pub)->publish("limits.marker", "m"));  // after the refused batch: the first to arrive
  REQUIRE(eventually([&] { return entered.load(); }));
  hold = false;
  REQUIRE((*slow_conn)->flush());
  {
    std::lock_guard lock(got.mu);
    CHECK(got.data == std::vector<std::string>{"m"});
  }
  hold = true;
  entered = false;

  // A receiver whose queue holds 10: the first message goes to its handler (held), ten queue,
  // the rest of a batch of 100 is dropped as a slow consumer's.
  REQUIRE((*pub)->publish("limits.first", "x"));
  REQUIRE(eventually([&] { return entered.load(); }));  // in its handler, out of the queue
  REQUIRE((*pub)->publish_batch(numbered("limits.many", 100)));
  CHECK((*slow_conn)->dropped() == 90);
  hold = false;
  REQUIRE((*slow_conn)->flush());
  CHECK(got.size() == 1 + 1 + 10);  // the marker, the first, ten of the batch
  std::lock_guard lock(got.mu);
  CHECK(got.data.back() == "9");
}

TEST_CASE("publish_batch: auto-unsubscribe stops at the maximum inside a batch", "[embed][batch]") {
  forest::Server server(forest::testing::quiet_config());
  REQUIRE(server.start());
  auto pub = server.connect({.name = "batcher"});
  auto conn = server.connect({.name = "limited"});
  REQUIRE(pub);
  REQUIRE(conn);
  Collected got;
  auto sub = (*conn)->subscribe("limited", [&](const forest::Message& m) { got.add(m); });
  REQUIRE(sub);
  REQUIRE(sub->auto_unsubscribe(5));
  REQUIRE((*pub)->publish_batch(numbered("limited", 50)));
  REQUIRE((*conn)->flush());
  std::this_thread::sleep_for(20ms);
  REQUIRE((*conn)->flush());
  CHECK(got.size() == 5);
  std::lock_guard lock(got.mu);
  CHECK(got.data == std::vector<std::string>{"0", "1", "2", "3", "4"});
}

TEST_CASE("publish_batch: requests nobody takes get no-responders", "[embed][batch]") {
  forest::Server server(forest::testing::quiet_config());
  REQUIRE(server.start());
  auto conn = server.connect({.name = "asker"});
  REQUIRE(conn);
  Collected statuses;
  std::atomic<int> status_503{0};
  auto inbox = (*conn)->subscribe("answers.*", [&](const forest::Message& m) {
    if (m.status() == 503) ++status_503;
    statuses.add(m);
  });
  REQUIRE(inbox);
  std::vector<forest::Message> asks;
  for (int i = 0; i < 3; ++i) asks.push_back(forest::Message{"nobody.home", "answers." + std::to_string(i), "", "?"});
  REQUIRE((*conn)->publish_batch(asks));
  REQUIRE(eventually([&] { return status_503.load() == 3; }));
}

TEST_CASE("publish_batch: a run on one subject gives each queue group one copy of each message", "[embed][batch]") {
  // Runs of one subject are routed as one (broker/publish.hpp, route_run); queue members are
  // still picked per message, across in-process and TCP members alike.
  forest::Server server(forest::testing::quiet_config());
  REQUIRE(server.start());
  auto pub = server.connect({.name = "batcher"});
  auto members = server.connect({.name = "members"});
  auto plain_conn = server.connect({.name = "plain"});
  REQUIRE(pub);
  REQUIRE(members);
  REQUIRE(plain_conn);
  Collected m1, m2, plain;
  auto q1 = (*members)->queue_subscribe("work.run", "workers", [&](const forest::Message& m) { m1.add(m); });
  auto q2 = (*members)->queue_subscribe("work.run", "workers", [&](const forest::Message& m) { m2.add(m); });
  auto p = (*plain_conn)->subscribe("work.run", [&](const forest::Message& m) { plain.add(m); });
  REQUIRE(q1);
  REQUIRE(q2);
  REQUIRE(p);
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, server.client_url().c_str()) == NATS_OK);
  natsSubscription* tq = nullptr;
  REQUIRE(natsConnection_QueueSubscribeSync(&tq, nc, "work.run", "workers") == NATS_OK);
  REQUIRE(natsConnection_Flush(nc) == NATS_OK);

  constexpr int kMsgs = 300;
  REQUIRE((*pub)->publish_batch(numbered("work.run", kMsgs)));
  REQUIRE(eventually([&] { return plain.size() == kMsgs; }));
  // The TCP member's share: read until a quiet 200 ms.
  std::size_t tcp_got = 0;
  for (natsMsg* m = nullptr; natsSubscription_NextMsg(&m, tq, 200) == NATS_OK; m = nullptr) {
    ++tcp_got;
    natsMsg_Destroy(m);
  }
  REQUIRE((*members)->flush());
  CHECK(m1.size() + m2.size() + tcp_got == kMsgs);  // each message once in the group
  // Picked at random per message: with 300 messages each of three members gets some.
  CHECK(m1.size() > 0);
  CHECK(m2.size() > 0);
  CHECK(tcp_got > 0);
  {
    std::lock_guard lock(plain.mu);
    for (int i = 0; i < kMsgs; ++i) CHECK(plain.data[static_cast<std::size_t>(i)] == std::to_string(i));
  }
  natsSubscription_Destroy(tq);
  natsConnection_Destroy(nc);
}

TEST_CASE("publish_batch: a run skips the publisher's own subscription when echo is off", "[embed][batch]") {
  forest::Server server(forest::testing::quiet_config());
  REQUIRE(server.start());
  auto pub = server.connect({.name = "quiet", .echo = false});
  auto other = server.connect({.name = "other"});
  REQUIRE(pub);
  REQUIRE(other);
  Collected own, theirs;
  auto s1 = (*pub)->subscribe("echo.run", [&](const forest::Message& m) { own.add(m); });
  auto s2 = (*other)->subscribe("echo.run", [&](const forest::Message& m) { theirs.add(m); });
  REQUIRE(s1);
  REQUIRE(s2);
  REQUIRE((*pub)->publish_batch(numbered("echo.run", 50)));
  REQUIRE(eventually([&] { return theirs.size() == 50; }));
  REQUIRE((*pub)->flush());
  CHECK(own.size() == 0);
}

TEST_CASE("publish_batch: batches racing unsubscribes and closes of the receiver", "[embed][batch]") {
  forest::Server server(forest::testing::quiet_config());
  REQUIRE(server.start());
  auto pub = server.connect({.name = "batcher"});
  REQUIRE(pub);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> batches{0};
  std::thread publisher([&] {
    const auto batch = numbered("race.x", 32);
    while (!stop.load()) {
      if ((*pub)->publish_batch(batch)) ++batches;
    }
  });
  std::atomic<uint64_t> handled{0};
  for (int round = 0; round < 40; ++round) {
    auto conn = server.connect({.name = "churn"});
    REQUIRE(conn);
    for (int i = 0; i < 5; ++i) {
      auto sub = (*conn)->subscribe("race.>", [&](const forest::Message&) { ++handled; });
      REQUIRE(sub);
      std::this_thread::sleep_for(1ms);
      if (i % 2 == 0) REQUIRE(sub->unsubscribe());  // else: left for the close
    }
    (*conn)->close();  // with subscriptions and maybe staged messages in flight
  }
  stop = true;
  publisher.join();
  CHECK(batches.load() > 0);
  CHECK(handled.load() > 0);
}

TEST_CASE("publish: single messages racing unsubscribes and closes of the receiver", "[embed][batch]") {
  // The per-message path posts the receiver's wake-up under its lock, so nothing is posted to
  // a dispatch thread its owner stopped after close() (TSan and ASan builds check this case).
  forest::Server server(forest::testing::quiet_config());
  REQUIRE(server.start());
  auto pub = server.connect({.name = "single"});
  REQUIRE(pub);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};
  std::thread publisher([&] {
    while (!stop.load()) {
      if ((*pub)->publish("race.single", "x")) ++published;
    }
  });
  std::atomic<uint64_t> handled{0};
  for (int round = 0; round < 40; ++round) {
    auto conn = server.connect({.name = "churn"});
    REQUIRE(conn);
    for (int i = 0; i < 5; ++i) {
      auto sub = (*conn)->subscribe("race.>", [&](const forest::Message&) { ++handled; });
      REQUIRE(sub);
      std::this_thread::sleep_for(1ms);
      if (i % 2 == 0) REQUIRE(sub->unsubscribe());
    }
    (*conn)->close();
  }
  stop = true;
  publisher.join();
  CHECK(published.load() > 0);
  CHECK(handled.load() > 0);
}
