// The op log: encode/decode round trips, rejection of truncated and unknown input, and
// determinism (the same log applied to fresh stores of both kinds gives the same stores).

#include <random>

#include "store_fixture.hpp"

using namespace storage_test;

namespace {

std::vector<Op> one_of_each() {
  StreamConfig sc = stream_config("S", {"a.>", "b.*"});
  sc.retention = Retention::workqueue;
  sc.max_consumers = 3;
  sc.max_msgs = -1;
  sc.max_bytes = 1 << 20;
  sc.max_age_ns = 5 * second;
  sc.max_msgs_per_subject = 7;
  sc.max_msg_size = 1024;
  sc.discard = Discard::new_msgs;
  sc.discard_new_per_subject = true;
  sc.duplicate_window_ns = 2 * second;
  sc.storage = StorageType::memory;
  sc.deny_delete = true;
  sc.allow_rollup = true;
  sc.api_json = R"({"name":"S"})";
  StoreMsgOp m = msg("a.b", std::string("da\0ta", 5), -42);
  m.headers = "NATS/1.0\r\nX: y\r\n\r\n";
  m.msg_id = "id";
  m.expected_last_seq = StreamSeq(0);
  m.expected_last_subject_seq = StreamSeq(99);
  m.expected_last_msg_id = std::string("prev");
  m.rollup = Rollup::all;
  ConsumerConfig cc = consumer_config("C", AckPolicy::all, DeliverPolicy::by_start_time, "a.*");
  cc.direct = true;
  cc.opt_start_seq = StreamSeq(12);
  cc.opt_start_time_ns = t0 + 5;
  cc.api_json = "{}";
  return {
      Op{"S", StreamCreateOp{sc, t0}},
      Op{"S", StreamUpdateOp{sc, t0 + 1}},
      Op{"S", StreamDeleteOp{}},
      Op{"S", m},
      Op{"S", DeleteMsgOp{StreamSeq(7), true, DeleteReason::retention}},
      Op{"S", PurgeOp{"a.*", StreamSeq(3), 0}},
      Op{"S", ExpireOp{t0 + 9}},
      Op{"S", ConsumerCreateOp{cc, t0 + 2}},
      Op{"S", ConsumerUpdateOp{cc}},
      Op{"S", ConsumerDeleteOp{"C"}},
      Op{"S", ConsumerDeliveredOp{"C", ConsumerSeq(4), StreamSeq(9), 3, t0 + 3}},
      Op{"S", ConsumerAckOp{"C", ConsumerSeq(4), StreamSeq(9)}},
      Op{"S", ConsumerNakOp{"C", StreamSeq(9), t0 + 4}},
      Op{"S", ConsumerTermOp{"C", ConsumerSeq(5), StreamSeq(10)}},
  };
}

}  // namespace

TEST_CASE("ops: encode and decode round trip every op type", "[storage]") {
  auto ops = one_of_each();
  REQUIRE(ops.size() == std::variant_size_v<OpBody>);
  for (const Op& op : ops) {
    INFO("op type " << op.body.index());
    std::string bytes = encode_op(op);
    auto back = decode_op(bytes);
    REQUIRE(back.has_value());
    CHECK(back->stream == op.stream);
    CHECK(back->body.index() == op.body.index());
    CHECK(encode_op(*back) == bytes);
  }
  // Field-level checks on the richest ones.
  auto store = decode_op(encode_op(ops[3]));
  const auto& m = std::get<StoreMsgOp>(store->body);
  CHECK(m.data == std::string("da\0ta", 5));
  CHECK(m.time_ns == -42);
  CHECK(m.expected_last_seq == StreamSeq(0));
  CHECK(m.expected_last_subject_seq == StreamSeq(99));
  CHECK(m.expected_last_msg_id == std::string("prev"));
  CHECK(m.rollup == Rollup::all);
  auto create = decode_op(encode_op(ops[0]));
  CHECK(std::get<StreamCreateOp>(create->body).config == std::get<StreamCreateOp>(ops[0].body).config);
  auto cc = decode_op(encode_op(ops[7]));
  CHECK(std::get<ConsumerCreateOp>(cc->body).config == std::get<ConsumerCreateOp>(ops[7].body).config);
  // A mirror's copy at a given sequence (format version 2).
  Op at = store_op("S", "a.b", "x");
  std::get<StoreMsgOp>(at.body).at_seq = StreamSeq(77);
  auto at_back = decode_op(encode_op(at));
  REQUIRE(at_back.has_value());
  CHECK(std::get<StoreMsgOp>(at_back->body).at_seq == StreamSeq(77));
  // Version 1 records (no at_seq) still decode.
  std::string v1 = encode_op(store_op("S", "a.b", "x"));
  v1[0] = 1;
  v1.pop_back();  // the absent at_seq's byte
  auto old = decode_op(v1);
  REQUIRE(old.has_value());
  CHECK(!std::get<StoreMsgOp>(old->body).at_seq.has_value());
  // Absent optionals stay absent.
  auto plain = decode_op(encode_op(store_op("S", "a.b", "x")));
  CHECK(!std::get<StoreMsgOp>(plain->body).at_seq.has_value());
  CHECK(!std::get<StoreMsgOp>(plain->body).expected_last_seq.has_value());
  CHECK(!std::get<StoreMsgOp>(plain->body).expected_last_msg_id.has_value());
}

