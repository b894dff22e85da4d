// Consumers on both stores: start positions, limits and work-queue rules, ack state under
// every ack policy, what removals and purges do to it, persistence, and the retention hooks
// (interest skip, needs_ack).

#include "store_fixture.hpp"

using namespace storage_test;

namespace {

void fill(Fixture& f, int n) {
  for (int i = 1; i <= n; ++i) {
    ok(*f, store_op("S", i % 2 ? "foo.a" : "foo.b", std::to_string(i), t0 + i));
  }
}

std::uint64_t start_of(Fixture& f, ConsumerConfig c) { return ok(*f, consumer_create_op("S", c)).seq.value; }

std::vector<std::uint64_t> pending_seqs(const ConsumerState& s) {
  std::vector<std::uint64_t> out;
  for (const auto& [q, p] : s.pending) out.push_back(q.value);
  return out;
}

}  // namespace

TEST_CASE("consumers: start positions", "[storage]") {
  FOR_EACH_STORE(f);
  ok(*f, create_op(stream_config("S")));
  SECTION("on a stream that never had a message everything starts at 1") {
    CHECK(start_of(f, consumer_config("A")) == 1);
    CHECK(start_of(f, consumer_config("N", AckPolicy::explicit_ack, DeliverPolicy::new_msgs)) == 1);
    CHECK(cstate(*f, "S", "A").delivered == SequencePair{ConsumerSeq(0), StreamSeq(0)});
  }
  SECTION("policies on a stream 3..10") {
    fill(f, 10);
    ok(*f, purge_op("S", "", 3));
    CHECK(start_of(f, consumer_config("all")) == 3);
    CHECK(cstate(*f, "S", "all").delivered.stream.value == 2);
    // nats-server's consumer store: the floor stays 0 until an ack; with ack none it follows
    // delivery, so it starts below the first message too.
    CHECK(cstate(*f, "S", "all").ack_floor.stream.value == 0);
    CHECK(start_of(f, consumer_config("none", AckPolicy::none)) == 3);
    CHECK(cstate(*f, "S", "none").ack_floor.stream.value == 2);
    CHECK(start_of(f, consumer_config("last", AckPolicy::explicit_ack, DeliverPolicy::last)) == 10);
    CHECK(start_of(f, consumer_config("last-a", AckPolicy::explicit_ack, DeliverPolicy::last, "foo.a")) == 9);
    CHECK(start_of(f, consumer_config("new", AckPolicy::explicit_ack, DeliverPolicy::new_msgs)) == 11);
    CHECK(start_of(f, consumer_config("lps", AckPolicy::explicit_ack, DeliverPolicy::last_per_subject)) == 9);
    auto by_seq = consumer_config("seq5", AckPolicy::explicit_ack, DeliverPolicy::by_start_sequence);
    by_seq.opt_start_seq = StreamSeq(5);
    CHECK(start_of(f, by_seq) == 5);
    by_seq.name = "seq1";
    by_seq.opt_start_seq = StreamSeq(1);
    CHECK(start_of(f, by_seq) == 3);
    by_seq.name = "seq50";
    by_seq.opt_start_seq = StreamSeq(50);
    CHECK(start_of(f, by_seq) == 11);
    auto by_time = consumer_config("time", AckPolicy::explicit_ack, DeliverPolicy::by_start_time);
    by_time.opt_start_time_ns = t0 + 6;
    CHECK(start_of(f, by_time) == 6);
    CHECK(state(*f, "S").consumer_count == 10);
    CHECK(f->consumer_names("S").value().front() == "all");
  }
}

