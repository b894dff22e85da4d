// Messages on both stores: sequences, limits of every kind, discard policies, dedupe,
// expected-* headers, rollups, purge, delete/erase, expiry. Expected values follow
// nats-server 2.9.10's memstore/filestore and stream.go.

#include "store_fixture.hpp"

using namespace storage_test;

namespace {
// File-storage accounting of a message without headers (filestore.go fileStoreMsgSize).
constexpr std::uint64_t fsize(std::size_t subject, std::size_t data) { return 22 + subject + data + 8; }
}  // namespace

TEST_CASE("store: sequences, state and loads", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  ok(*f, create_op(cfg));
  SECTION("a new stream is empty at sequence 0") {
    auto st = state(*f, "S");
    CHECK(st.msgs == 0);
    CHECK(st.first_seq.value == 0);
    CHECK(st.last_seq.value == 0);
    CHECK(rejected(*f, Op{"S", DeleteMsgOp{StreamSeq(1)}}) == Errc::end_of_stream);
    auto next = f->load_next("S", "", StreamSeq(1));
    REQUIRE(next.has_value());
    CHECK(!next->has_value());
  }
  SECTION("stores get consecutive sequences; counts and bytes follow") {
    for (int i = 1; i <= 3; ++i) {
      auto r = ok(*f, store_op("S", "foo.a", cat("m", num(i)), t0 + i));
      CHECK(r.seq.value == static_cast<std::uint64_t>(i));
      CHECK(r.time_ns == t0 + i);
      CHECK_FALSE(r.duplicate);
    }
    auto st = state(*f, "S");
    CHECK(st.msgs == 3);
    CHECK(st.bytes == 3 * fsize(5, 2));
    CHECK(st.first_seq.value == 1);
    CHECK(st.first_ts_ns == t0 + 1);
    CHECK(st.last_seq.value == 3);
    CHECK(st.last_ts_ns == t0 + 3);
    CHECK(st.num_subjects == 1);
    CHECK(st.num_deleted == 0);
    auto m = f->load("S", StreamSeq(2));
    REQUIRE(m.has_value());
    CHECK(m->subject == "foo.a");
    CHECK(m->data == "m2");
    CHECK(m->time_ns == t0 + 2);
    CHECK(f->load("S", StreamSeq(4)).error().code == Errc::end_of_stream);
    CHECK(f->load("S", StreamSeq(0)).error().code == Errc::message_not_found);
    CHECK(f->load("T", StreamSeq(1)).error().code == Errc::stream_not_found);
    check_consistent(*f, "S");
  }
  SECTION("headers are stored as given and counted as nats-server counts them") {
    StoreMsgOp m = msg("foo.h", "body");
    m.headers = "NATS/1.0\r\nA: b\r\n\r\n";
    ok(*f, store_op("S", m));
    auto got = f->load("S", StreamSeq(1));
    REQUIRE(got.has_value());
    CHECK(got->headers == m.headers);
    CHECK(state(*f, "S").bytes == 22 + 5 + 4 + m.headers.size() + 4 + 8);
  }
  SECTION("memory storage counts bytes as memstore does") {
    auto mcfg = stream_config("M", {"mem.>"});
    mcfg.storage = StorageType::memory;
    ok(*f, create_op(mcfg));
    ok(*f, store_op("M", "mem.a", "xyz"));
    CHECK(state(*f, "M").bytes == 5 + 3 + 16);
  }
  SECTION("create is idempotent for the same config, refused for another; delete removes everything") {
    ok(*f, create_op(cfg));
    auto other = cfg;
    other.max_msgs = 5;
    CHECK(rejected(*f, create_op(other)) == Errc::stream_exists);
    ok(*f, store_op("S", "foo.a", "x"));
    ok(*f, consumer_create_op("S", consumer_config("C")));
    ok(*f, Op{"S", StreamDeleteOp{}});
    CHECK(f->stream_names().empty());
    CHECK(rejected(*f, store_op("S", "foo.a", "x")) == Errc::stream_not_found);
    // A new stream of the same name starts from scratch.
    ok(*f, create_op(cfg));
    CHECK(ok(*f, store_op("S", "foo.a", "y")).seq.value == 1);
    CHECK(state(*f, "S").consumer_count == 0);
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{1});
  }
  SECTION("a mirror's copy keeps its origin's sequence; the ones between are deleted") {
    auto at = [](std::uint64_t seq, const char* data) {
      Op op = store_op("S", "foo.a", data);
      std::get<StoreMsgOp>(op.body).at_seq = StreamSeq(seq);
      return op;
    };
    CHECK(ok(*f, at(5, "five")).seq.value == 5);
    auto st = state(*f, "S");
    CHECK(st.first_seq.value == 5);
    CHECK(st.last_seq.value == 5);
    CHECK(st.msgs == 1);
    CHECK(ok(*f, at(8, "eight")).seq.value == 8);
    st = state(*f, "S");
    CHECK(st.msgs == 2);
    CHECK(st.num_deleted == 2);
    CHECK(rejected(*f, at(8, "again")) == Errc::wrong_last_sequence);
    CHECK(rejected(*f, at(6, "behind")) == Errc::wrong_last_sequence);
    CHECK(f->load("S", StreamSeq(6)).error().code == Errc::message_not_found);
    CHECK(ok(*f, store_op("S", "foo.a", "next")).seq.value == 9);  // a plain store goes on after it
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{5, 8, 9});
    check_consistent(*f, "S");
  }
  SECTION("bad input is refused, not stored") {
    CHECK(rejected(*f, store_op("S", "", "x")) == Errc::invalid_argument);
    CHECK(rejected(*f, store_op("S", std::string("a\0b", 3), "x")) == Errc::invalid_argument);
    CHECK(rejected(*f, store_op("S", "foo.*", "x")) == Errc::invalid_argument);
    CHECK(rejected(*f, Op{"", StreamDeleteOp{}}) == Errc::invalid_argument);
    auto wrong = cfg;
    wrong.name = "other";
    CHECK(rejected(*f, Op{"S2", StreamCreateOp{wrong, t0}}) == Errc::invalid_argument);
    CHECK(state(*f, "S").last_seq.value == 0);
  }
}

