// Mirrors and sources of streams of this server. nats-server copies through an internal push
// consumer on the origin (ack none, flow control, heartbeats); here both streams live in the
// same process, so the service reads the origin's store directly after each commit and
// queues the copies as StoreMsgOps of the target: they are applied, acknowledged to nobody,
// and durable exactly like publishes.
//
// - A mirror keeps the origin's sequence numbers and time stamps (gaps become deleted
//   sequences, as nats-server's SkipMsgs); its position is its own last sequence.
// - A source stores a new message with the header `Nats-Stream-Source: <name> <origin seq>`
//   (replacing one from an earlier hop); at startup the target is scanned backwards for the
//   last such header of each source, as nats-server does (startingSequenceForSources).
//   Without one it starts at the configured start, or at the target's last time stamp.
// - A copy the target refuses (a discard-new limit, the storage limit) is retried from that
//   message every few seconds; the stream info shows the error meanwhile.
//
// Not supported yet (clear errors, see README.md): external (other domain or account)
// origins, and origins with interest or work-queue retention (nats-server's source consumer
// counts as their interest and consumes them; a direct read does neither).
#include <algorithm>
#include <charconv>

#include "../json_writer.hpp"
#include "../server.hpp"
#include "pub_headers.hpp"
#include "service.hpp"

namespace forest::broker::js {
namespace {

constexpr std::string_view kSourceHeader = "Nats-Stream-Source";
// One cursor copies at most this much per commit, so the service thread stays responsive
// and a big backlog flows in batches (one write per batch, as group commit).
constexpr std::size_t kCopyBatchMsgs = 256;
constexpr std::size_t kCopyBatchBytes = std::size_t{1} << 20;
constexpr int64_t kRetryNs = 2'000'000'000;

// "<name> <seq>", or the older form that held the whole ack reply
// ($JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>).
std::optional<std::pair<std::string, uint64_t>> parse_source_header(std::string_view v) {
  auto number = [](std::string_view t) -> std::optional<uint64_t> {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
    return n;
  };
  if (v.starts_with("$JS.ACK.")) {
    std::vector<std::string_view> tokens;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= v.size(); ++i) {
      if (i == v.size() || v[i] == '.') {
        tokens.push_back(v.substr(start, i - start));
        start = i + 1;
      }
    }
    if (tokens.size() != 9) return std::nullopt;
    auto seq = number(tokens[5]);
    if (!seq) return std::nullopt;
    return std::pair{std::string(tokens[2]), *seq};
  }
  const std::size_t space = v.find(' ');
  if (space == std::string_view::npos || space == 0) return std::nullopt;
  auto seq = number(v.substr(space + 1));
  if (!seq) return std::nullopt;
  return std::pair{std::string(v.substr(0, space)), *seq};
}

// The origin's headers without an earlier hop's Nats-Stream-Source, with ours at the end.
std::string with_source_header(std::string_view headers, std::string_view iname, uint64_t seq) {
  std::string out;
  if (headers.size() >= 12 && headers.ends_with("\r\n\r\n")) {
    const std::string_view body = headers.substr(0, headers.size() - 2);  // lines, each with CRLF
    std::size_t pos = 0;
    bool first = true;
    while (pos < body.size()) {
      std::size_t end = body.find("\r\n", pos);
      if (end == std::string_view::npos) end = body.size();
      const std::string_view line = body.substr(pos, end - pos);
      const bool ours = !first && line.size() > kSourceHeader.size() && line.starts_with(kSourceHeader) &&
                        line[kSourceHeader.size()] == ':';
      if (!ours) {
        out.append(line);
        out.append("\r\n");
      }
      first = false;
      pos = end + 2;
    }
  } else {
    out = "NATS/1.0\r\n";
  }
  out.append(kSourceHeader).append(": ").append(iname).append(" ").append(std::to_string(seq)).append("\r\n\r\n");
  return out;
}

storage::Rollup rollup_of(std::string_view headers, const StreamConfig& target) {
  if (!target.allow_rollup_hdrs || target.deny_purge) return storage::Rollup::none;
  auto v = header_value(headers, "Nats-Rollup");
  if (!v) return storage::Rollup::none;
  if (*v == "sub") return storage::Rollup::subject;
  if (*v == "all") return storage::Rollup::all;
  return storage::Rollup::none;
}

// What the stream info shows while a cursor cannot copy at all (nats-server shows its
// consumer setup's error the same way).
ApiError setup_error(bool mirror, std::string_view text) {
  return api_error(mirror ? JsErr::JSMirrorConsumerSetupFailedErrF : JsErr::JSSourceConsumerSetupFailedErrF,
                   {{"err", text}});
}

constexpr std::string_view kRetentionNotSupported =
    "forest-server: a mirror or source of a stream with interest or workqueue retention is not supported yet";

}  // namespace

