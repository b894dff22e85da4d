// A differential test: random stores, deletes, purges and expiries against a naive model
// written straight from nats-server's memstore (a map of messages, limits enforced by
// scanning), on both stores and several configs. After every op the store must show the
// model's messages, counts, first/last and per-subject state, and agree on rejections.

#include <map>
#include <random>

#include "storage/subject_match.hpp"
#include "store_fixture.hpp"

using namespace storage_test;

namespace {

struct ModelMsg {
  std::string subject;
  std::uint64_t size = 0;
  UnixNanos time = 0;
};

class Model {
 public:
  explicit Model(StreamConfig c) : cfg_(std::move(c)) {}

  // Returns the rejection, if any (nats-server's order of discard-new checks).
  std::optional<Errc> store(const std::string& subject, std::size_t payload, UnixNanos t, Rollup rollup) {
    if (rollup != Rollup::none && !cfg_.allow_rollup) return Errc::rollup_not_permitted;
    const std::uint64_t size = stored_size(cfg_.storage, subject.size(), 0, payload);
    if (cfg_.discard == Discard::new_msgs) {
      bool asl = false;
      std::uint64_t first_size = 0;
      if (cfg_.max_msgs_per_subject > 0 && count(subject) >= static_cast<std::uint64_t>(cfg_.max_msgs_per_subject)) {
        if (cfg_.discard_new_per_subject) return Errc::max_msgs_per_subject;
        asl = true;
        first_size = msgs_.at(first_of(subject)).size;
      }
      if (cfg_.max_msgs > 0 && msgs_.size() >= static_cast<std::uint64_t>(cfg_.max_msgs) && !asl) return Errc::max_msgs;
      if (cfg_.max_bytes > 0 && bytes_ + payload >= static_cast<std::uint64_t>(cfg_.max_bytes)) {
        if (!asl || first_size <= payload) return Errc::max_bytes;
      }
    }
    const std::uint64_t seq = ++last_;
    msgs_[seq] = ModelMsg{subject, size, t};
    bytes_ += size;
    if (cfg_.max_msgs_per_subject > 0) {
      while (count(subject) > static_cast<std::uint64_t>(cfg_.max_msgs_per_subject)) remove(first_of(subject));
    }
    while ((cfg_.max_msgs > 0 && msgs_.size() > static_cast<std::uint64_t>(cfg_.max_msgs)) ||
           (cfg_.max_bytes > 0 && bytes_ > static_cast<std::uint64_t>(cfg_.max_bytes))) {
      remove(msgs_.begin()->first);
    }
    if (rollup == Rollup::subject) {
      remove_if([&](std::uint64_t q, const ModelMsg& m) { return q != seq && m.subject == subject; });
    } else if (rollup == Rollup::all) {
      remove_if([&](std::uint64_t q, const ModelMsg&) { return q != seq; });
    }
    return std::nullopt;
  }

  std::optional<Errc> del(std::uint64_t seq) {
    if (seq > last_) return Errc::end_of_stream;
    if (!msgs_.contains(seq)) return Errc::message_not_found;
    remove(seq);
    return std::nullopt;
  }

  void purge(const std::string& filter, std::uint64_t seq, std::uint64_t keep) {
    if (filter.empty()) {
      if (keep == 0 && seq <= 1) {
        remove_if([](std::uint64_t, const ModelMsg&) { return true; });
      } else if (seq > 1) {
        remove_if([&](std::uint64_t q, const ModelMsg&) { return q < seq; });
        if (seq > last_) last_ = seq - 1;
      } else if (keep < msgs_.size()) {
        const std::uint64_t below = last_ - keep + 1;
        remove_if([&](std::uint64_t q, const ModelMsg&) { return q < below; });
      }
      return;
    }
    std::uint64_t matching = 0;
    for (const auto& [q, m] : msgs_) matching += subject_matches(m.subject, filter) ? 1 : 0;
    if (keep > 0) {
      if (keep >= matching) return;
      std::uint64_t n = matching - keep;
      remove_if([&](std::uint64_t, const ModelMsg& m) {
        if (n == 0 || !subject_matches(m.subject, filter)) return false;
        --n;
        return true;
      });
      return;
    }
    const std::uint64_t below = seq > 1 ? seq : ~std::uint64_t{0};
    remove_if([&](std::uint64_t q, const ModelMsg& m) { return q < below && subject_matches(m.subject, filter); });
  }

  void expire(UnixNanos now) {
    if (cfg_.max_age_ns <= 0) return;
    while (!msgs_.empty() && msgs_.begin()->second.time <= now - cfg_.max_age_ns) remove(msgs_.begin()->first);
  }

  void check(StreamStore& s) const {
    auto st = state(s, "S");
    REQUIRE(st.msgs == msgs_.size());
    REQUIRE(st.bytes == bytes_);
    REQUIRE(st.last_seq.value == last_);
    const std::uint64_t first = msgs_.empty() ? (last_ == 0 ? 0 : last_ + 1) : msgs_.begin()->first;
    REQUIRE(st.first_seq.value == first);
    if (!msgs_.empty()) REQUIRE(st.first_ts_ns == msgs_.begin()->second.time);
    std::vector<std::uint64_t> want;
    std::map<std::string, SubjectState> subjects;
    for (const auto& [q, m] : msgs_) {
      want.push_back(q);
      auto& ss = subjects[m.subject];
      if (ss.msgs == 0) ss.first = StreamSeq(q);
      ss.last = StreamSeq(q);
      ss.msgs++;
    }
    REQUIRE(seqs(s, "S") == want);
    auto got = s.subjects_state("S", ">");
    REQUIRE(got.has_value());
    REQUIRE(*got == subjects);
    REQUIRE(st.num_subjects == subjects.size());
  }