TEST_CASE("store: max_msgs and max_bytes with discard old", "[storage]") {
  FOR_EACH_STORE(f);
  SECTION("max_msgs drops the oldest") {
    auto cfg = stream_config("S");
    cfg.max_msgs = 3;
    ok(*f, create_op(cfg));
    for (int i = 1; i <= 3; ++i) ok(*f, store_op("S", "foo.a", "x"));
    auto r = ok(*f, store_op("S", "foo.b", "x"));
    CHECK(r.seq.value == 4);
    CHECK(r.removed_msgs == 1);
    CHECK(r.removed_bytes == fsize(5, 1));
    REQUIRE(r.removed.size() == 1);
    CHECK(r.removed[0] == SeqRange{StreamSeq(1), StreamSeq(1)});
    ok(*f, store_op("S", "foo.b", "x"));
    auto st = state(*f, "S");
    CHECK(st.msgs == 3);
    CHECK(st.first_seq.value == 3);
    CHECK(st.last_seq.value == 5);
    CHECK(f->load("S", StreamSeq(2)).error().code == Errc::message_not_found);
    check_consistent(*f, "S");
  }
  SECTION("max_bytes drops the oldest until under the limit") {
    auto cfg = stream_config("S");
    cfg.max_bytes = static_cast<std::int64_t>(2 * fsize(5, 10) + 5);
    ok(*f, create_op(cfg));
    for (int i = 0; i < 4; ++i) ok(*f, store_op("S", "foo.a", std::string(10, 'x')));
    auto st = state(*f, "S");
    CHECK(st.msgs == 2);
    CHECK(st.bytes == 2 * fsize(5, 10));
    CHECK(st.first_seq.value == 3);
    // A message bigger than max_bytes on its own is stored and dropped at once (as the
    // reference stores it, then enforces the limit): its sequence is used.
    auto r = ok(*f, store_op("S", "foo.b", std::string(200, 'y')));
    CHECK(r.seq.value == 5);
    st = state(*f, "S");
    CHECK(st.msgs == 0);
    CHECK(st.first_seq.value == 6);
    CHECK(st.last_seq.value == 5);
    check_consistent(*f, "S");
  }
  SECTION("lowering the limits in an update applies them at once") {
    auto cfg = stream_config("S");
    ok(*f, create_op(cfg));
    for (int i = 0; i < 10; ++i) ok(*f, store_op("S", cat("foo.", num(i % 3)), "x"));
    cfg.max_msgs = 4;
    auto r = ok(*f, update_op(cfg));
    CHECK(r.removed_msgs == 6);
    CHECK(state(*f, "S").first_seq.value == 7);
    CHECK(f->stream_meta("S")->config.max_msgs == 4);
    cfg.max_msgs_per_subject = 1;
    ok(*f, update_op(cfg));
    // 7: foo.0, 8: foo.1, 9: foo.2, 10: foo.0 -> 7 goes.
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{8, 9, 10});
    check_consistent(*f, "S");
    auto changed = cfg;
    changed.storage = StorageType::memory;
    CHECK(rejected(*f, update_op(changed)) == Errc::invalid_argument);
  }
}

