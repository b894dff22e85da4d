// Consumer delivery on the service thread: the delivery pass (redeliveries first, then the
// last-per-subject skip list, then the stream from the cursor), pull requests (MSG.NEXT) and
// push delivery with interest and flow control, as nats-server 2.9.10's loopAndGatherMsgs,
// getNextMsg, processNextMsgRequest and deliverMsg.
#include <algorithm>

#include "../account.hpp"
#include "../server.hpp"
#include "../subject.hpp"
#include "consumer_wire.hpp"
#include "service.hpp"
#include "storage/consumer_state.hpp"

namespace forest::broker::js {
namespace {

// One consumer sends at most this many messages per pass, so a large backlog cannot hold the
// service thread (publishes, API requests and other consumers wait for it); the rest goes in
// the next pass, a turn later.
constexpr int kMaxPerPass = 256;

// How long `bytes` take at `bps` bits a second, in nanoseconds (bounded to an hour).
int64_t rate_ns(int64_t bytes, uint64_t bps) {
  if (bps == 0 || bytes <= 0) return 0;
  const long double ns = static_cast<long double>(bytes) * 8e9L / static_cast<long double>(bps);
  return static_cast<int64_t>(std::min<long double>(ns, 3.6e12L));
}

int64_t ack_wait_for(const ConsumerConfig& c, uint64_t deliveries) {
  if (!c.backoff_ns.empty()) {
    const std::size_t i = std::min<std::size_t>(deliveries == 0 ? 0 : deliveries - 1, c.backoff_ns.size() - 1);
    return c.backoff_ns[i];
  }
  return c.ack_wait_ns > 0 ? c.ack_wait_ns : kDefaultAckWaitNs;
}

}  // namespace

bool JetStreamService::has_interest(std::string_view subject) {
  auto r = account_->sublist().match(subject);
  return r && !r->empty();
}

void JetStreamService::queue_op(Stream& s, storage::OpBody body) {
  batch_for(s.store).ops.push_back(storage::Op{s.config.name, std::move(body)});
}

void JetStreamService::refresh_consumer(Stream& s, Consumer& c) {
  auto info = s.store->consumer_info(s.config.name, c.name);
  if (!info) return;
  c.state = std::move(info->state);
  if (c.cursor <= c.state.delivered.stream) c.cursor = c.state.delivered.stream.next();
  c.num_pending_valid = false;
  c.dirty = true;
}

void JetStreamService::mark_new_message(Stream& s, storage::StreamSeq seq, std::string_view subject) {
  for (auto& [name, c] : s.consumers) {
    if (!c->config.filter_subject.empty() && !subject_matches(c->config.filter_subject, subject)) continue;
    const storage::StreamSeq from = c->skip.empty() ? c->cursor : c->skip_resume;
    if (c->num_pending_valid && seq >= from) ++c->num_pending;
    c->dirty = true;
  }
}

uint64_t JetStreamService::pending_count(Stream& s, Consumer& c) {
  if (!c.num_pending_valid) {
    const storage::StreamSeq from = c.skip.empty() ? c.cursor : c.skip_resume;
    auto st = s.store->filtered_state(s.config.name, c.config.filter_subject, from);
    c.num_pending = (st ? st->msgs : 0) + c.skip.size();
    c.num_pending_valid = true;
  }
  return c.num_pending;
}

void JetStreamService::deliver_dirty() {
  delivering_ = true;
  bool more = false;
  for (auto& [sname, s] : streams_) {
    for (auto& [name, c] : s.consumers) {
      if (!c->dirty) continue;
      deliver(s, *c);
      more = more || c->dirty;
    }
  }
  delivering_ = false;
  if (more) post_commit();  // a consumer stopped at its per-pass bound: go on next turn
}

void JetStreamService::deliver(Stream& s, Consumer& c) {
  c.dirty = false;
  const int64_t now = now_ns();
  const storage::AckPolicy policy = c.store_ack_policy();
  bool end_of_stream = false;
  for (int sent = 0;; ++sent) {
    if (sent == kMaxPerPass) {
      c.dirty = true;
      break;
    }
    if (c.pull()) {
      if (c.waiting.empty()) break;
    } else if (!c.active || (c.fc_limit > 0 && c.fc_bytes > c.fc_window)) {
      break;
    }

    // Which message: a redelivery, the next last-per-subject entry, or the next in the stream.
    std::optional<storage::StoredMessage> msg;
    uint64_t deliveries = 1;
    bool from_redeliver = false, from_skip = false;
    while (!c.redeliver.empty()) {
      const storage::StreamSeq seq = c.redeliver.front();
      c.redeliver.pop_front();
      c.redeliver_set.erase(seq);
      if (!c.state.pending.contains(seq)) continue;  // acknowledged since
      auto rd = c.state.redelivered.find(seq);
      deliveries = (rd == c.state.redelivered.end() ? 0 : rd->second) + 2;
      auto loaded = s.store->load(s.config.name, seq);
      if (c.config.max_deliver > 0 && deliveries > static_cast<uint64_t>(c.config.max_deliver)) {
        notify_max_deliveries(s, c, seq, deliveries - 1);
        loaded = std::unexpected(storage::Error{storage::Errc::message_not_found, ""});
      }
      if (!loaded) {
        // Gone from the stream, or out of deliveries: never delivered again.
        storage::ConsumerDelta d;
        const storage::ConsumerSeq dseq = c.state.pending.at(seq).sequence;
        storage::drop_pending(c.state, seq, d);
        queue_op(s, storage::ConsumerTermOp{c.name, dseq, seq});
        continue;
      }
      msg = std::move(*loaded);
      from_redeliver = true;
      break;
    }
    if (!msg) {
      deliveries = 1;
      if (c.acks() && c.config.max_ack_pending > 0 &&
          static_cast<int64_t>(c.state.pending.size()) >= c.config.max_ack_pending) {
        break;  // stalled until an ack
      }
      if (!c.skip.empty()) {
        const storage::StreamSeq seq = c.skip.front();
        c.skip.pop_front();
        if (c.skip.empty()) c.cursor = std::max(c.cursor, c.skip_resume);
        auto loaded = s.store->load(s.config.name, seq);
        if (!loaded) {
          c.num_pending_valid = false;
          continue;
        }
        msg = std::move(*loaded);
        from_skip = true;
        // Delivered shows the last sent, as nats-server's cursor (it resumes after the skips).
        c.cursor = std::max(c.cursor, msg->seq.next());
      } else {
        auto next = s.store->load_next(s.config.name, c.config.filter_subject, c.cursor);
        if (!next || !*next) {
          if (auto st = s.store->stream_state(s.config.name); st && st->last_seq >= c.cursor) c.cursor = st->last_seq.next();
          end_of_stream = true;
          break;
        }
        msg = std::move(**next);
        c.cursor = msg->seq.next();
      }
    }
    // This message waits for a later pass (or request).
    auto put_back = [&] {
      if (from_redeliver) {
        c.redeliver.push_front(msg->seq);
        c.redeliver_set.insert(msg->seq);
      } else if (from_skip) {
        c.skip.push_front(msg->seq);
      } else {
        c.cursor = msg->seq;
      }
      c.num_pending_valid = false;
    };
    // replay_policy original: the gaps between the messages' time stamps, until the consumer
    // has caught up with what the stream held when it started (then instant, as nats-server).
    if (c.config.replay_policy == ReplayPolicy::original && msg->seq <= c.replay_until) {
      if (c.last_replay_ts_ns != 0 && msg->time_ns - c.last_replay_ts_ns > 1'000'000) {
        if (c.next_replay_ns == 0) c.next_replay_ns = sat_add(now, msg->time_ns - c.last_replay_ts_ns);
        if (now < c.next_replay_ns) {
          put_back();
          schedule_consumer_timer(c.next_replay_ns);
          break;
        }
      }
      c.next_replay_ns = 0;
      c.last_replay_ts_ns = msg->time_ns;
    }
    // rate_limit_bps: a token bucket as nats-server's (rate.Limiter of bps/8 bytes a second,
    // a burst of the stream's max_msg_size or the server's max_payload), kept as the time
    // its debt is paid (GCRA): a send may go while that lies less than the burst ahead.
    const int64_t burst_bytes = s.config.max_msg_size > 0 ? s.config.max_msg_size : server_.options()->max_payload;
    const int64_t burst_ns = rate_ns(burst_bytes, c.config.rate_limit_bps);
    if (c.config.rate_limit_bps > 0 && sat_add(c.rate_tokens_ns, -burst_ns) > now) {
      put_back();
      c.next_rate_ns = sat_add(c.rate_tokens_ns, -burst_ns);
      schedule_consumer_timer(c.next_rate_ns);
      break;
    }
    if (deliveries == 1 && c.num_pending_valid && c.num_pending > 0) --c.num_pending;

    const storage::ConsumerSeq dseq = c.state.delivered.consumer.next();
    const std::string reply =
        ack_reply_subject(s.config.name, c.name, deliveries, msg->seq.value, dseq.value, msg->time_ns, pending_count(s, c));
    std::string headers = c.config.headers_only ? headers_only(msg->headers, msg->data.size()) : msg->headers;
    const std::string_view data = c.config.headers_only ? std::string_view{} : std::string_view(msg->data);
    const int64_t size = static_cast<int64_t>(msg->subject.size() + reply.size() + headers.size() + data.size());

    std::string target;
    if (c.pull()) {
      PullRequest& r = c.waiting.front();
      if (r.max_bytes > 0 && size > r.max_bytes) {
        const std::string h = pending_status_headers(409, "Message Size Exceeds MaxBytes", r.batch, r.max_bytes);
        client_->publish(*account_, r.reply, "", h, static_cast<int64_t>(h.size()));
        c.waiting.pop_front();
        // (counted down above: put_back recounts)
        put_back();
        continue;
      }
      if (r.max_bytes > 0) {
        r.max_bytes -= size;
        if (r.max_bytes == 0) r.batch = 1;
      }
      target = r.reply;
      --r.batch;
      ++r.delivered;
      if (r.batch <= 0) {
        c.waiting.pop_front();
      } else {
        if (r.heartbeat_ns > 0) r.next_heartbeat_ns = sat_add(now, r.heartbeat_ns);
        if (c.waiting.size() > 1) {  // the next request takes the next message
          PullRequest moved = std::move(r);
          c.waiting.pop_front();
          c.waiting.push_back(std::move(moved));
        }
      }
      c.last_activity_ns = now;
    } else {
      target = c.config.deliver_subject;
    }

    std::string payload = std::move(headers);
    const auto header_size = static_cast<int64_t>(payload.size());
    payload.append(data);
    const bool taken =
        client_->publish(*account_, target, reply, payload, header_size == 0 ? -1 : header_size, msg->subject);

    if (c.config.rate_limit_bps > 0) {
      c.rate_tokens_ns = sat_add(std::max(c.rate_tokens_ns, now), rate_ns(size, c.config.rate_limit_bps));
    }
    storage::ConsumerDelta d;
    (void)storage::record_delivered(c.state, policy, dseq, msg->seq, deliveries, now, d);
    queue_op(s, storage::ConsumerDeliveredOp{c.name, dseq, msg->seq, deliveries, now});
    c.last_delivery_ns = now;
    if (!c.acks() && s.config.retention != Retention::limits) retention_checks_.emplace_back(s.config.name, msg->seq);
    if (c.acks()) {
      const int64_t due = sat_add(now, ack_wait_for(c.config, deliveries));
      if (c.next_ack_check_ns == 0 || due < c.next_ack_check_ns) c.next_ack_check_ns = due;
      schedule_consumer_timer(due);
    }
    if (!taken) {
      // Nobody took it (nats-server's didNotDeliver): a push consumer is no longer bound; a
      // pull consumer redelivers at once.
      if (!c.pull()) {
        c.active = false;
      } else if (c.acks() && c.redeliver_set.insert(msg->seq).second) {
        c.redeliver.push_back(msg->seq);
      }
    }
    if (!c.pull()) {
      if (c.config.idle_heartbeat_ns > 0) c.next_heartbeat_ns = sat_add(now, c.config.idle_heartbeat_ns);
      if (c.fc_limit > 0) {
        c.fc_bytes += static_cast<int64_t>(payload.size());
        if (c.fc_reply.empty() && c.fc_bytes > c.fc_window / 2) send_flow_control(s, c);
      }
    }
  }
  if (c.pull()) {
    int64_t unused = 0;
    check_waiting(s, c, now, end_of_stream, unused);
  }
}

void JetStreamService::send_flow_control(Stream& s, Consumer& c) {
  static constexpr std::string_view kDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string reply = "$JS.FC." + s.config.name + "." + c.name + ".";
  uint64_t n = static_cast<uint64_t>(now_ns()) ^ (c.state.delivered.consumer.value * 0x9E3779B97F4A7C15ULL);
  for (int i = 0; i < 4; ++i, n /= kDigits.size()) reply.push_back(kDigits[n % kDigits.size()]);
  c.fc_reply = reply;
  c.fc_size = c.fc_bytes;
  const std::string h = status_headers(100, "FlowControl Request");
  client_->publish(*account_, c.config.deliver_subject, reply, h, static_cast<int64_t>(h.size()));
}

void JetStreamService::on_flow_control(const std::string& stream, const std::string& name, const InternalMessage& m) {
  if (!running_) return;  // from a route too, as acks
  Stream* s = find(stream);
  if (s == nullptr) return;
  auto it = s->consumers.find(name);
  if (it == s->consumers.end()) return;
  Consumer& c = *it->second;
  if (m.subject != c.fc_reply) return;  // only the latest request counts
  if (c.fc_window < c.fc_limit) c.fc_window = std::min(c.fc_window * 2, c.fc_limit);
  c.fc_bytes = std::max<int64_t>(0, c.fc_bytes - c.fc_size);
  c.fc_reply.clear();
  c.fc_size = 0;
  c.dirty = true;
}

void JetStreamService::on_next_request(const InternalMessage& m, std::string_view stream, std::string_view name) {
  if (m.reply.empty()) return;
  Stream* s = find(stream);
  if (s == nullptr) return;
  auto it = s->consumers.find(name);
  if (it == s->consumers.end()) return;
  Consumer& c = *it->second;
  add_pull_request(*s, c, m.reply, m.body());
  deliver_dirty();
}

void JetStreamService::add_pull_request(Stream& s, Consumer& c, const std::string& reply, std::string_view body) {
  auto send_status = [&](int code, std::string_view text) {
    const std::string h = status_headers(code, text);
    client_->publish(*account_, reply, "", h, static_cast<int64_t>(h.size()));
  };
  if (!c.pull()) return send_status(409, "Consumer is push based");
  auto req = parse_next_request(body);
  if (!req) return send_status(400, "Bad Request - " + req.error());
  if (c.config.max_batch > 0 && req->batch > c.config.max_batch) {
    return send_status(409, "Exceeded MaxRequestBatch of " + std::to_string(c.config.max_batch));
  }
  if (req->expires_ns > 0 && c.config.max_expires_ns > 0 && req->expires_ns > c.config.max_expires_ns) {
    return send_status(409, "Exceeded MaxRequestExpires of " +
                                format_go_duration(std::chrono::duration_cast<Duration>(std::chrono::nanoseconds(c.config.max_expires_ns))));
  }
  if (req->max_bytes > 0 && c.config.max_bytes > 0 && req->max_bytes > c.config.max_bytes) {
    return send_status(409, "Exceeded MaxRequestMaxBytes of " + std::to_string(c.config.max_bytes));
  }
  const int64_t now = now_ns();
  const int64_t max_waiting = c.config.max_waiting > 0 ? c.config.max_waiting : kDefaultMaxWaiting;
  if (static_cast<int64_t>(c.waiting.size()) >= max_waiting) {
    int64_t unused = 0;
    check_waiting(s, c, now, false, unused);
  }
  if (req->no_wait) {
    const uint64_t available = pending_count(s, c) + c.redeliver.size();
    if (available == 0 && req->expires_ns == 0) return send_status(404, "No Messages");
    if (available > 0) {
      int64_t waiting_batch = 0;
      for (const PullRequest& r : c.waiting) waiting_batch = sat_add(waiting_batch, r.batch);
      if (available < static_cast<uint64_t>(waiting_batch)) return send_status(408, "Requests Pending");
    }
  }
  if (static_cast<int64_t>(c.waiting.size()) >= max_waiting) return send_status(409, "Exceeded MaxWaiting");
  PullRequest r;
  r.reply = reply;
  r.batch = std::max<int64_t>(1, req->batch);  // 0 or less: one message, as nats-server's queue pops it
  r.max_bytes = req->max_bytes;
  r.no_wait = req->no_wait;
  r.expires_ns = req->expires_ns > 0 ? sat_add(now, req->expires_ns) : 0;
  r.heartbeat_ns = req->heartbeat_ns;
  if (r.heartbeat_ns > 0) r.next_heartbeat_ns = sat_add(now, r.heartbeat_ns);
  c.waiting.push_back(std::move(r));
  c.last_activity_ns = now;
  c.dirty = true;
  if (req->expires_ns > 0) schedule_consumer_timer(sat_add(now, req->expires_ns));
  if (req->heartbeat_ns > 0) schedule_consumer_timer(sat_add(now, req->heartbeat_ns));
}

}  // namespace forest::broker::js
