// Storage failures through a Kv that fails on command: a failed write or commit fails the
// store (the outer error of apply_batch, then every later call), and a record that does not
// decode is Errc::corrupt, never a silently missing message.

#include "storage/engine.hpp"
#include "storage/keys.hpp"
#include "store_fixture.hpp"

using namespace storage_test;

namespace {

// MemKv with switches: fail the next write or commit.
class FaultyKv final : public Kv {
 public:
  explicit FaultyKv(Kv& inner) : inner_(inner) {}
  bool fail_write = false;
  bool fail_commit = false;

  std::expected<bool, Error> get(Family f, std::string_view key, std::string& value) const override {
    return inner_.get(f, key, value);
  }
  std::unique_ptr<KvIterator> iterate(Family f, std::string lower, std::string upper) const override {
    return inner_.iterate(f, std::move(lower), std::move(upper));
  }
  std::unique_ptr<KvBatch> batch() override { return inner_.batch(); }
  std::expected<void, Error> write(KvBatch& b) override {
    if (fail_write) return std::unexpected(Error{Errc::io, "injected write failure"});
    return inner_.write(b);
  }
  std::expected<void, Error> commit(bool fsync) override {
    if (fail_commit) return std::unexpected(Error{Errc::io, "injected commit failure"});
    return inner_.commit(fsync);
  }
  std::expected<void, Error> scrub(Family f, std::string_view b, std::string_view e) override {
    return inner_.scrub(f, b, e);
  }
  std::optional<std::uint64_t> int_property(std::string_view) const override { return std::nullopt; }
  std::expected<void, Error> close() override { return {}; }

 private:
  Kv& inner_;
};

struct Harness {
  std::unique_ptr<Kv> mem = make_mem_kv();
  FaultyKv* faulty = nullptr;
  std::unique_ptr<StreamStore> store;
  Harness() {
    auto kv = std::make_unique<FaultyKv>(*mem);
    faulty = kv.get();
    auto e = detail::Engine::open(std::move(kv), false, "test store");
    REQUIRE(e.has_value());
    store = std::move(*e);
    ok(*store, create_op(stream_config("S")));
    ok(*store, store_op("S", "foo.a", "1"));
  }
};

}  // namespace

TEST_CASE("failures: a failed write or commit fails the store for good", "[storage]") {
  Harness h;
  SECTION("write") { h.faulty->fail_write = true; }
  SECTION("commit") { h.faulty->fail_commit = true; }
  std::vector<Op> ops{store_op("S", "foo.a", "2"), store_op("S", "foo.a", "3")};
  auto r = h.store->apply_batch(ops);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::io);
  CHECK(r.error().text.find("injected") != std::string::npos);
  // Healed backend or not, the store stays failed: its memory may be ahead of the Kv.
  h.faulty->fail_write = h.faulty->fail_commit = false;
  CHECK(h.store->apply(store_op("S", "foo.a", "4")).error().code == Errc::io);
  CHECK(h.store->stream_state("S").error().code == Errc::io);
  CHECK(h.store->load("S", StreamSeq(1)).error().code == Errc::io);
  CHECK(h.store->sync().error().code == Errc::io);
  CHECK(h.store->close().has_value());
}

TEST_CASE("failures: records that do not decode are Errc::corrupt", "[storage]") {
  Harness h;
  ok(*h.store, store_op("S", "foo.b", "2"));
  auto b = h.mem->batch();
  b->put(Family::messages, keys::message(1, 1), std::string("\x80", 1));  // a varint cut short
  REQUIRE(h.mem->write(*b).has_value());
  CHECK(h.store->load("S", StreamSeq(1)).error().code == Errc::corrupt);
  auto next = h.store->load_next("S", "", StreamSeq(1));
  REQUIRE_FALSE(next.has_value());
  CHECK(next.error().code == Errc::corrupt);
  // A read failure fails that read only; the message after it is fine.
  CHECK(h.store->load("S", StreamSeq(2))->data == "2");
  // An op that meets the damage is a storage failure: the store stops.
  auto r = h.store->apply(purge_op("S", "", 2));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::corrupt);
  CHECK(h.store->apply(store_op("S", "foo.a", "x")).error().code == Errc::corrupt);
}