TEST_CASE("store: discard new", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  cfg.discard = Discard::new_msgs;
  SECTION("max_msgs refuses new messages and leaves the stream as it was") {
    cfg.max_msgs = 2;
    ok(*f, create_op(cfg));
    ok(*f, store_op("S", "foo.a", "1"));
    ok(*f, store_op("S", "foo.b", "2"));
    auto before = dump(*f);
    CHECK(rejected(*f, store_op("S", "foo.c", "3")) == Errc::max_msgs);
    CHECK(dump(*f) == before);
    CHECK(state(*f, "S").last_seq.value == 2);
  }
  SECTION("max_bytes refuses what would reach the limit") {
    cfg.max_bytes = 100;
    ok(*f, create_op(cfg));
    ok(*f, store_op("S", "foo.a", std::string(40, 'x')));  // 75 bytes stored
    // nats-server's check: bytes + len(hdr)+len(msg) >= max_bytes refuses.
    CHECK(rejected(*f, store_op("S", "foo.a", std::string(25, 'x'))) == Errc::max_bytes);
    ok(*f, store_op("S", "foo.a", std::string(24, 'x')));
    // Stored bytes are then over the limit; the oldest goes (limits still apply).
    auto st = state(*f, "S");
    CHECK(st.msgs == 1);
    CHECK(st.first_seq.value == 2);
  }
  SECTION("per-subject limit: discard new per subject refuses, otherwise the oldest is replaced") {
    cfg.max_msgs_per_subject = 1;
    cfg.max_msgs = 2;
    SECTION("discard_new_per_subject") {
      cfg.discard_new_per_subject = true;
      ok(*f, create_op(cfg));
      ok(*f, store_op("S", "foo.a", "1"));
      CHECK(rejected(*f, store_op("S", "foo.a", "2")) == Errc::max_msgs_per_subject);
      ok(*f, store_op("S", "foo.b", "3"));
      CHECK(rejected(*f, store_op("S", "foo.c", "4")) == Errc::max_msgs);
    }
    SECTION("replacing at the stream limit is allowed") {
      ok(*f, create_op(cfg));
      ok(*f, store_op("S", "foo.a", "1"));
      ok(*f, store_op("S", "foo.b", "2"));
      CHECK(rejected(*f, store_op("S", "foo.c", "3")) == Errc::max_msgs);
      auto r = ok(*f, store_op("S", "foo.a", "4"));
      CHECK(r.seq.value == 3);
      CHECK(r.removed_msgs == 1);
      CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{2, 3});
      check_consistent(*f, "S");
    }
  }
}

TEST_CASE("store: message size limits", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  cfg.max_msg_size = 10;
  ok(*f, create_op(cfg));
  ok(*f, store_op("S", "foo.a", std::string(10, 'x')));
  CHECK(rejected(*f, store_op("S", "foo.a", std::string(11, 'x'))) == Errc::msg_too_large);
  StoreMsgOp m = msg("foo.a", "");
  m.headers = std::string(8, 'h');
  m.data = "xyz";
  CHECK(rejected(*f, store_op("S", m)) == Errc::msg_too_large);
  cfg.max_msg_size = -1;
  ok(*f, update_op(cfg));
  m.headers = std::string(65536, 'h');
  CHECK(rejected(*f, store_op("S", m)) == Errc::header_too_large);
  m.headers.resize(65535);
  ok(*f, store_op("S", m));
  CHECK(state(*f, "S").msgs == 2);
}