TEST_CASE("ops: truncated, extended and unknown input is refused", "[storage]") {
  for (const Op& op : one_of_each()) {
    std::string bytes = encode_op(op);
    INFO("op type " << op.body.index() << " of " << bytes.size() << " bytes");
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto r = decode_op(std::string_view(bytes).substr(0, n));
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == Errc::corrupt);
    }
    CHECK(decode_op(bytes + '\0').error().code == Errc::corrupt);
  }
  std::string bytes = encode_op(store_op("S", "a.b", "x"));
  for (std::uint8_t version : {0, 3, 255}) {
    std::string b = bytes;
    b[0] = static_cast<char>(version);
    CHECK(decode_op(b).error().code == Errc::corrupt);
  }
  for (std::uint8_t type : {0, 15, 200}) {
    std::string b = bytes;
    b[1] = static_cast<char>(type);
    CHECK(decode_op(b).error().code == Errc::corrupt);
  }
  // An enum out of range (the rollup byte is last).
  std::string b = bytes;
  b.back() = 3;
  CHECK(decode_op(b).error().code == Errc::corrupt);
}

namespace {

// A reproducible op log touching every op kind, with rejections mixed in.
std::vector<Op> random_log(std::uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t k) { return rng() % k; };
  std::vector<Op> log;
  StreamConfig a = stream_config("A", {"a.>"});
  a.max_msgs = 40;
  a.max_msgs_per_subject = 6;
  a.duplicate_window_ns = 30 * second;
  a.allow_rollup = true;
  a.max_age_ns = 200 * second;
  StreamConfig b = stream_config("B", {"b.>"});
  b.retention = Retention::interest;
  b.discard = Discard::new_msgs;
  b.max_bytes = 4000;
  log.push_back(create_op(a));
  log.push_back(create_op(b));
  log.push_back(consumer_create_op("A", consumer_config("all")));
  log.push_back(consumer_create_op("A", consumer_config("x", AckPolicy::all, DeliverPolicy::all, "a.x.*")));
  log.push_back(consumer_create_op("B", consumer_config("c", AckPolicy::explicit_ack, DeliverPolicy::all, "b.1")));
  UnixNanos now = t0;
  std::uint64_t dseq[3] = {0, 0, 0};
  const char* names[3] = {"all", "x", "c"};
  const char* streams[3] = {"A", "A", "B"};
  for (int i = 0; i < n; ++i) {
    now += static_cast<UnixNanos>(pick(3)) * second;
    const std::string s = pick(3) == 0 ? "B" : "A";
    switch (pick(14)) {
      case 0: case 1: case 2: case 3: case 4: case 5: {
        StoreMsgOp m = msg(s == "A" ? cat("a.x.", num(pick(5))) : cat("b.", num(pick(3))),
                           std::string(pick(60), 'd'), now);
        if (pick(3) == 0) m.msg_id = cat("id", num(pick(20)));
        if (pick(20) == 0) m.rollup = pick(2) ? Rollup::subject : Rollup::all;
        if (pick(15) == 0) m.expected_last_seq = StreamSeq(pick(50));
        log.push_back(store_op(s, std::move(m)));
        break;
      }
      case 6:
        log.push_back(delete_op(s, 1 + pick(60), pick(4) == 0));
        break;
      case 7:
        if (pick(4) == 0) log.push_back(purge_op(s, pick(2) ? "a.x.1" : "", pick(3) ? 0 : pick(40), 0));
        else log.push_back(purge_op(s, pick(2) ? "a.x.*" : "", 0, pick(8)));
        break;
      case 8:
        log.push_back(Op{s, ExpireOp{now}});
        break;
      case 9: case 10: case 11: {
        auto c = pick(3);
        ++dseq[c];
        log.push_back(delivered_op(streams[c], names[c], dseq[c], 1 + pick(60), pick(5) == 0 ? 2 : 1, now));
        break;
      }
      case 12: {
        auto c = pick(3);
        log.push_back(ack_op(streams[c], names[c], 1 + pick(dseq[c] + 1), 1 + pick(60)));
        break;
      }
      default: {
        a.max_msgs_per_subject = 2 + static_cast<std::int64_t>(pick(6));
        log.push_back(update_op(a, now));
        break;
      }
    }
  }
  return log;
}

