// The consumers' clocks, on one timer of the service thread armed at the earliest deadline:
// ack wait and backoff (redelivery, nats-server's checkPending), pull request expiry and
// heartbeats (processWaiting), push idle heartbeats, the inactivity threshold that deletes
// ephemerals (deleteNotActive), and the interest of push consumers' deliver subjects.
#include "../server.hpp"
#include "consumer_wire.hpp"
#include "service.hpp"

namespace forest::broker::js {
namespace {

// How often a push consumer looks at its deliver subject's interest: soon after a subscriber
// binds when unbound, and well within any inactivity threshold when bound.
constexpr int64_t kUnboundPollNs = 50'000'000;
constexpr int64_t kBoundPollNs = 500'000'000;

void earliest(int64_t& next, int64_t at) {
  if (at > 0 && (next == 0 || at < next)) next = at;
}

}  // namespace

void JetStreamService::schedule_consumer_timer(int64_t at_ns) {
  if (!running_ || !consumer_timer_) return;
  if (consumer_timer_at_ != 0 && consumer_timer_at_ <= at_ns) return;
  consumer_timer_at_ = at_ns;
  // At least 1 ms (no spinning); at most an hour (a far deadline is looked at again then,
  // and the steady clock cannot overflow).
  const auto delay = std::chrono::nanoseconds(std::clamp<int64_t>(sat_add(at_ns, -now_ns()), 1'000'000, int64_t{3600} * 1'000'000'000));
  consumer_timer_->expires_after(delay);
  consumer_timer_->async_wait([this](const error_code& ec) {
    if (ec || !running_) return;
    client_->run([this] { consumer_tick(); });
  });
}

void JetStreamService::consumer_tick() {
  consumer_timer_at_ = 0;
  commit();
  const int64_t now = now_ns();
  int64_t next = 0;
  std::vector<std::pair<Stream*, std::string>> inactive;
  for (auto& [sname, s] : streams_) {
    for (auto& [name, cp] : s.consumers) {
      Consumer& c = *cp;
      if (!c.pull()) {
        const bool bound = has_interest(c.config.deliver_subject);
        if (bound && !c.active) c.dirty = true;
        c.active = bound;
        if (bound) c.last_activity_ns = now;
        earliest(next, now + (bound ? kBoundPollNs : kUnboundPollNs));
        if (c.config.idle_heartbeat_ns > 0 && bound) {
          if (now >= c.next_heartbeat_ns) {
            const std::string h = heartbeat_headers(c.state.delivered.consumer.value, c.cursor.prev().value, c.fc_reply);
            client_->publish(*account_, c.config.deliver_subject, "", h, static_cast<int64_t>(h.size()));
            c.next_heartbeat_ns = sat_add(now, c.config.idle_heartbeat_ns);
          }
          earliest(next, c.next_heartbeat_ns);
        }
      } else {
        check_waiting(s, c, now, false, next);
        if (!c.waiting.empty()) c.last_activity_ns = now;
      }
      // Replay and rate limits: the pass that stopped for them goes on when they allow.
      for (int64_t* at : {&c.next_replay_ns, &c.next_rate_ns}) {
        if (*at == 0) continue;
        if (now >= *at) {
          c.dirty = true;
          if (at == &c.next_rate_ns) *at = 0;  // (the replay clears its own when it sends)
        } else {
          earliest(next, *at);
        }
      }
      if (c.acks() && c.next_ack_check_ns != 0) {
        if (now >= c.next_ack_check_ns) check_pending(s, c, now, next);
        earliest(next, c.next_ack_check_ns);
      }
      if (c.config.inactive_threshold_ns > 0) {
        const int64_t deadline = sat_add(c.last_activity_ns, c.config.inactive_threshold_ns);
        if (now >= deadline) {
          inactive.emplace_back(&s, name);
        } else {
          earliest(next, deadline);
        }
      }
    }
  }
  for (auto& [s, name] : inactive) {
    server_.log().debug("JetStream: consumer '{} > {}' inactive: deleted", s->config.name, name);
    remove_consumer(*s, name, true);
  }
  deliver_dirty();
  if (next != 0) schedule_consumer_timer(next);
}

void JetStreamService::check_pending(Stream& s, Consumer& c, int64_t now, int64_t& next) {
  c.next_ack_check_ns = 0;
  const int64_t ack_wait = c.config.ack_wait_ns > 0 ? c.config.ack_wait_ns : kDefaultAckWaitNs;
  std::vector<storage::StreamSeq> expired;
  for (const auto& [seq, p] : c.state.pending) {
    int64_t deadline = ack_wait;
    if (!c.config.backoff_ns.empty()) {
      auto rd = c.state.redelivered.find(seq);
      const uint64_t n = rd == c.state.redelivered.end() ? 0 : rd->second;
      deadline = std::max<int64_t>(0, c.config.backoff_ns[std::min<std::size_t>(n, c.config.backoff_ns.size() - 1)]);
    }
    if (p.timestamp_ns <= sat_add(now, -deadline)) {  // its ack wait is over
      if (!c.redeliver_set.contains(seq)) expired.push_back(seq);
    } else {
      earliest(c.next_ack_check_ns, sat_add(p.timestamp_ns, deadline));
    }
  }
  // std::map iterates in stream order: redeliveries go oldest first.
  for (storage::StreamSeq seq : expired) {
    c.redeliver.push_back(seq);
    c.redeliver_set.insert(seq);
  }
  if (!expired.empty()) c.dirty = true;
  earliest(next, c.next_ack_check_ns);
  (void)s;
}

void JetStreamService::check_waiting(Stream& s, Consumer& c, int64_t now, bool end_of_stream, int64_t& next) {
  (void)s;
  for (auto it = c.waiting.begin(); it != c.waiting.end();) {
    PullRequest& r = *it;
    const bool done_no_wait = end_of_stream && r.no_wait;
    if (done_no_wait || (r.expires_ns != 0 && now >= r.expires_ns)) {
      // A no_wait request that got nothing is told there are no messages; the rest time out
      // with what they still wanted.
      const std::string h = done_no_wait && r.delivered == 0
                                ? status_headers(404, "No Messages")
                                : pending_status_headers(408, "Request Timeout", r.batch, r.max_bytes);
      client_->publish(*account_, r.reply, "", h, static_cast<int64_t>(h.size()));
      it = c.waiting.erase(it);
      continue;
    }
    if (!has_interest(r.reply)) {  // the requester went away
      it = c.waiting.erase(it);
      continue;
    }
    if (r.heartbeat_ns > 0) {
      if (now >= r.next_heartbeat_ns) {
        const std::string h = heartbeat_headers(c.state.delivered.consumer.value, c.cursor.prev().value, "");
        client_->publish(*account_, r.reply, "", h, static_cast<int64_t>(h.size()));
        r.next_heartbeat_ns = sat_add(now, r.heartbeat_ns);
      }
      earliest(next, r.next_heartbeat_ns);
    }
    earliest(next, r.expires_ns);
    ++it;
  }
}

}  // namespace forest::broker::js