TEST_CASE("store: max_msgs_per_subject with discard old", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  cfg.max_msgs_per_subject = 2;
  ok(*f, create_op(cfg));
  for (const char* s : {"foo.a", "foo.b", "foo.a", "foo.a", "foo.b", "foo.a", "foo.c"}) ok(*f, store_op("S", s, "x"));
  // a: 1,3,4,6 -> 4,6; b: 2,5; c: 7
  CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{2, 4, 5, 6, 7});
  auto subs = f->subjects_state("S", ">");
  REQUIRE(subs.has_value());
  CHECK(subs->at("foo.a") == SubjectState{2, StreamSeq(4), StreamSeq(6)});
  CHECK(subs->at("foo.b") == SubjectState{2, StreamSeq(2), StreamSeq(5)});
  CHECK(subs->at("foo.c") == SubjectState{1, StreamSeq(7), StreamSeq(7)});
  auto st = state(*f, "S", true);
  CHECK(st.first_seq.value == 2);
  CHECK(st.num_deleted == 1);
  CHECK(st.deleted == std::vector<StreamSeq>{StreamSeq(3)});
  check_consistent(*f, "S");
  f.reopen();
  CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{2, 4, 5, 6, 7});
  ok(*f, store_op("S", "foo.b", "x"));  // 8 replaces 2
  CHECK(state(*f, "S").first_seq.value == 4);
  check_consistent(*f, "S");
}

TEST_CASE("store: max_age expiry through ExpireOp and next_expiry", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  cfg.max_age_ns = 10 * second;
  ok(*f, create_op(cfg));
  CHECK(f->next_expiry("S").value() == std::nullopt);
  ok(*f, store_op("S", "foo.a", "1", t0));
  ok(*f, store_op("S", "foo.b", "2", t0 + 5 * second));
  ok(*f, store_op("S", "foo.a", "3", t0 + 20 * second));
  CHECK(f->next_expiry("S").value() == t0 + 10 * second);
  auto r = ok(*f, Op{"S", ExpireOp{t0 + 12 * second}});
  CHECK(r.removed_msgs == 1);
  CHECK(f->next_expiry("S").value() == t0 + 15 * second);
  // Exactly at the age the message goes (time <= now - max_age).
  r = ok(*f, Op{"S", ExpireOp{t0 + 15 * second}});
  CHECK(r.removed_msgs == 1);
  CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{3});
  r = ok(*f, Op{"S", ExpireOp{t0 + 60 * second}});
  CHECK(r.removed_msgs == 1);
  auto st = state(*f, "S");
  CHECK(st.msgs == 0);
  CHECK(st.first_seq.value == 4);
  CHECK(f->next_expiry("S").value() == std::nullopt);
  check_consistent(*f, "S");
  SECTION("an update with a shorter max_age expires at its time stamp") {
    ok(*f, store_op("S", "foo.a", "4", t0 + 100 * second));
    ok(*f, store_op("S", "foo.a", "5", t0 + 108 * second));
    cfg.max_age_ns = 5 * second;
    ok(*f, update_op(cfg, t0 + 110 * second));
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{5});
  }
}