TEST_CASE("consumers: create rules", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  SECTION("max_consumers counts public consumers only; names are unique") {
    cfg.max_consumers = 2;
    ok(*f, create_op(cfg));
    ok(*f, consumer_create_op("S", consumer_config("A")));
    ok(*f, consumer_create_op("S", consumer_config("A")));  // same config: the existing one
    CHECK(rejected(*f, consumer_create_op("S", consumer_config("A", AckPolicy::all))) == Errc::consumer_exists);
    ok(*f, consumer_create_op("S", consumer_config("B")));
    CHECK(rejected(*f, consumer_create_op("S", consumer_config("C"))) == Errc::max_consumers);
    auto direct = consumer_config("mirror");
    direct.direct = true;
    ok(*f, consumer_create_op("S", direct));
    CHECK(rejected(*f, consumer_create_op("S", consumer_config(""))) == Errc::invalid_argument);
    CHECK(rejected(*f, consumer_create_op("T", consumer_config("X"))) == Errc::stream_not_found);
  }
  SECTION("work-queue streams") {
    cfg.retention = Retention::workqueue;
    ok(*f, create_op(cfg));
    CHECK(rejected(*f, consumer_create_op("S", consumer_config("A", AckPolicy::none))) ==
          Errc::wq_requires_explicit_ack);
    ok(*f, consumer_create_op("S", consumer_config("A", AckPolicy::explicit_ack, DeliverPolicy::all, "foo.a")));
    CHECK(rejected(*f, consumer_create_op("S", consumer_config("B"))) == Errc::wq_multiple_unfiltered);
    CHECK(rejected(*f, consumer_create_op("S", consumer_config("B", AckPolicy::explicit_ack, DeliverPolicy::all,
                                                                "foo.>"))) == Errc::wq_not_unique);
    CHECK(rejected(*f, consumer_create_op("S", consumer_config("B", AckPolicy::explicit_ack, DeliverPolicy::last,
                                                                "foo.b"))) == Errc::wq_not_deliver_all);
    ok(*f, consumer_create_op("S", consumer_config("B", AckPolicy::explicit_ack, DeliverPolicy::all, "foo.b")));
    auto direct = consumer_config("src", AckPolicy::none, DeliverPolicy::last);
    direct.direct = true;
    ok(*f, consumer_create_op("S", direct));
  }
}

