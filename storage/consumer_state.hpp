#pragma once
// How deliveries and acks change a ConsumerState: nats-server's consumer store
// UpdateDelivered / UpdateAcks (filestore.go), with the ack-floor walk of 2.10 (2.9.10 skips
// the walk after the first ack, leaving the floor behind) done as an ordered-map lookup
// instead of a loop over every stream sequence. Pure functions: the engine persists what
// the returned delta names.

#include <cstdint>
#include <expected>
#include <utility>
#include <vector>

#include "storage/error.hpp"
#include "storage/stream_config.hpp"
#include "storage/types.hpp"

namespace forest::storage {

// Which persisted pieces changed: pending / redelivered entries by stream sequence, all of
// them at once (cleared), and the fixed part (delivered, ack floor).
struct ConsumerDelta {
  std::vector<StreamSeq> pending_put;
  std::vector<StreamSeq> pending_del;
  std::vector<StreamSeq> redelivered_put;
  std::vector<StreamSeq> redelivered_del;
  bool record = false;    // delivered or ack floor moved (the small position record)
  bool config = false;    // the config changed (the consumer record with the config)
  bool cleared = false;  // every pending and redelivered entry erased
  [[nodiscard]] bool empty() const {
    return pending_put.empty() && pending_del.empty() && redelivered_put.empty() &&
           redelivered_del.empty() && !record && !config && !cleared;
  }
};

// A delivery of sseq as consumer sequence dseq, the `deliveries`-th time.
[[nodiscard]] std::expected<void, Error> record_delivered(ConsumerState& s, AckPolicy policy, ConsumerSeq dseq,
                                                          StreamSeq sseq, std::uint64_t deliveries,
                                                          UnixNanos time_ns, ConsumerDelta& delta);

// An ack (or term) of sseq delivered as dseq. Errc::message_not_found when sseq is not
// pending (already acked: the API layer answers as nats-server does), Errc::no_ack_policy for
// ack policy none.
[[nodiscard]] std::expected<void, Error> record_ack(ConsumerState& s, AckPolicy policy, ConsumerSeq dseq,
                                                    StreamSeq sseq, ConsumerDelta& delta);

// Drops sseq from pending (and redelivered) as an explicit ack would, whatever the ack
// policy: the message left the stream (limits, delete, purge) and will never be delivered
// again (nats-server treats this as a term). Returns false when it was not pending.
bool drop_pending(ConsumerState& s, StreamSeq sseq, ConsumerDelta& delta);

// After a purge that removed every message this consumer can see below `first` (the first
// remaining one): the cursor and ack floor move up to first - 1 (nats-server's
// consumer.purge); pending entries below `first` are dropped.
void purge_below(ConsumerState& s, StreamSeq first, ConsumerDelta& delta);

// Erases every pending and redelivered entry (a full purge removed all their messages).
void clear_pending(ConsumerState& s, ConsumerDelta& delta);

}  // namespace forest::storage
