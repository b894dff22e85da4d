// The read side of StreamStore. Stream counts come from memory; messages from the Kv.
// Literal filters go through the per-subject summary and index; wildcard filters scan a
// few messages first (cheap when matches are dense) and then go through the matching
// subjects' summaries (cheap when they are sparse).

#include <algorithm>
#include <limits>

#include "storage/engine.hpp"

namespace forest::storage::detail {

namespace {

// How many messages a wildcard lookup scans before it switches to the subjects' index.
constexpr int wildcard_scan_budget = 64;
// How many matching subjects an index-based wildcard lookup visits before it gives up and
// scans the messages instead.
constexpr std::size_t wildcard_subject_budget = 1024;

template <class T>
std::expected<T, Error> or_read_error(const Engine& e, std::expected<void, Error> err, T value) {
  (void)e;
  if (!err) return std::unexpected(err.error());
  return value;
}

}  // namespace

std::vector<std::string> Engine::stream_names() const {
  std::vector<std::string> out;
  if (closed_) return out;
  out.reserve(streams_.size());
  for (const auto& [name, s] : streams_) out.push_back(name);
  return out;
}

std::expected<StreamMeta, Error> Engine::stream_meta(std::string_view stream) const {
  auto s = find(stream);
  if (!s) return std::unexpected(s.error());
  return StreamMeta{(*s)->config, (*s)->created_ns};
}

std::expected<StreamState, Error> Engine::stream_state(std::string_view stream, bool with_deleted) const {
  auto found = find(stream);
  if (!found) return std::unexpected(found.error());
  const StreamRuntime& s = **found;
  StreamState out;
  out.msgs = s.st.msgs;
  out.bytes = s.st.bytes;
  out.first_seq = StreamSeq(s.st.first_seq);
  out.first_ts_ns = s.st.msgs == 0 ? 0 : s.st.first_ts_ns;
  out.last_seq = StreamSeq(s.st.last_seq);
  out.last_ts_ns = s.st.last_ts_ns;
  out.num_subjects = s.st.num_subjects;
  out.consumer_count = s.consumers.size();
  if (s.st.msgs > 0 && s.st.last_seq >= s.st.first_seq) out.num_deleted = s.st.last_seq - s.st.first_seq + 1 - s.st.msgs;
  if (with_deleted && out.num_deleted > 0) {
    out.deleted.reserve(out.num_deleted);
    std::uint64_t expect = s.st.first_seq;
    auto it = messages(s);
    for (it->seek(keys::message(s.id, s.st.first_seq)); it->valid(); it->next()) {
      std::uint64_t seq = keys::message_seq(it->key());
      for (; expect < seq; ++expect) out.deleted.push_back(StreamSeq(expect));
      expect = seq + 1;
    }
    check(*it);
    for (; expect <= s.st.last_seq; ++expect) out.deleted.push_back(StreamSeq(expect));
  }
  return or_read_error(*this, take_read_error(), std::move(out));
}

std::expected<StoredMessage, Error> Engine::load(std::string_view stream, StreamSeq seq) const {
  auto found = find(stream);
  if (!found) return std::unexpected(found.error());
  const StreamRuntime& s = **found;
  if (seq.value > s.st.last_seq) return fail(Errc::end_of_stream, "stream store EOF");
  if (seq.zero() || seq.value < s.st.first_seq) return fail(Errc::message_not_found, "no message found");
  auto m = read_message(s, seq.value);
  if (auto r = take_read_error(); !r) return std::unexpected(r.error());
  if (!m) return fail(Errc::message_not_found, "no message found");
  return std::move(*m);
}

std::expected<std::optional<StoredMessage>, Error> Engine::load_next(std::string_view stream, std::string_view filter,
                                                                     StreamSeq start) const {
  auto found = find(stream);
  if (!found) return std::unexpected(found.error());
  const StreamRuntime& s = **found;
  std::uint64_t from = std::max({start.value, s.st.first_seq, std::uint64_t{1}});
  if (s.st.msgs == 0 || from > s.st.last_seq) return std::optional<StoredMessage>();

  std::optional<StoredMessage> out;
  if (filter_is_all(filter)) {
    out = next_message(s, from);
  } else if (!subject_has_wildcard(filter)) {
    std::string subject(filter);
    auto sum = read_summary(s, subject);
    if (sum && sum->last.value >= from) {
      auto it = subject_index(s, subject);
      it->seek(keys::index(s.id, subject, std::max(from, sum->first.value)));
      if (it->valid()) {
        out = read_message(s, keys::index_seq(it->key()));
      } else {
        check(*it);
      }
    }
  } else {
    // Dense matches: a short scan finds one.
    auto it = messages(s);
    int budget = wildcard_scan_budget;
    bool exhausted = true;
    for (it->seek(keys::message(s.id, from)); it->valid(); it->next()) {
      auto m = records::decode_message(it->value());
      if (!m) {
        note_corrupt("message record");
        break;
      }
      std::uint64_t seq = keys::message_seq(it->key());
      if (subject_matches(m->subject, filter)) {
        out = StoredMessage{StreamSeq(seq), std::string(m->subject), std::string(m->headers), std::string(m->data),
                            m->time_ns};
        exhausted = false;
        break;
      }
      from = seq + 1;
      if (--budget == 0) {
        exhausted = false;
        break;
      }
    }
    check(*it);
    if (!out && !exhausted && !read_failed()) {
      // Sparse matches: the lowest next entry over the matching subjects' index.
      std::vector<std::pair<std::string, SubjectState>> subjects;
      bool too_many = false;
      for_each_summary(s, filter, [&](std::string_view subject, const SubjectState& st) {
        if (st.last.value < from) return true;
        if (subjects.size() == wildcard_subject_budget) {
          too_many = true;
          return false;
        }
        subjects.emplace_back(std::string(subject), st);
        return true;
      });
      if (!too_many) {
        std::uint64_t best = std::numeric_limits<std::uint64_t>::max();
        for (const auto& [subject, st] : subjects) {
          auto ix = subject_index(s, subject);
          ix->seek(keys::index(s.id, subject, std::max(from, st.first.value)));
          if (ix->valid()) best = std::min(best, keys::index_seq(ix->key()));
          check(*ix);
        }
        if (best != std::numeric_limits<std::uint64_t>::max()) out = read_message(s, best);
      } else {
        // Very many matching subjects: scanning on is cheaper than visiting them all.
        for (it->seek(keys::message(s.id, from)); it->valid(); it->next()) {
          auto m = records::decode_message(it->value());
          if (!m) {
            note_corrupt("message record");
            break;
          }
          if (subject_matches(m->subject, filter)) {
            out = StoredMessage{StreamSeq(keys::message_seq(it->key())), std::string(m->subject),
                                std::string(m->headers), std::string(m->data), m->time_ns};
            break;
          }
        }
        check(*it);
      }
    }
  }
  return or_read_error(*this, take_read_error(), std::move(out));
}

std::expected<StoredMessage, Error> Engine::load_last(std::string_view stream, std::string_view filter) const {
  auto found = find(stream);
  if (!found) return std::unexpected(found.error());
  const StreamRuntime& s = **found;
  std::optional<StoredMessage> out;
  if (s.st.msgs > 0) {
    if (filter_is_all(filter)) {
      if (std::uint64_t last = last_live_seq(s); last != 0) out = read_message(s, last);
    } else if (!subject_has_wildcard(filter)) {
      // KV get: one summary lookup, one message read.
      if (auto sum = read_summary(s, std::string(filter))) out = read_message(s, sum->last.value);
    } else {
      auto it = messages(s);
      int budget = wildcard_scan_budget;
      bool exhausted = true;
      for (it->seek_for_prev(keys::message(s.id, s.st.last_seq)); it->valid(); it->prev()) {
        auto m = records::decode_message(it->value());
        if (!m) {
          note_corrupt("message record");
          break;
        }
        if (subject_matches(m->subject, filter)) {
          out = StoredMessage{StreamSeq(keys::message_seq(it->key())), std::string(m->subject),
                              std::string(m->headers), std::string(m->data), m->time_ns};
          exhausted = false;
          break;
        }
        if (--budget == 0) {
          exhausted = false;
          break;
        }
      }
      check(*it);
      if (!out && !exhausted && !read_failed()) {
        std::uint64_t best = 0;
        for_each_summary(s, filter, [&](std::string_view, const SubjectState& st) {
          best = std::max(best, st.last.value);
          return true;
        });
        if (best != 0) out = read_message(s, best);
      }
    }
  }
  if (auto r = take_read_error(); !r) return std::unexpected(r.error());
  if (!out) return fail(Errc::message_not_found, "no message found");
  return std::move(*out);
}

std::expected<std::map<std::string, SubjectState>, Error> Engine::subjects_state(std::string_view stream,
                                                                                 std::string_view filter) const {
  auto found = find(stream);
  if (!found) return std::unexpected(found.error());
  std::map<std::string, SubjectState> out;
  for_each_summary(**found, filter, [&](std::string_view subject, const SubjectState& st) {
    out.emplace(std::string(subject), st);
    return true;
  });
  return or_read_error(*this, take_read_error(), std::move(out));
}

SubjectState Engine::subject_state_from(const StreamRuntime& s, const std::string& subject,
                                        const SubjectState& summary, std::uint64_t start) const {
  if (summary.msgs == 0 || summary.last.value < start) return {};
  if (start <= summary.first.value) return summary;
  SubjectState out;
  out.last = summary.last;
  auto it = subject_index(s, subject);
  // Count on the shorter side of `start` (in sequence distance).
  if (start - summary.first.value < summary.last.value - start) {
    std::uint64_t below = 0;
    for (it->seek(keys::index(s.id, subject, summary.first.value)); it->valid(); it->next()) {
      std::uint64_t seq = keys::index_seq(it->key());
      if (seq >= start) {
        out.first = StreamSeq(seq);
        break;
      }
      ++below;
    }
    out.msgs = summary.msgs - std::min(below, summary.msgs);
  } else {
    for (it->seek(keys::index(s.id, subject, start)); it->valid(); it->next()) {
      if (out.msgs == 0) out.first = StreamSeq(keys::index_seq(it->key()));
      ++out.msgs;
    }
  }
  check(*it);
  return out;
}

SubjectState Engine::filtered(const StreamRuntime& s, std::string_view filter, std::uint64_t start) const {
  SubjectState out;
  if (s.st.msgs == 0) return out;
  start = std::max({start, s.st.first_seq, std::uint64_t{1}});
  if (start > s.st.last_seq) return out;

  if (filter_is_all(filter)) {
    std::uint64_t last = last_live_seq(s);
    if (last < start) return out;
    if (start <= s.st.first_seq) return SubjectState{s.st.msgs, StreamSeq(s.st.first_seq), StreamSeq(last)};
    out.last = StreamSeq(last);
    auto it = messages(s);
    if (start - s.st.first_seq < s.st.last_seq - start) {
      std::uint64_t below = 0;
      for (it->seek(keys::message(s.id, s.st.first_seq)); it->valid(); it->next()) {
        std::uint64_t seq = keys::message_seq(it->key());
        if (seq >= start) {
          out.first = StreamSeq(seq);
          break;
        }
        ++below;
      }
      out.msgs = s.st.msgs - std::min(below, s.st.msgs);
    } else {
      for (it->seek(keys::message(s.id, start)); it->valid(); it->next()) {
        if (out.msgs == 0) out.first = StreamSeq(keys::message_seq(it->key()));
        ++out.msgs;
      }
    }
    check(*it);
    return out;
  }

  if (!subject_has_wildcard(filter)) {
    std::string subject(filter);
    auto sum = read_summary(s, subject);
    if (!sum) return out;
    return subject_state_from(s, subject, *sum, start);
  }

  auto add = [&](const SubjectState& st) {
    if (st.msgs == 0) return;
    out.msgs += st.msgs;
    if (out.first.zero() || st.first < out.first) out.first = st.first;
    if (st.last > out.last) out.last = st.last;
  };
  if (s.st.last_seq - start < wildcard_subject_budget) {
    // A short tail: scanning it beats visiting every matching subject.
    auto it = messages(s);
    for (it->seek(keys::message(s.id, start)); it->valid(); it->next()) {
      auto m = records::decode_message(it->value());
      if (!m) {
        note_corrupt("message record");
        break;
      }
      if (!subject_matches(m->subject, filter)) continue;
      StreamSeq seq(keys::message_seq(it->key()));
      add(SubjectState{1, seq, seq});
    }
    check(*it);
    return out;
  }
  std::vector<std::pair<std::string, SubjectState>> subjects;
  for_each_summary(s, filter, [&](std::string_view subject, const SubjectState& st) {
    if (st.last.value >= start) subjects.emplace_back(std::string(subject), st);
    return true;
  });
  for (const auto& [subject, st] : subjects) add(subject_state_from(s, subject, st, start));
  return out;
}

std::expected<SubjectState, Error> Engine::filtered_state(std::string_view stream, std::string_view filter,
                                                          StreamSeq start) const {
  auto found = find(stream);
  if (!found) return std::unexpected(found.error());
  SubjectState out = filtered(**found, filter, start.value);
  return or_read_error(*this, take_read_error(), out);
}

std::uint64_t Engine::seq_from_time(const StreamRuntime& s, UnixNanos time_ns) const {
  // Binary search over sequences for the first live message with time >= time_ns (time
  // stamps never decrease along the stream). Invariants: every live message below `lo` is
  // older; no live message in [hi, best) is as new; best is a valid answer.
  std::uint64_t best = s.st.last_seq + 1;
  if (s.st.msgs == 0) return best;
  if (time_ns <= s.st.first_ts_ns) return s.st.first_seq;
  std::uint64_t lo = s.st.first_seq;
  std::uint64_t hi = s.st.last_seq + 1;
  auto it = messages(s);
  while (lo < hi) {
    std::uint64_t mid = lo + (hi - lo) / 2;
    it->seek(keys::message(s.id, mid));
    if (!it->valid() || keys::message_seq(it->key()) >= hi) {
      hi = mid;
      continue;
    }
    std::uint64_t seq = keys::message_seq(it->key());
    auto m = records::decode_message(it->value());
    if (!m) {
      note_corrupt("message record");
      return best;
    }
    if (m->time_ns >= time_ns) {
      best = seq;
      hi = mid;
    } else {
      lo = seq + 1;
    }
  }
  check(*it);
  return best;
}

std::expected<StreamSeq, Error> Engine::seq_from_time(std::string_view stream, UnixNanos time_ns) const {
  auto found = find(stream);
  if (!found) return std::unexpected(found.error());
  StreamSeq out(seq_from_time(**found, time_ns));
  return or_read_error(*this, take_read_error(), out);
}

std::expected<std::optional<UnixNanos>, Error> Engine::next_expiry(std::string_view stream) const {
  auto found = find(stream);
  if (!found) return std::unexpected(found.error());
  const StreamRuntime& s = **found;
  if (s.config.max_age_ns <= 0 || s.config.sealed || s.st.msgs == 0) return std::optional<UnixNanos>();
  return std::optional<UnixNanos>(s.st.first_ts_ns + s.config.max_age_ns);
}

}  // namespace forest::storage::detail