std::optional<ApiError> JetStreamService::source_origin_error(const StreamConfig& c) const {
  std::vector<const StreamSource*> all;
  if (c.mirror) all.push_back(&*c.mirror);
  for (const auto& src : c.sources) all.push_back(&src);
  for (const StreamSource* src : all) {
    if (src->external) {
      return api_error(JsErr::JSStreamCreateErrF,
                       {{"err", "forest-server: mirrors and sources in another domain or account (external) are not supported yet"}});
    }
    auto it = streams_.find(src->name);
    if (it != streams_.end() && it->second.config.retention != Retention::limits) {
      return api_error(JsErr::JSStreamCreateErrF, {{"err", kRetentionNotSupported}});
    }
  }
  return std::nullopt;
}

void JetStreamService::setup_sources(Stream& s, bool recovering) {
  const bool had = !s.sources.empty();
  std::vector<SourceCursor> next;
  auto add = [&](const StreamSource& src, bool mirror) {
    SourceCursor c;
    c.origin = src.name;
    c.iname = src.name;  // nats-server adds ":<hash of the api prefix>" for external ones only
    c.filter = src.filter_subject;
    c.mirror = mirror;
    // An update that keeps a source keeps its position (nats-server restarts its consumer
    // after the last message it copied).
    for (SourceCursor& old : s.sources) {
      if (old.iname == c.iname && old.mirror == mirror) {
        c = std::move(old);
        c.filter = src.filter_subject;
        break;
      }
    }
    next.push_back(std::move(c));
  };
  if (s.config.mirror) add(*s.config.mirror, true);
  for (const auto& src : s.config.sources) add(src, false);
  s.sources = std::move(next);
  if (had && s.sources.empty()) --sourcing_streams_;
  if (!had && !s.sources.empty()) ++sourcing_streams_;
  if (!recovering || s.sources.empty()) return;

  // Recovery: a mirror goes on after its last sequence; sources after the origin sequence in
  // the newest Nats-Stream-Source header of each (one backward scan for all of them).
  auto st = state_of(s);
  if (!st) return;
  if (s.sources.front().mirror) {
    if (st->last_seq.value > 0) {
      s.sources.front().started = true;
      s.sources.front().next_seq = st->last_seq.value + 1;
    }
    return;
  }
  std::size_t missing = s.sources.size();
  if (st->msgs > 0) {
    for (uint64_t seq = st->last_seq.value; seq >= st->first_seq.value && seq > 0 && missing > 0; --seq) {
      auto m = s.store->load(s.config.name, storage::StreamSeq(seq));
      if (!m || m->headers.empty()) continue;
      auto v = header_value(m->headers, kSourceHeader);
      if (!v) continue;
      auto parsed = parse_source_header(*v);
      if (!parsed) continue;
      for (SourceCursor& c : s.sources) {
        if (!c.started && c.iname == parsed->first) {
          c.started = true;
          c.next_seq = parsed->second + 1;
          --missing;
        }
      }
    }
  }
  // nats-server falls back to the target's last time stamp (its messages may have been
  // purged or expired, the position with them).
  for (SourceCursor& c : s.sources) {
    if (!c.started && st->last_ts_ns > 0) c.resume_after_ns = st->last_ts_ns;
  }
}