std::string outcome_text(const OpOutcome& o) {
  if (!o) return cat("err ", std::string(errc_name(o.error().code)));
  std::string t = cat("ok ", num(o->seq.value), o->duplicate ? " dup" : "", o->skipped ? " skip" : "", " removed ",
                      num(o->removed_msgs), "/", num(o->removed_bytes));
  for (const auto& r : o->removed) t += cat(" ", num(r.first.value), "-", num(r.last.value));
  for (const auto& c : o->consumers_changed) t += cat(" c:", c);
  return t;
}

// Applies the log in batches of varying size; returns every outcome as text.
std::vector<std::string> apply_log(StreamStore& s, const std::vector<Op>& log, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < log.size();) {
    std::size_t n = std::min<std::size_t>(1 + rng() % 16, log.size() - i);
    auto r = s.apply_batch(std::span<const Op>(log.data() + i, n));
    REQUIRE(r.has_value());
    REQUIRE(r->size() == n);
    for (const auto& o : *r) out.push_back(outcome_text(o));
    i += n;
  }
  return out;
}

}  // namespace

TEST_CASE("ops: the same log gives identical stores on every implementation", "[storage]") {
  const std::uint64_t seed = GENERATE(1, 2, 3);
  INFO("seed " << seed);
  auto log = random_log(seed, 1500);
  // The log goes through its encoded form, as a replica would receive it.
  std::vector<Op> replayed;
  for (const Op& op : log) {
    auto d = decode_op(encode_op(op));
    REQUIRE(d.has_value());
    replayed.push_back(std::move(*d));
  }
  Fixture mem1(Kind::memory);
  Fixture mem2(Kind::memory);
  Fixture rocks(Kind::rocks);
  auto o1 = apply_log(*mem1, log, 7);
  auto o2 = apply_log(*mem2, replayed, 8);  // other batch boundaries
  auto o3 = apply_log(*rocks, replayed, 9);
  CHECK(o1 == o2);
  CHECK(o1 == o3);
  // The log must have exercised more than the happy path.
  CHECK(std::count_if(o1.begin(), o1.end(), [](const std::string& t) { return t.starts_with("err"); }) > 10);
  CHECK(std::count_if(o1.begin(), o1.end(), [](const std::string& t) { return t.find(" dup") != std::string::npos; }) > 0);
  std::string d1 = dump(*mem1);
  CHECK(d1 == dump(*mem2));
  CHECK(d1 == dump(*rocks));
  for (const char* s : {"A", "B"}) {
    check_consistent(*mem1, s);
    check_consistent(*rocks, s);
  }
  rocks.reopen();
  CHECK(d1 == dump(*rocks));
}
