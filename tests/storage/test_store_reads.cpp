// Reads on both stores: load_next / load_last with literal and wildcard filters (dense and
// sparse, so both the scan and the index paths run), subjects_state, filtered_state and
// seq_from_time.

#include "store_fixture.hpp"

using namespace storage_test;

namespace {

std::optional<std::uint64_t> next_seq(StreamStore& s, std::string_view filter, std::uint64_t start) {
  auto m = s.load_next("S", filter, StreamSeq(start));
  REQUIRE(m.has_value());
  if (!m->has_value()) return std::nullopt;
  return (*m)->seq.value;
}

}  // namespace

TEST_CASE("reads: load_next and load_last with literal and wildcard filters", "[storage]") {
  FOR_EACH_STORE(f);
  ok(*f, create_op(stream_config("S", {">"})));
  // 1..300 on orders.<n%3>.new, with "rare.x" at 150 and 290, "rare.y" at 200.
  for (std::uint64_t i = 1; i <= 300; ++i) {
    std::string subject = cat("orders.", num(i % 3), ".new");
    if (i == 150 || i == 290) subject = "rare.x";
    if (i == 200) subject = "rare.y";
    ok(*f, store_op("S", subject, std::to_string(i), t0 + static_cast<UnixNanos>(i) * second));
  }
  CHECK(next_seq(*f, "", 1) == 1u);
  CHECK(next_seq(*f, ">", 17) == 17u);
  CHECK(next_seq(*f, "orders.1.new", 1) == 1u);
  CHECK(next_seq(*f, "orders.1.new", 2) == 4u);
  CHECK(next_seq(*f, "orders.*.new", 150) == 151u);
  CHECK(next_seq(*f, "rare.x", 1) == 150u);  // literal: through the index
  CHECK(next_seq(*f, "rare.*", 1) == 150u);  // sparse wildcard: past the scan budget
  CHECK(next_seq(*f, "rare.>", 151) == 200u);
  CHECK(next_seq(*f, "rare.*", 291) == std::nullopt);
  CHECK(next_seq(*f, "nothing.*", 1) == std::nullopt);
  CHECK(next_seq(*f, "orders.0.new", 301) == std::nullopt);

  CHECK(f->load_last("S", "")->seq.value == 300);
  CHECK(f->load_last("S", "rare.x")->seq.value == 290);
  CHECK(f->load_last("S", "rare.x")->data == "290");
  CHECK(f->load_last("S", "rare.*")->seq.value == 290);
  CHECK(f->load_last("S", "orders.*.new")->seq.value == 300);
  CHECK(f->load_last("S", "*.*")->seq.value == 290);
  CHECK(f->load_last("S", "nothing").error().code == Errc::message_not_found);

  // After deletes the answers move.
  ok(*f, delete_op("S", 290));
  CHECK(f->load_last("S", "rare.*")->seq.value == 200);
  CHECK(f->load_last("S", "rare.x")->seq.value == 150);
  ok(*f, delete_op("S", 300));
  CHECK(f->load_last("S", "")->seq.value == 299);
  CHECK(next_seq(*f, "rare.x", 151) == std::nullopt);
  f.reopen();
  CHECK(f->load_last("S", "rare.*")->seq.value == 200);
  CHECK(next_seq(*f, "rare.*", 1) == 150u);
}