TEST_CASE("store: the dedupe window", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  cfg.duplicate_window_ns = 120 * second;
  ok(*f, create_op(cfg));
  auto with_id = [](std::string id, UnixNanos t) {
    StoreMsgOp m = msg("foo.a", "x", t);
    m.msg_id = std::move(id);
    return m;
  };
  CHECK(ok(*f, store_op("S", with_id("a", t0))).seq.value == 1);
  CHECK(ok(*f, store_op("S", with_id("b", t0 + second))).seq.value == 2);
  auto dup = ok(*f, store_op("S", with_id("a", t0 + 60 * second)));
  CHECK(dup.duplicate);
  CHECK(dup.seq.value == 1);
  CHECK(state(*f, "S").msgs == 2);
  f.reopen();  // the window is persisted
  dup = ok(*f, store_op("S", with_id("b", t0 + 100 * second)));
  CHECK(dup.duplicate);
  CHECK(dup.seq.value == 2);
  // At window age the id is free again (nats-server: now - ts >= window).
  auto again = ok(*f, store_op("S", with_id("a", t0 + 120 * second)));
  CHECK_FALSE(again.duplicate);
  CHECK(again.seq.value == 3);
  // A purge keeps the window (it is the stream's, not the messages').
  ok(*f, purge_op("S"));
  CHECK(ok(*f, store_op("S", with_id("a", t0 + 121 * second))).duplicate);
  // Without a window nothing is deduplicated.
  cfg.duplicate_window_ns = 0;
  ok(*f, update_op(cfg, t0 + 122 * second));
  CHECK_FALSE(ok(*f, store_op("S", with_id("a", t0 + 123 * second))).duplicate);
}

TEST_CASE("store: expected last sequence, subject sequence and msg id", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  cfg.duplicate_window_ns = 60 * second;
  ok(*f, create_op(cfg));
  StoreMsgOp m = msg("foo.a", "1");
  m.msg_id = "id-1";
  ok(*f, store_op("S", m));
  ok(*f, store_op("S", "foo.b", "2"));

  StoreMsgOp e = msg("foo.a", "3");
  e.expected_last_seq = StreamSeq(1);
  auto r = f->apply(store_op("S", e));
  REQUIRE(!r);
  CHECK(r.error().code == Errc::wrong_last_sequence);
  CHECK(r.error().seq == 2);
  e.expected_last_seq = StreamSeq(2);
  CHECK(ok(*f, store_op("S", e)).seq.value == 3);

  StoreMsgOp es = msg("foo.b", "4");
  es.expected_last_subject_seq = StreamSeq(3);
  r = f->apply(store_op("S", es));
  REQUIRE(!r);
  CHECK(r.error().code == Errc::wrong_last_sequence);
  CHECK(r.error().seq == 2);
  es.expected_last_subject_seq = StreamSeq(2);
  CHECK(ok(*f, store_op("S", es)).seq.value == 4);
  // 0 means "no message on this subject yet".
  StoreMsgOp fresh = msg("foo.new", "5");
  fresh.expected_last_subject_seq = StreamSeq(0);
  CHECK(ok(*f, store_op("S", fresh)).seq.value == 5);
  CHECK(rejected(*f, store_op("S", fresh)) == Errc::wrong_last_sequence);

  // The last message (5) had no msg id.
  StoreMsgOp em = msg("foo.a", "6");
  em.expected_last_msg_id = std::string("id-1");
  CHECK(rejected(*f, store_op("S", em)) == Errc::wrong_last_msg_id);
  StoreMsgOp with_id = msg("foo.a", "6");
  with_id.msg_id = "id-2";
  ok(*f, store_op("S", with_id));
  f.reopen();
  em.expected_last_msg_id = std::string("id-2");
  CHECK(ok(*f, store_op("S", em)).seq.value == 7);
  CHECK(state(*f, "S").last_seq.value == 7);
}

