#pragma once
// Shared by the storage suite: a store of either kind (memory, or RocksDB in a fresh temp
// directory with tiny buffers so flushes and compactions happen during the tests), op
// builders, and a dump of a store's whole visible state for comparisons.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <unistd.h>

#include "storage/stream_store.hpp"

namespace storage_test {

using namespace forest::storage;

enum class Kind { memory, rocks };

inline const char* kind_name(Kind k) { return k == Kind::memory ? "memory" : "rocks"; }

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/forest-storage-XXXXXX";
    char* made = ::mkdtemp(templ.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Small enough that a few thousand messages go through several memtable flushes and L0
// compactions (RocksDB raises write buffers below 64 KiB to 64 KiB).
inline RocksOptions tiny_rocks_options(const std::string& path, SyncPolicy sync = SyncPolicy::interval) {
  RocksOptions o;
  o.path = path;
  o.sync = sync;
  o.write_buffer_size = 64 << 10;
  o.target_file_size = 64 << 10;
  o.max_bytes_for_level_base = 256 << 10;
  o.block_cache_size = 1 << 20;
  o.max_background_jobs = 2;
  return o;
}

class Fixture {
 public:
  explicit Fixture(Kind kind) : kind_(kind) { open(); }

  StreamStore& store() { return *store_; }
  StreamStore* operator->() { return store_.get(); }
  StreamStore& operator*() { return *store_; }
  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] const std::string& dir() const { return dir_.path(); }

  // Closes and opens again (RocksDB only: the memory store keeps its state in place).
  void reopen() {
    if (kind_ == Kind::memory) return;
    REQUIRE(store_->close().has_value());
    store_.reset();
    open();
  }

 private:
  void open() {
    if (kind_ == Kind::memory) {
      store_ = open_memory_store();
    } else {
      auto s = open_rocks_store(tiny_rocks_options(dir_.path() + "/store"));
      if (!s) FAIL("open_rocks_store: " << s.error().text);
      store_ = std::move(*s);
    }
    REQUIRE(store_ != nullptr);
  }

  Kind kind_;
  TempDir dir_;
  std::unique_ptr<StreamStore> store_;
};

// Concatenation without `"literal" + std::string`, which GCC 12 at -O3 flags with a false
// -Wrestrict (GCC bug 105329).
template <class... T>
std::string cat(const T&... parts) {
  std::string out;
  (out.append(parts), ...);
  return out;
}
inline std::string num(std::uint64_t v) { return std::to_string(v); }

// ---- op builders ----

inline constexpr UnixNanos t0 = 1'700'000'000'000'000'000;  // a fixed "now" for tests
inline constexpr std::int64_t second = 1'000'000'000;

inline StreamConfig stream_config(std::string name, std::vector<std::string> subjects = {"foo.>"}) {
  StreamConfig c;
  c.name = std::move(name);
  c.subjects = std::move(subjects);
  return c;
}

inline Op create_op(const StreamConfig& c, UnixNanos t = t0) { return Op{c.name, StreamCreateOp{c, t}}; }
inline Op update_op(const StreamConfig& c, UnixNanos t = t0) { return Op{c.name, StreamUpdateOp{c, t}}; }

inline StoreMsgOp msg(std::string subject, std::string data, UnixNanos t = t0) {
  StoreMsgOp m;
  m.subject = std::move(subject);
  m.data = std::move(data);
  m.time_ns = t;
  return m;
}
inline Op store_op(const std::string& stream, StoreMsgOp m) { return Op{stream, std::move(m)}; }
inline Op store_op(const std::string& stream, std::string subject, std::string data, UnixNanos t = t0) {
  return Op{stream, msg(std::move(subject), std::move(data), t)};
}
inline Op purge_op(const std::string& stream, std::string filter = {}, std::uint64_t seq = 0, std::uint64_t keep = 0) {
  return Op{stream, PurgeOp{std::move(filter), StreamSeq(seq), keep}};
}
inline Op delete_op(const std::string& stream, std::uint64_t seq, bool erase = false,
                    DeleteReason reason = DeleteReason::api) {
  return Op{stream, DeleteMsgOp{StreamSeq(seq), erase, reason}};
}

inline ConsumerConfig consumer_config(std::string name, AckPolicy ack = AckPolicy::explicit_ack,
                                      DeliverPolicy deliver = DeliverPolicy::all, std::string filter = {}) {
  ConsumerConfig c;
  c.name = std::move(name);
  c.durable = true;
  c.ack_policy = ack;
  c.deliver_policy = deliver;
  c.filter_subject = std::move(filter);
  return c;
}
inline Op consumer_create_op(const std::string& stream, const ConsumerConfig& c, UnixNanos t = t0) {
  return Op{stream, ConsumerCreateOp{c, t}};
}
inline Op delivered_op(const std::string& stream, const std::string& consumer, std::uint64_t dseq, std::uint64_t sseq,
                       std::uint64_t deliveries = 1, UnixNanos t = t0) {
  return Op{stream, ConsumerDeliveredOp{consumer, ConsumerSeq(dseq), StreamSeq(sseq), deliveries, t}};
}
inline Op ack_op(const std::string& stream, const std::string& consumer, std::uint64_t dseq, std::uint64_t sseq) {
  return Op{stream, ConsumerAckOp{consumer, ConsumerSeq(dseq), StreamSeq(sseq)}};
}

// ---- applying ----

// The op must succeed; returns its result.
inline ApplyResult ok(StreamStore& s, const Op& op) {
  auto r = s.apply(op);
  if (!r) FAIL("op on '" << op.stream << "' failed: " << errc_name(r.error().code) << ": " << r.error().text);
  return *r;
}
// The op must be rejected; returns the code.
inline Errc rejected(StreamStore& s, const Op& op) {
  auto r = s.apply(op);
  if (r) FAIL("op on '" << op.stream << "' succeeded, a rejection was expected");
  return r.error().code;
}

inline StreamState state(StreamStore& s, const std::string& stream, bool with_deleted = false) {
  auto st = s.stream_state(stream, with_deleted);
  if (!st) FAIL("stream_state: " << st.error().text);
  return *st;
}

inline ConsumerState cstate(StreamStore& s, const std::string& stream, const std::string& consumer) {
  auto ci = s.consumer_info(stream, consumer);
  if (!ci) FAIL("consumer_info: " << ci.error().text);
  return ci->state;
}

// The sequences of every message of the stream, in order.
inline std::vector<std::uint64_t> seqs(StreamStore& s, const std::string& stream, std::string_view filter = {}) {
  std::vector<std::uint64_t> out;
  StreamSeq next(1);
  for (;;) {
    auto m = s.load_next(stream, filter, next);
    REQUIRE(m.has_value());
    if (!m->has_value()) break;
    out.push_back((*m)->seq.value);
    next = (*m)->seq.next();
  }
  return out;
}

// Everything a client can observe of a store, as text: equal dumps mean equal stores.
inline std::string dump(StreamStore& s) {
  std::ostringstream o;
  for (const auto& name : s.stream_names()) {
    auto meta = s.stream_meta(name);
    REQUIRE(meta.has_value());
    auto st = s.stream_state(name, true);
    REQUIRE(st.has_value());
    o << "stream " << name << " created " << meta->created_ns << " msgs " << st->msgs << " bytes " << st->bytes
      << " first " << st->first_seq.value << "@" << st->first_ts_ns << " last " << st->last_seq.value << "@"
      << st->last_ts_ns << " deleted " << st->num_deleted << " subjects " << st->num_subjects << " consumers "
      << st->consumer_count << "\n  gaps";
    for (auto d : st->deleted) o << ' ' << d.value;
    o << "\n";
    StreamSeq next(1);
    for (;;) {
      auto m = s.load_next(name, "", next);
      REQUIRE(m.has_value());
      if (!m->has_value()) break;
      const StoredMessage& sm = **m;
      o << "  msg " << sm.seq.value << ' ' << sm.subject << ' ' << sm.time_ns << " h=" << sm.headers.size() << ' '
        << sm.data << "\n";
      next = sm.seq.next();
    }
    auto subs = s.subjects_state(name, ">");
    REQUIRE(subs.has_value());
    for (const auto& [subj, ss] : *subs) {
      o << "  subject " << subj << ' ' << ss.msgs << ' ' << ss.first.value << ' ' << ss.last.value << "\n";
    }
    auto cons = s.consumer_names(name);
    REQUIRE(cons.has_value());
    for (const auto& c : *cons) {
      auto ci = s.consumer_info(name, c);
      REQUIRE(ci.has_value());
      const ConsumerState& cs = ci->state;
      o << "  consumer " << c << " delivered " << cs.delivered.consumer.value << '/' << cs.delivered.stream.value
        << " floor " << cs.ack_floor.consumer.value << '/' << cs.ack_floor.stream.value << " pending";
      for (const auto& [sq, p] : cs.pending) o << ' ' << sq.value << ':' << p.sequence.value << '@' << p.timestamp_ns;
      o << " redelivered";
      for (const auto& [sq, n] : cs.redelivered) o << ' ' << sq.value << 'x' << n;
      o << "\n";
    }
  }
  return o.str();
}

// Internal consistency: counts in the state agree with what the messages say.
inline void check_consistent(StreamStore& s, const std::string& stream) {
  auto st = state(s, stream);
  auto all = seqs(s, stream);
  REQUIRE(all.size() == st.msgs);
  auto subs = s.subjects_state(stream, ">");
  REQUIRE(subs.has_value());
  std::uint64_t sum = 0;
  for (const auto& [subj, ss] : *subs) {
    sum += ss.msgs;
    auto per = seqs(s, stream, subj);
    REQUIRE(per.size() == ss.msgs);
    REQUIRE(per.front() == ss.first.value);
    REQUIRE(per.back() == ss.last.value);
  }
  REQUIRE(sum == st.msgs);
  REQUIRE(subs->size() == st.num_subjects);
  if (st.msgs > 0) {
    REQUIRE(all.front() == st.first_seq.value);
    REQUIRE(all.back() <= st.last_seq.value);
  } else if (st.last_seq.value > 0) {
    REQUIRE(st.first_seq.value == st.last_seq.value + 1);
  }
}

}  // namespace storage_test

// Runs the enclosing TEST_CASE once per store kind.
#define FOR_EACH_STORE(fixture)                                               \
  const ::storage_test::Kind fixture##_kind =                                 \
      GENERATE(::storage_test::Kind::memory, ::storage_test::Kind::rocks);    \
  INFO("store: " << ::storage_test::kind_name(fixture##_kind));               \
  ::storage_test::Fixture fixture(fixture##_kind)
