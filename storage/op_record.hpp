#pragma once
// The operation log: every change to a stream or its consumers is one Op, applied by the
// store's deterministic apply() (no clock, no randomness inside: every time stamp travels in
// the record). A later Raft layer replicates encoded ops and applies them on every replica;
// the same log applied to two fresh stores gives the same state and contents.
//
// Which checks live where (see README.md, "apply vs the caller"):
// - apply decides everything that depends on stream or consumer state: sequence numbers,
//   dedupe within the window, expected-last-sequence/-subject-sequence/-msg-id, discard new,
//   max_msg_size, rollups, limits, interest retention with no interested consumer, sealed /
//   deny_delete / deny_purge, consumer start positions, work-queue consumer rules.
// - the caller (API layer) decides what depends only on the request: JSON parsing and
//   defaults, config validation and immutable fields, Nats-Expected-Stream, account limits.

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "storage/codec.hpp"
#include "storage/error.hpp"
#include "storage/stream_config.hpp"
#include "storage/types.hpp"

namespace forest::storage {

enum class Rollup : std::uint8_t { none = 0, subject = 1, all = 2 };

// The same config again is a success that changes nothing (a retried create, a replayed
// log); another config for an existing name is Errc::stream_exists.
struct StreamCreateOp {
  StreamConfig config;  // config.name must equal Op::stream
  UnixNanos time_ns = 0;  // "created"
};
// Applies lower limits at once (max_msgs, max_bytes, max_msgs_per_subject over every
// subject, max_age at time_ns). The storage type cannot change (Errc::invalid_argument).
struct StreamUpdateOp {
  StreamConfig config;
  UnixNanos time_ns = 0;  // "now" for max_age enforcement of the new config
};
struct StreamDeleteOp {};

// A publish. The API layer parses the Nats-* headers into the fields below (the raw headers
// are stored as they came).
struct StoreMsgOp {
  std::string subject;
  std::string headers;
  std::string data;
  UnixNanos time_ns = 0;  // the message's time stamp, also "now" for the dedupe window
  std::string msg_id;     // Nats-Msg-Id, empty if none
  std::optional<StreamSeq> expected_last_seq;          // Nats-Expected-Last-Sequence
  std::optional<StreamSeq> expected_last_subject_seq;  // Nats-Expected-Last-Subject-Sequence
  std::optional<std::string> expected_last_msg_id;     // Nats-Expected-Last-Msg-Id
  Rollup rollup = Rollup::none;                        // Nats-Rollup: sub | all
  // A mirror's copy keeps its origin's sequence: stored at exactly this one (which must be
  // above the last, else Errc::wrong_last_sequence), the ones between are skipped as
  // deleted, as nats-server's SkipMsgs. Unset: the next sequence.
  std::optional<StreamSeq> at_seq;
};

enum class DeleteReason : std::uint8_t {
  api = 0,        // STREAM.MSG.DELETE: refused on deny_delete streams
  retention = 1,  // interest / work-queue removal once acknowledged: allowed on deny_delete
                  // and sealed streams (see StreamStore::needs_ack)
};
struct DeleteMsgOp {
  StreamSeq seq;
  bool erase = false;  // also scrub the bytes from disk (RocksStore compacts the key range)
  DeleteReason reason = DeleteReason::api;
};

// STREAM.PURGE: filter (wildcards allowed, empty = all), sequence (remove below it), keep
// (keep the newest N). nats-server refuses seq > 1 together with keep > 0. Unfiltered keep is
// sequence-based as in nats-server (everything below last - keep + 1 goes); a sequence past
// the end empties the stream and makes it the next one. Consumers whose filter lies inside
// the purge filter move their cursor and ack floor to the first remaining match - 1; every
// consumer drops the removed messages from pending (ApplyResult::consumers_changed).
struct PurgeOp {
  std::string filter;
  StreamSeq seq;
  std::uint64_t keep = 0;
};

// max_age: removes messages from the front whose time stamp is <= now_ns - max_age (the
// config at apply time). The caller runs it on a timer, see StreamStore::next_expiry.
struct ExpireOp {
  UnixNanos now_ns = 0;
};

// The same config again is a success that changes nothing; another config for an existing
// name is Errc::consumer_exists. ApplyResult::seq is the first stream sequence to deliver.
struct ConsumerCreateOp {
  ConsumerConfig config;
  UnixNanos time_ns = 0;  // "created"; also resolves deliver_policy by_start_time
};
// Replaces the config (the API layer checked which fields may change); state is kept.
struct ConsumerUpdateOp {
  ConsumerConfig config;
};
struct ConsumerDeleteOp {
  std::string name;
};
// A delivery (first or redelivery: `deliveries` counts them, 1 for the first).
struct ConsumerDeliveredOp {
  std::string consumer;
  ConsumerSeq dseq;
  StreamSeq sseq;
  std::uint64_t deliveries = 1;
  UnixNanos time_ns = 0;
};
// +ACK (and +NXT's ack). With ack policy all it acknowledges everything up to sseq.
struct ConsumerAckOp {
  std::string consumer;
  ConsumerSeq dseq;
  StreamSeq sseq;
};
// -NAK: the message stays pending; its pending time stamp becomes `timestamp_ns` so that a
// restarted server redelivers it when the caller wants (e.g. now - ack_wait + delay).
struct ConsumerNakOp {
  std::string consumer;
  StreamSeq sseq;
  UnixNanos timestamp_ns = 0;
};
// +TERM: never redeliver; removed from pending like an explicit ack of that one message.
struct ConsumerTermOp {
  std::string consumer;
  ConsumerSeq dseq;
  StreamSeq sseq;
};

using OpBody = std::variant<StreamCreateOp, StreamUpdateOp, StreamDeleteOp, StoreMsgOp, DeleteMsgOp,
                            PurgeOp, ExpireOp, ConsumerCreateOp, ConsumerUpdateOp, ConsumerDeleteOp,
                            ConsumerDeliveredOp, ConsumerAckOp, ConsumerNakOp, ConsumerTermOp>;

struct Op {
  std::string stream;
  OpBody body;
};

// What an op did. Fields not relevant to an op stay zero/empty.
struct ApplyResult {
  StreamSeq seq;          // store: the assigned sequence (the original one when duplicate);
                          // delete: the sequence; consumer create: the first sequence to deliver
  UnixNanos time_ns = 0;  // store: the message's time stamp
  bool duplicate = false;  // store: Nats-Msg-Id seen within the window, nothing stored
  bool skipped = false;    // store: interest retention without an interested consumer: the
                           // sequence is used, nothing is stored (as nats-server's SkipMsg)
  std::uint64_t removed_msgs = 0;   // messages this op removed (purge count, limits, expiry)
  std::uint64_t removed_bytes = 0;
  std::vector<SeqRange> removed;    // which sequences (coalesced runs)
  // Consumers whose persisted state this op changed as a side effect (pending entries of
  // removed messages dropped, cursor moved by a purge): the API layer re-reads them.
  std::vector<std::string> consumers_changed;
};

// One op's outcome inside a batch: rejected ops (Errc::max_msgs, ...) do not stop the batch.
using OpOutcome = std::expected<ApplyResult, Error>;

// Encoded form for replication: a version byte, the op type and its fields. decode_op
// rejects unknown versions and types and truncated input (Errc::corrupt).
[[nodiscard]] std::string encode_op(const Op& op);
[[nodiscard]] std::expected<Op, Error> decode_op(std::string_view bytes);

// Shared with the stores' metadata records; a failed decode leaves `in.ok()` false.
void encode_stream_config(std::string& out, const StreamConfig& c);
void decode_stream_config(codec::Reader& in, StreamConfig& c);
void encode_consumer_config(std::string& out, const ConsumerConfig& c);
void decode_consumer_config(codec::Reader& in, ConsumerConfig& c);

}  // namespace forest::storage