TEST_CASE("reads: subjects_state and filtered_state", "[storage]") {
  FOR_EACH_STORE(f);
  ok(*f, create_op(stream_config("S", {">"})));
  // kv.a at 1,3,5,...; kv.b at 2,4,...; other.c every 10th replaces kv.*
  for (std::uint64_t i = 1; i <= 2000; ++i) {
    std::string subject = i % 10 == 0 ? "other.c" : (i % 2 ? "kv.a" : "kv.b");
    ok(*f, store_op("S", subject, "v", t0 + static_cast<UnixNanos>(i)));
  }
  auto subs = f->subjects_state("S", "kv.*");
  REQUIRE(subs.has_value());
  REQUIRE(subs->size() == 2);
  CHECK(subs->at("kv.a") == SubjectState{1000, StreamSeq(1), StreamSeq(1999)});
  CHECK(subs->at("kv.b") == SubjectState{800, StreamSeq(2), StreamSeq(1998)});
  CHECK(f->subjects_state("S", ">")->size() == 3);
  CHECK(f->subjects_state("S", "other.c")->at("other.c").msgs == 200);
  CHECK(f->subjects_state("S", "none.>")->empty());

  CHECK(f->filtered_state("S", "", StreamSeq(1)).value() == SubjectState{2000, StreamSeq(1), StreamSeq(2000)});
  CHECK(f->filtered_state("S", ">", StreamSeq(1991)).value() == SubjectState{10, StreamSeq(1991), StreamSeq(2000)});
  CHECK(f->filtered_state("S", "", StreamSeq(11)).value() == SubjectState{1990, StreamSeq(11), StreamSeq(2000)});
  CHECK(f->filtered_state("S", "kv.a", StreamSeq(1)).value() == SubjectState{1000, StreamSeq(1), StreamSeq(1999)});
  CHECK(f->filtered_state("S", "kv.a", StreamSeq(1000)).value() == SubjectState{500, StreamSeq(1001), StreamSeq(1999)});
  CHECK(f->filtered_state("S", "kv.a", StreamSeq(10)).value() == SubjectState{995, StreamSeq(11), StreamSeq(1999)});
  CHECK(f->filtered_state("S", "other.c", StreamSeq(1995)).value() == SubjectState{1, StreamSeq(2000), StreamSeq(2000)});
  CHECK(f->filtered_state("S", "kv.*", StreamSeq(1001)).value() == SubjectState{900, StreamSeq(1001), StreamSeq(1999)});
  CHECK(f->filtered_state("S", "kv.*", StreamSeq(1990)).value() == SubjectState{9, StreamSeq(1991), StreamSeq(1999)});
  CHECK(f->filtered_state("S", "*.*", StreamSeq(2001)).value() == SubjectState{});
  CHECK(f->filtered_state("S", "none", StreamSeq(1)).value() == SubjectState{});

  ok(*f, purge_op("S", "kv.b"));
  CHECK(f->filtered_state("S", "kv.*", StreamSeq(1)).value() == SubjectState{1000, StreamSeq(1), StreamSeq(1999)});
  CHECK(f->filtered_state("S", "", StreamSeq(1)).value().msgs == 1200);
  CHECK(f->subjects_state("S", "kv.*")->size() == 1);
  CHECK(state(*f, "S").num_subjects == 2);
  check_consistent(*f, "S");
}

TEST_CASE("reads: seq_from_time", "[storage]") {
  FOR_EACH_STORE(f);
  ok(*f, create_op(stream_config("S")));
  CHECK(f->seq_from_time("S", t0).value().value == 1);  // empty: last + 1
  for (std::uint64_t i = 1; i <= 100; ++i) {
    ok(*f, store_op("S", "foo.a", "x", t0 + static_cast<UnixNanos>(i / 2) * second));  // two per second
  }
  CHECK(f->seq_from_time("S", 0).value().value == 1);
  CHECK(f->seq_from_time("S", t0 + 10 * second).value().value == 20);
  CHECK(f->seq_from_time("S", t0 + 10 * second + 1).value().value == 22);
  CHECK(f->seq_from_time("S", t0 + 50 * second).value().value == 100);
  CHECK(f->seq_from_time("S", t0 + 51 * second).value().value == 101);
  // Gaps do not confuse the search.
  for (std::uint64_t q = 20; q <= 40; ++q) ok(*f, delete_op("S", q));
  CHECK(f->seq_from_time("S", t0 + 10 * second).value().value == 41);
  CHECK(f->seq_from_time("S", t0 + 5 * second).value().value == 10);
}