void JetStreamService::start_cursor(Stream& target, SourceCursor& cur, const Stream& origin) {
  const StreamSource* src = cur.mirror ? (target.config.mirror ? &*target.config.mirror : nullptr) : nullptr;
  if (!cur.mirror) {
    for (const auto& s : target.config.sources) {
      if (s.name == cur.origin) src = &s;
    }
  }
  cur.started = true;
  cur.next_seq = 1;
  if (src == nullptr) return;
  auto from_time = [&](int64_t t) {
    auto seq = origin.store->seq_from_time(origin.config.name, t);
    if (seq) cur.next_seq = std::max<uint64_t>(1, seq->value);
  };
  if (src->opt_start_seq > 0) {
    cur.next_seq = src->opt_start_seq;
  } else if (src->opt_start_time) {
    from_time(std::max(src->opt_start_time->unix_ns, cur.resume_after_ns));
  } else if (cur.resume_after_ns > 0) {
    from_time(cur.resume_after_ns);
  }
}

void JetStreamService::pump_sources() {
  if (sourcing_streams_ == 0 || !running_) return;
  const int64_t now = now_ns();
  bool more = false;
  for (auto& [name, s] : streams_) {
    for (SourceCursor& cur : s.sources) pump_cursor(s, cur, now, more);
  }
  if (more) post_commit();
}

void JetStreamService::pump_cursor(Stream& target, SourceCursor& cur, int64_t now, bool& more) {
  const Stream* origin = find(cur.origin);
  if (origin == nullptr) {
    // As nats-server's consumer create answers while the origin does not exist.
    if (!cur.error || cur.error->err_code != 10059) cur.error = api_error(JsErr::JSStreamNotFoundErr);
    return;
  }
  if (origin->config.retention != Retention::limits) {
    if (!cur.error || cur.error->description != kRetentionNotSupported) {
      server_.log().warn("JetStream: stream '{}': cannot copy from '{}': {}", target.config.name, cur.origin,
                         kRetentionNotSupported);
    }
    cur.error = setup_error(cur.mirror, kRetentionNotSupported);
    return;
  }
  cur.last_seen_ns = now;
  // The origin is there (again) and usable; a refusal's error stays until a copy goes in.
  if (cur.error && (cur.error->err_code == 10059 || cur.error->description == kRetentionNotSupported)) cur.error.reset();
  if (cur.inflight > 0) return;
  if (cur.retry_at_ns > now) {
    schedule_source_retry(cur.retry_at_ns);
    return;
  }
  cur.retry_at_ns = 0;
  if (!cur.started) start_cursor(target, cur, *origin);

  auto origin_state = state_of(*origin);
  if (!origin_state || origin_state->last_seq.value < cur.next_seq) return;  // nothing new
  const Storage storage = target.config.storage.value_or(Storage::file);
  std::size_t n = 0, bytes = 0;
  while (n < kCopyBatchMsgs && bytes < kCopyBatchBytes) {
    auto m = origin->store->load_next(origin->config.name, cur.filter, storage::StreamSeq(cur.next_seq));
    if (!m) {
      server_.log().error("JetStream: stream '{}': reading '{}' at {}: {}", target.config.name, cur.origin, cur.next_seq,
                          m.error().text);
      return;
    }
    if (!*m) break;
    storage::StoredMessage& msg = **m;
    if (over_limit(storage)) {
      cur.error = api_error(JsErr::JSInsufficientResourcesErr);
      cur.retry_at_ns = now + kRetryNs;
      schedule_source_retry(cur.retry_at_ns);
      break;
    }
    storage::StoreMsgOp op;
    op.subject = msg.subject;
    op.rollup = rollup_of(msg.headers, target.config);
    op.data = std::move(msg.data);
    if (cur.mirror) {
      op.headers = std::move(msg.headers);
      op.time_ns = msg.time_ns;
      op.at_seq = msg.seq;
    } else {
      // A new message of the target: its own time stamp, deduplicated by Nats-Msg-Id in the
      // target's window as nats-server does; the origin's Nats-Expected-* were checked there.
      op.headers = with_source_header(msg.headers, cur.iname, msg.seq.value);
      op.time_ns = now;
      if (auto id = header_value(msg.headers, "Nats-Msg-Id")) op.msg_id.assign(*id);
    }
    bytes += op.subject.size() + op.headers.size() + op.data.size();
    count_usage(target, op);
    PendingPublish p;
    p.stream = target.config.name;
    p.source_iname = cur.iname;
    p.origin_seq = msg.seq.value;
    prepare_republish(p, target, op.subject);
    Batch& b = batch_for(target.store);
    p.store = target.store;
    p.op_index = b.ops.size();
    b.ops.push_back(storage::Op{target.config.name, std::move(op)});
    pending_.push_back(std::move(p));
    cur.next_seq = msg.seq.value + 1;
    ++cur.inflight;
    ++n;
  }
  if (n == kCopyBatchMsgs || bytes >= kCopyBatchBytes) more = true;
}