TEST_CASE("store: rollups", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  ok(*f, create_op(cfg));
  StoreMsgOp roll = msg("foo.a", "r");
  roll.rollup = Rollup::subject;
  CHECK(rejected(*f, store_op("S", roll)) == Errc::rollup_not_permitted);
  cfg.allow_rollup = true;
  ok(*f, update_op(cfg));
  for (const char* s : {"foo.a", "foo.b", "foo.a", "foo.c"}) ok(*f, store_op("S", s, "x"));
  SECTION("subject rollup keeps only the new message of that subject") {
    auto r = ok(*f, store_op("S", roll));
    CHECK(r.seq.value == 5);
    CHECK(r.removed_msgs == 2);
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{2, 4, 5});
    CHECK(f->load_last("S", "foo.a")->data == "r");
    check_consistent(*f, "S");
  }
  SECTION("all rollup keeps only the new message") {
    StoreMsgOp all = msg("foo.d", "all");
    all.rollup = Rollup::all;
    auto r = ok(*f, store_op("S", all));
    CHECK(r.removed_msgs == 4);
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{5});
    auto st = state(*f, "S");
    CHECK(st.first_seq.value == 5);
    CHECK(st.num_subjects == 1);
    check_consistent(*f, "S");
    f.reopen();
    check_consistent(*f, "S");
    CHECK(f->load("S", StreamSeq(5))->data == "all");
  }
  SECTION("an all rollup after the limits already removed the last old message") {
    cfg.max_msgs = 1;
    ok(*f, update_op(cfg));  // leaves foo.c (4) only
    StoreMsgOp all = msg("foo.d", "all");
    all.rollup = Rollup::all;
    auto r = ok(*f, store_op("S", all));
    CHECK(r.removed_msgs == 1);
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{5});
    CHECK(f->subjects_state("S", ">")->size() == 1);
    check_consistent(*f, "S");
    f.reopen();
    check_consistent(*f, "S");
  }
  SECTION("deny_purge forbids rollups") {
    cfg.deny_purge = true;
    ok(*f, update_op(cfg));
    CHECK(rejected(*f, store_op("S", roll)) == Errc::rollup_not_permitted);
  }
}

TEST_CASE("store: purge by filter, sequence and keep", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  ok(*f, create_op(cfg));
  // 1..12: foo.a, foo.b.x, foo.b.y repeating
  const char* subjects[] = {"foo.a", "foo.b.x", "foo.b.y"};
  for (int i = 0; i < 12; ++i) ok(*f, store_op("S", subjects[i % 3], std::to_string(i + 1)));
  SECTION("everything") {
    auto r = ok(*f, purge_op("S"));
    CHECK(r.removed_msgs == 12);
    auto st = state(*f, "S");
    CHECK(st.msgs == 0);
    CHECK(st.first_seq.value == 13);
    CHECK(st.last_seq.value == 12);
    CHECK(st.num_subjects == 0);
    CHECK(ok(*f, store_op("S", "foo.a", "n")).seq.value == 13);
    check_consistent(*f, "S");
  }
  SECTION("below a sequence") {
    auto r = ok(*f, purge_op("S", "", 5));
    CHECK(r.removed_msgs == 4);
    CHECK(state(*f, "S").first_seq.value == 5);
    check_consistent(*f, "S");
    // Past the end: empty, and the next message gets that sequence.
    ok(*f, purge_op("S", "", 20));
    auto st = state(*f, "S");
    CHECK(st.msgs == 0);
    CHECK(st.first_seq.value == 20);
    CHECK(st.last_seq.value == 19);
    CHECK(ok(*f, store_op("S", "foo.a", "n")).seq.value == 20);
  }
  SECTION("below a sequence, many messages at once") {
    for (int i = 0; i < 488; ++i) ok(*f, store_op("S", subjects[i % 3], "more"));
    auto r = ok(*f, purge_op("S", "", 451));
    CHECK(r.removed_msgs == 450);
    REQUIRE(r.removed.size() == 1);
    CHECK(r.removed[0] == SeqRange{StreamSeq(1), StreamSeq(450)});
    CHECK(seqs(*f, "S").size() == 50);
    check_consistent(*f, "S");
    ok(*f, store_op("S", "foo.a", "after"));
    f.reopen();
    check_consistent(*f, "S");
    CHECK(state(*f, "S").first_seq.value == 451);
    CHECK(f->load_last("S", "foo.a")->data == "after");
  }
  SECTION("keep the newest") {
    auto r = ok(*f, purge_op("S", "", 0, 5));
    CHECK(r.removed_msgs == 7);
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{8, 9, 10, 11, 12});
    CHECK(ok(*f, purge_op("S", "", 0, 100)).removed_msgs == 0);
    check_consistent(*f, "S");
  }
  SECTION("a literal subject") {
    auto r = ok(*f, purge_op("S", "foo.a"));
    CHECK(r.removed_msgs == 4);
    CHECK(seqs(*f, "S", "foo.a").empty());
    CHECK(state(*f, "S").msgs == 8);
    CHECK(state(*f, "S").first_seq.value == 2);
    check_consistent(*f, "S");
  }
  SECTION("a literal subject, keep 1") {
    ok(*f, purge_op("S", "foo.b.x", 0, 1));
    CHECK(seqs(*f, "S", "foo.b.x") == std::vector<std::uint64_t>{11});
    check_consistent(*f, "S");
  }
  SECTION("a wildcard below a sequence") {
    auto r = ok(*f, purge_op("S", "foo.b.*", 9));
    CHECK(r.removed_msgs == 5);  // 2,3,5,6,8
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{1, 4, 7, 9, 10, 11, 12});
    check_consistent(*f, "S");
  }
  SECTION("a wildcard, keep 3") {
    auto r = ok(*f, purge_op("S", "foo.b.>", 0, 3));
    CHECK(r.removed_msgs == 5);
    CHECK(seqs(*f, "S", "foo.b.>") == std::vector<std::uint64_t>{9, 11, 12});
    CHECK(seqs(*f, "S", "foo.a").size() == 4);
    check_consistent(*f, "S");
  }
  SECTION("refusals") {
    CHECK(rejected(*f, purge_op("S", "", 5, 2)) == Errc::purge_arg_mismatch);
    cfg.deny_purge = true;
    ok(*f, update_op(cfg));
    CHECK(rejected(*f, purge_op("S")) == Errc::deny_purge);
    cfg.sealed = true;
    ok(*f, update_op(cfg));
    CHECK(rejected(*f, purge_op("S")) == Errc::sealed);
    CHECK(rejected(*f, store_op("S", "foo.a", "x")) == Errc::sealed);
    CHECK(rejected(*f, delete_op("S", 3)) == Errc::sealed);
    CHECK(state(*f, "S").msgs == 12);
  }
}