TEST_CASE("consumers: explicit ack state", "[storage]") {
  FOR_EACH_STORE(f);
  ok(*f, create_op(stream_config("S")));
  fill(f, 6);
  ok(*f, consumer_create_op("S", consumer_config("C")));
  for (std::uint64_t i = 1; i <= 3; ++i) ok(*f, delivered_op("S", "C", i, i, 1, t0 + static_cast<UnixNanos>(i)));
  auto s = cstate(*f, "S", "C");
  CHECK(pending_seqs(s) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(s.pending.at(StreamSeq(2)) == PendingAck{ConsumerSeq(2), t0 + 2});
  CHECK(s.delivered == SequencePair{ConsumerSeq(3), StreamSeq(3)});
  // Acking above a hole leaves the floor; filling the hole moves it to the next pending.
  ok(*f, ack_op("S", "C", 2, 2));
  CHECK(cstate(*f, "S", "C").ack_floor == SequencePair{ConsumerSeq(0), StreamSeq(0)});
  ok(*f, ack_op("S", "C", 1, 1));
  CHECK(cstate(*f, "S", "C").ack_floor == SequencePair{ConsumerSeq(2), StreamSeq(2)});
  CHECK(rejected(*f, ack_op("S", "C", 2, 2)) == Errc::message_not_found);
  ok(*f, ack_op("S", "C", 3, 3));
  s = cstate(*f, "S", "C");
  CHECK(s.pending.empty());
  CHECK(s.ack_floor == SequencePair{ConsumerSeq(3), StreamSeq(3)});
  // A redelivery updates pending and counts.
  ok(*f, delivered_op("S", "C", 4, 4));
  ok(*f, delivered_op("S", "C", 5, 4, 2, t0 + 50));
  s = cstate(*f, "S", "C");
  CHECK(s.pending.at(StreamSeq(4)) == PendingAck{ConsumerSeq(5), t0 + 50});
  CHECK(s.redelivered.at(StreamSeq(4)) == 1);
  CHECK(s.delivered == SequencePair{ConsumerSeq(5), StreamSeq(4)});
  // Nak moves the pending time stamp; term drops it like an ack.
  ok(*f, delivered_op("S", "C", 6, 5));
  ok(*f, delivered_op("S", "C", 7, 6));
  ok(*f, Op{"S", ConsumerNakOp{"C", StreamSeq(5), t0 - 100}});
  CHECK(cstate(*f, "S", "C").pending.at(StreamSeq(5)).timestamp_ns == t0 - 100);
  CHECK(rejected(*f, Op{"S", ConsumerNakOp{"C", StreamSeq(1), t0}}) == Errc::message_not_found);
  ok(*f, Op{"S", ConsumerTermOp{"C", ConsumerSeq(6), StreamSeq(5)}});
  CHECK(pending_seqs(cstate(*f, "S", "C")) == std::vector<std::uint64_t>{4, 6});
  f.reopen();
  s = cstate(*f, "S", "C");
  CHECK(pending_seqs(s) == std::vector<std::uint64_t>{4, 6});
  CHECK(s.redelivered.at(StreamSeq(4)) == 1);
  CHECK(s.delivered == SequencePair{ConsumerSeq(7), StreamSeq(6)});
  ok(*f, ack_op("S", "C", 5, 4));
  ok(*f, ack_op("S", "C", 7, 6));
  s = cstate(*f, "S", "C");
  CHECK(s.pending.empty());
  CHECK(s.redelivered.empty());
  CHECK(s.ack_floor == SequencePair{ConsumerSeq(7), StreamSeq(6)});
  CHECK(rejected(*f, ack_op("S", "nope", 1, 1)) == Errc::consumer_not_found);
  // A late redelivery of an acknowledged message neither re-pends nor counts it.
  ok(*f, delivered_op("S", "C", 8, 4, 3));
  s = cstate(*f, "S", "C");
  CHECK(s.pending.empty());
  CHECK(s.redelivered.empty());
  CHECK(s.delivered == SequencePair{ConsumerSeq(8), StreamSeq(6)});
}

TEST_CASE("consumers: ack all and ack none", "[storage]") {
  FOR_EACH_STORE(f);
  ok(*f, create_op(stream_config("S")));
  fill(f, 5);
  SECTION("ack all acknowledges everything up to the sequence") {
    ok(*f, consumer_create_op("S", consumer_config("C", AckPolicy::all)));
    for (std::uint64_t i = 1; i <= 5; ++i) ok(*f, delivered_op("S", "C", i, i));
    ok(*f, delivered_op("S", "C", 6, 2, 2));
    ok(*f, ack_op("S", "C", 3, 3));
    auto s = cstate(*f, "S", "C");
    CHECK(pending_seqs(s) == std::vector<std::uint64_t>{4, 5});
    CHECK(s.redelivered.empty());
    CHECK(s.ack_floor == SequencePair{ConsumerSeq(3), StreamSeq(3)});
    f.reopen();
    CHECK(pending_seqs(cstate(*f, "S", "C")) == std::vector<std::uint64_t>{4, 5});
  }
  SECTION("ack none moves the floor with each delivery") {
    ok(*f, consumer_create_op("S", consumer_config("C", AckPolicy::none)));
    ok(*f, delivered_op("S", "C", 1, 1));
    ok(*f, delivered_op("S", "C", 2, 3));
    auto s = cstate(*f, "S", "C");
    CHECK(s.pending.empty());
    CHECK(s.ack_floor == SequencePair{ConsumerSeq(2), StreamSeq(3)});
    CHECK(rejected(*f, ack_op("S", "C", 2, 3)) == Errc::no_ack_policy);
    CHECK(rejected(*f, delivered_op("S", "C", 3, 3, 2)) == Errc::no_ack_policy);
    CHECK(rejected(*f, Op{"S", ConsumerTermOp{"C", ConsumerSeq(2), StreamSeq(3)}}) == Errc::no_ack_policy);
  }
}

TEST_CASE("consumers: removals, purges, update and delete", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  cfg.max_msgs = 10;
  ok(*f, create_op(cfg));
  fill(f, 10);
  ok(*f, consumer_create_op("S", consumer_config("C")));
  ok(*f, consumer_create_op("S", consumer_config("A", AckPolicy::explicit_ack, DeliverPolicy::all, "foo.a")));
  ok(*f, delivered_op("S", "C", 1, 1));
  ok(*f, delivered_op("S", "C", 2, 2));
  ok(*f, delivered_op("S", "A", 1, 1));
  SECTION("a message leaving the stream leaves pending") {
    auto r = ok(*f, delete_op("S", 1));
    CHECK(r.consumers_changed == std::vector<std::string>{"A", "C"});
    auto c = cstate(*f, "S", "C");
    CHECK(pending_seqs(c) == std::vector<std::uint64_t>{2});
    CHECK(c.ack_floor == SequencePair{ConsumerSeq(1), StreamSeq(1)});
    CHECK(cstate(*f, "S", "A").pending.empty());
    // max_msgs drops 2 with the second next store.
    CHECK(ok(*f, store_op("S", "foo.b", "11")).consumers_changed.empty());
    r = ok(*f, store_op("S", "foo.b", "12"));
    CHECK(r.consumers_changed == std::vector<std::string>{"C"});
    CHECK(cstate(*f, "S", "C").pending.empty());
    f.reopen();
    CHECK(cstate(*f, "S", "C").pending.empty());
    CHECK(cstate(*f, "S", "C").ack_floor == SequencePair{ConsumerSeq(2), StreamSeq(2)});
  }
  SECTION("a full purge moves every cursor past the end") {
    ok(*f, purge_op("S"));
    for (const char* name : {"C", "A"}) {
      auto c = cstate(*f, "S", name);
      CHECK(c.pending.empty());
      CHECK(c.delivered.stream.value == 10);
      CHECK(c.ack_floor.stream.value == 10);
    }
  }
  SECTION("a subject purge moves the consumers it covers only") {
    ok(*f, purge_op("S", "foo.a"));
    auto a = cstate(*f, "S", "A");
    CHECK(a.pending.empty());
    CHECK(a.delivered.stream.value == 10);
    auto c = cstate(*f, "S", "C");
    CHECK(pending_seqs(c) == std::vector<std::uint64_t>{2});  // 1 was foo.a and is gone
    CHECK(c.delivered.stream.value == 2);
  }
  SECTION("update keeps the state, delete removes the consumer") {
    auto changed = consumer_config("C");
    changed.api_json = R"({"description":"x"})";
    ok(*f, Op{"S", ConsumerUpdateOp{changed}});
    auto ci = f->consumer_info("S", "C");
    REQUIRE(ci.has_value());
    CHECK(ci->config.api_json == changed.api_json);
    CHECK(pending_seqs(ci->state) == std::vector<std::uint64_t>{1, 2});
    ok(*f, Op{"S", ConsumerDeleteOp{"C"}});
    CHECK(f->consumer_info("S", "C").error().code == Errc::consumer_not_found);
    CHECK(rejected(*f, Op{"S", ConsumerDeleteOp{"C"}}) == Errc::consumer_not_found);
    f.reopen();
    CHECK(f->consumer_names("S").value() == std::vector<std::string>{"A"});
    CHECK(state(*f, "S").consumer_count == 1);
    // A new consumer of the same name starts fresh.
    ok(*f, consumer_create_op("S", consumer_config("C")));
    CHECK(cstate(*f, "S", "C").pending.empty());
  }
}

TEST_CASE("consumers: interest retention and needs_ack", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  cfg.retention = Retention::interest;
  ok(*f, create_op(cfg));
  // No consumer: the sequence is used, nothing is stored (nats-server's SkipMsg).
  auto r = ok(*f, store_op("S", "foo.a", "1"));
  CHECK(r.skipped);
  CHECK(r.seq.value == 1);
  auto st = state(*f, "S");
  CHECK(st.msgs == 0);
  CHECK(st.first_seq.value == 2);
  CHECK(st.last_seq.value == 1);
  ok(*f, consumer_create_op("S", consumer_config("A", AckPolicy::explicit_ack, DeliverPolicy::all, "foo.a")));
  CHECK(ok(*f, store_op("S", "foo.b", "2")).skipped);
  CHECK_FALSE(ok(*f, store_op("S", "foo.a", "3")).skipped);
  ok(*f, consumer_create_op("S", consumer_config("B")));
  ok(*f, store_op("S", "foo.b", "4"));
  CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{3, 4});

  CHECK(f->needs_ack("S", StreamSeq(3)).value());
  CHECK(f->needs_ack("S", StreamSeq(4)).value());
  CHECK_FALSE(f->needs_ack("S", StreamSeq(4), "B").value());  // A does not see foo.b
  ok(*f, delivered_op("S", "B", 1, 3));
  ok(*f, delivered_op("S", "B", 2, 4));
  CHECK(f->needs_ack("S", StreamSeq(4)).value());  // delivered, not acknowledged
  ok(*f, ack_op("S", "B", 2, 4));
  CHECK_FALSE(f->needs_ack("S", StreamSeq(4)).value());
  // The caller then removes it as the retention policy says.
  ok(*f, delete_op("S", 4, false, DeleteReason::retention));
  ok(*f, delivered_op("S", "A", 1, 3));
  ok(*f, ack_op("S", "A", 1, 3));
  CHECK(f->needs_ack("S", StreamSeq(3)).value());  // B has it pending
  CHECK_FALSE(f->needs_ack("S", StreamSeq(3), "B").value());
  CHECK(f->needs_ack("S", StreamSeq(4)).error().code == Errc::message_not_found);
  // The default implementation (through the public reads) agrees.
  CHECK(f->StreamStore::needs_ack("S", StreamSeq(3)).value());
  CHECK_FALSE(f->StreamStore::needs_ack("S", StreamSeq(3), "B").value());
}