void JetStreamService::on_source_outcome(const PendingPublish& p, const storage::OpOutcome& outcome) {
  Stream* s = find(p.stream);
  if (s == nullptr) return;
  auto it = std::find_if(s->sources.begin(), s->sources.end(), [&](const SourceCursor& c) { return c.iname == p.source_iname; });
  if (it == s->sources.end()) return;
  SourceCursor& cur = *it;
  if (cur.inflight > 0) --cur.inflight;
  // A mirror's copy below its last sequence is already there (nats-server ignores it too).
  const bool present = !outcome && cur.mirror && outcome.error().code == storage::Errc::wrong_last_sequence;
  if (outcome || present) {
    if (cur.refused_seq != 0) {
      cur.stored_after_refusal = true;
    } else if (cur.error && cur.retry_at_ns == 0 && cur.error->err_code != 10059) {
      cur.error.reset();  // a refusal's error ends with the first copy that goes in
    }
  } else if (cur.refused_seq == 0) {
    cur.refused_seq = p.origin_seq;
    const ApiError e = publish_refusal(outcome.error());
    if (!cur.error || cur.error->description != e.description) {
      server_.log().warn("JetStream: stream '{}': copy of '{}' message {} refused: {}", p.stream, cur.origin, p.origin_seq,
                         e.description);
    }
    cur.error = e;
  }
  if (cur.inflight > 0 || cur.refused_seq == 0) return;
  if (cur.stored_after_refusal) {
    // Later copies of the same batch went in: going back would store them twice.
    server_.log().warn("JetStream: stream '{}': message {} of '{}' skipped after it was refused", p.stream,
                       cur.refused_seq, cur.origin);
  } else {
    cur.next_seq = cur.refused_seq;
    cur.retry_at_ns = now_ns() + kRetryNs;
    schedule_source_retry(cur.retry_at_ns);
  }
  cur.refused_seq = 0;
  cur.stored_after_refusal = false;
}

void JetStreamService::schedule_source_retry(int64_t at_ns) {
  if (!running_ || !source_timer_) return;
  if (source_timer_at_ != 0 && source_timer_at_ <= at_ns) return;
  source_timer_at_ = at_ns;
  source_timer_->expires_after(std::chrono::nanoseconds(std::max<int64_t>(1'000'000, at_ns - now_ns())));
  source_timer_->async_wait([this](const error_code& ec) {
    if (ec || !running_) return;
    client_->run([this] {
      source_timer_at_ = 0;
      commit();  // which pumps the sources at its end
    });
  });
}

void JetStreamService::write_source_info(JsonWriter& w, const Stream& target, const SourceCursor& cur) const {
  (void)target;
  uint64_t lag = 0;
  int64_t active = -1;
  std::optional<ApiError> error = cur.error;
  auto it = streams_.find(cur.origin);
  if (it != streams_.end()) {
    auto pending = it->second.store->filtered_state(cur.origin, cur.filter, storage::StreamSeq(cur.next_seq));
    if (pending) lag = pending->msgs;
    // nats-server hears from a live source at least every second (its heartbeats).
    if (cur.last_seen_ns > 0) active = 0;
    if (it->second.config.retention != Retention::limits) error = setup_error(cur.mirror, kRetentionNotSupported);
  } else if (cur.last_seen_ns > 0) {
    active = std::max<int64_t>(0, now_ns() - cur.last_seen_ns);
  }
  w.begin_object().field("name", cur.origin).field("lag", lag).field("active", active);
  if (error) w.key("error").raw(api_error_json(*error));
  w.end_object();
}

}  // namespace forest::broker::js
