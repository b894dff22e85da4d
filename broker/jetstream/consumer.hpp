// A consumer's runtime on the service thread: its config, a mirror of the state the store
// holds (kept with the store's own pure rules, storage/consumer_state.hpp, so the two agree
// by construction), the delivery cursor, the redelivery queue, waiting pull requests, flow
// control and the clocks (ack wait, heartbeats, inactivity). Every field belongs to the
// service thread.
#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "../subscription.hpp"
#include "consumer_config.hpp"
#include "storage/stream_config.hpp"
#include "storage/types.hpp"

namespace forest::broker::js {

// Time stamp arithmetic with client-given durations (expires, delays, thresholds of any
// int64 size): saturates instead of overflowing.
[[nodiscard]] inline int64_t sat_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

// A MSG.NEXT request waiting for messages (nats-server's waitingRequest).
struct PullRequest {
  std::string reply;
  int64_t batch = 1;       // messages still to send
  int64_t max_bytes = 0;   // bytes still allowed; 0 = no limit
  bool no_wait = false;
  int64_t delivered = 0;   // messages sent so far
  int64_t expires_ns = 0;  // absolute; 0 = never
  int64_t heartbeat_ns = 0;
  int64_t next_heartbeat_ns = 0;
};

struct Consumer {
  std::string stream;
  std::string name;
  ConsumerConfig config;
  int64_t created_ns = 0;
  storage::ConsumerState state;  // mirror of the store's (ops queued are already in it)

  // Delivery position: the next stream sequence to look at (nats-server's o.sseq).
  storage::StreamSeq cursor;
  // deliver_policy last_per_subject at the start: the subjects' last sequences still to
  // deliver, then the cursor resumes at skip_resume.
  std::deque<storage::StreamSeq> skip;
  storage::StreamSeq skip_resume;
  // Messages whose ack wait ran out (or were nak'ed), oldest first.
  std::deque<storage::StreamSeq> redeliver;
  std::set<storage::StreamSeq> redeliver_set;
  // Messages left to deliver: the count of the filter at or after the cursor (cached).
  uint64_t num_pending = 0;
  bool num_pending_valid = false;

  std::deque<PullRequest> waiting;  // pull consumers

  // Push: whether the deliver subject has interest (nats-server's o.active).
  bool active = false;
  // Flow control (push with flow_control): bytes sent since the last answered request, the
  // window, and the reply subject of the request in flight.
  int64_t fc_bytes = 0;
  int64_t fc_window = 0;
  int64_t fc_limit = 0;
  std::string fc_reply;
  int64_t fc_size = 0;

  int64_t last_delivery_ns = 0;  // "last_active" of delivered
  int64_t last_ack_ns = 0;       // "last_active" of ack_floor
  int64_t last_activity_ns = 0;  // interest or requests seen (inactive_threshold)
  int64_t next_heartbeat_ns = 0;  // push idle heartbeat
  int64_t next_ack_check_ns = 0;  // earliest pending deadline; 0 = none
  int64_t next_replay_ns = 0;     // replay original: when the next message may go
  int64_t last_replay_ts_ns = 0;  // the time stamp of the last message replayed
  storage::StreamSeq replay_until;  // the stream's last sequence when the consumer started
  int64_t rate_tokens_ns = 0;     // rate_limit_bps: when what was sent is paid for (GCRA)
  int64_t next_rate_ns = 0;       // rate_limit_bps: a stopped pass goes on then; 0 = none

  SubPtr ack_sub;
  SubPtr fc_sub;
  bool dirty = false;  // something may be deliverable: the service's next delivery pass looks
  bool deleted = false;

  [[nodiscard]] bool pull() const { return config.pull(); }
  [[nodiscard]] bool acks() const { return config.ack_policy != AckPolicy::none; }
  [[nodiscard]] storage::AckPolicy store_ack_policy() const {
    return config.ack_policy == AckPolicy::none  ? storage::AckPolicy::none
           : config.ack_policy == AckPolicy::all ? storage::AckPolicy::all
                                                 : storage::AckPolicy::explicit_ack;
  }
};

}  // namespace forest::broker::js