TEST_CASE("store: delete and erase", "[storage]") {
  FOR_EACH_STORE(f);
  auto cfg = stream_config("S");
  ok(*f, create_op(cfg));
  for (int i = 1; i <= 5; ++i) ok(*f, store_op("S", i % 2 ? "foo.odd" : "foo.even", std::to_string(i)));
  auto r = ok(*f, delete_op("S", 3));
  CHECK(r.seq.value == 3);
  CHECK(r.removed_msgs == 1);
  CHECK(f->load("S", StreamSeq(3)).error().code == Errc::message_not_found);
  CHECK(rejected(*f, delete_op("S", 3)) == Errc::message_not_found);
  CHECK(rejected(*f, delete_op("S", 9)) == Errc::end_of_stream);
  auto st = state(*f, "S", true);
  CHECK(st.num_deleted == 1);
  CHECK(st.deleted == std::vector<StreamSeq>{StreamSeq(3)});
  // The subject's first moves on; the stream's first too when it goes.
  ok(*f, delete_op("S", 1));
  CHECK(f->subjects_state("S", "foo.odd")->at("foo.odd") == SubjectState{1, StreamSeq(5), StreamSeq(5)});
  CHECK(state(*f, "S").first_seq.value == 2);
  // The last one of a subject: its last moves back.
  ok(*f, delete_op("S", 4, true));
  CHECK(f->subjects_state("S", "foo.even")->at("foo.even") == SubjectState{1, StreamSeq(2), StreamSeq(2)});
  CHECK(f->load("S", StreamSeq(4)).error().code == Errc::message_not_found);
  check_consistent(*f, "S");
  f.reopen();
  check_consistent(*f, "S");
  CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{2, 5});
  SECTION("deny_delete refuses API deletes, not retention removals") {
    cfg.deny_delete = true;
    ok(*f, update_op(cfg));
    CHECK(rejected(*f, delete_op("S", 2)) == Errc::deny_delete);
    ok(*f, delete_op("S", 2, false, DeleteReason::retention));
    CHECK(seqs(*f, "S") == std::vector<std::uint64_t>{5});
  }
  SECTION("deleting the last message keeps last_seq") {
    ok(*f, delete_op("S", 5));
    ok(*f, delete_op("S", 2));
    auto s2 = state(*f, "S");
    CHECK(s2.msgs == 0);
    CHECK(s2.first_seq.value == 6);
    CHECK(s2.last_seq.value == 5);
    CHECK(ok(*f, store_op("S", "foo.a", "x")).seq.value == 6);
  }
}