 private:
  std::uint64_t count(const std::string& subject) const {
    std::uint64_t n = 0;
    for (const auto& [q, m] : msgs_) n += m.subject == subject ? 1 : 0;
    return n;
  }
  std::uint64_t first_of(const std::string& subject) const {
    for (const auto& [q, m] : msgs_) {
      if (m.subject == subject) return q;
    }
    return 0;
  }
  void remove(std::uint64_t seq) {
    bytes_ -= msgs_.at(seq).size;
    msgs_.erase(seq);
  }
  template <class P>
  void remove_if(P&& p) {
    for (auto it = msgs_.begin(); it != msgs_.end();) {
      if (p(it->first, it->second)) {
        bytes_ -= it->second.size;
        it = msgs_.erase(it);
      } else {
        ++it;
      }
    }
  }

  StreamConfig cfg_;
  std::map<std::uint64_t, ModelMsg> msgs_;
  std::uint64_t bytes_ = 0;
  std::uint64_t last_ = 0;
};

StreamConfig model_config(int variant) {
  StreamConfig c = stream_config("S", {">"});
  c.allow_rollup = true;
  switch (variant) {
    case 0:  // everything discard old
      c.max_msgs = 30;
      c.max_bytes = 2500;
      c.max_msgs_per_subject = 4;
      c.max_age_ns = 40 * second;
      break;
    case 1:  // discard new, replacing at the subject limit
      c.discard = Discard::new_msgs;
      c.max_msgs = 25;
      c.max_bytes = 3000;
      c.max_msgs_per_subject = 3;
      break;
    case 2:  // discard new per subject
      c.discard = Discard::new_msgs;
      c.discard_new_per_subject = true;
      c.max_msgs_per_subject = 2;
      c.max_msgs = 20;
      break;
    default:  // no limits: deletes and purges only
      break;
  }
  return c;
}

}  // namespace

TEST_CASE("model: random ops agree with a naive model of nats-server's memstore", "[storage]") {
  const int variant = GENERATE(0, 1, 2, 3);
  FOR_EACH_STORE(f);
  INFO("config variant " << variant);
  StreamConfig cfg = model_config(variant);
  ok(*f, create_op(cfg));
  Model model(cfg);
  std::mt19937_64 rng(1000 + static_cast<std::uint64_t>(variant));
  auto pick = [&](std::uint64_t k) { return rng() % k; };
  UnixNanos now = t0;
  const int n = f.kind() == Kind::memory ? 1500 : 600;
  int rejected_stores = 0;
  for (int i = 0; i < n; ++i) {
    now += static_cast<UnixNanos>(pick(4)) * second;
    const std::uint64_t what = pick(20);
    INFO("op " << i << " kind " << what);
    if (what < 13) {
      std::string subject = cat("s.", num(pick(8)), pick(3) == 0 ? ".x" : "");
      std::size_t payload = pick(120);
      Rollup rollup = pick(40) == 0 ? (pick(2) ? Rollup::subject : Rollup::all) : Rollup::none;
      StoreMsgOp m = msg(subject, std::string(payload, 'p'), now);
      m.rollup = rollup;
      auto want = model.store(subject, payload, now, rollup);
      auto got = f->apply(store_op("S", m));
      if (want) {
        ++rejected_stores;
        REQUIRE_FALSE(got.has_value());
        REQUIRE(got.error().code == *want);
      } else {
        REQUIRE(got.has_value());
      }
    } else if (what < 16) {
      auto q = 1 + pick(f->stream_state("S")->last_seq.value + 2);
      auto want = model.del(q);
      auto got = f->apply(delete_op("S", q));
      if (want) {
        REQUIRE_FALSE(got.has_value());
        REQUIRE(got.error().code == *want);
      } else {
        REQUIRE(got.has_value());
      }
    } else if (what < 18) {
      static const char* filters[] = {"", "s.1", "s.*", "s.*.x", "s.>", "s.3.x"};
      std::string filter = filters[pick(6)];
      std::uint64_t seq = 0;
      std::uint64_t keep = 0;
      if (pick(2)) {
        keep = pick(6);
      } else {
        seq = pick(f->stream_state("S")->last_seq.value + 5);
      }
      model.purge(filter, seq, keep);
      ok(*f, purge_op("S", filter, seq, keep));
    } else {
      model.expire(now);
      ok(*f, Op{"S", ExpireOp{now}});
    }
    model.check(*f);
  }
  f.reopen();
  model.check(*f);
  // The run exercised the limits: discard new refused some, and messages were removed.
  if (variant == 1 || variant == 2) CHECK(rejected_stores > 20);
  auto st = state(*f, "S");
  CHECK(st.last_seq.value > st.msgs + 100);
}
