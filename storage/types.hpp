#pragma once
// Value types the store hands out: messages, stream and subject state, consumer state.
// Field meanings follow nats-server 2.9.10's store.go (StreamState, SimpleState,
// ConsumerState) so the API layer can fill its JSON replies field by field.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace forest::storage {

// A sequence number of one kind. Stream and consumer sequences are different types so an
// ack's (consumer seq, stream seq) pair cannot be swapped silently (nats-server's
// UpdateDelivered(dseq, sseq, ...) argument order is easy to get wrong).
template <class Tag>
struct Seq {
  std::uint64_t value = 0;
  constexpr Seq() = default;
  constexpr explicit Seq(std::uint64_t v) : value(v) {}
  constexpr auto operator<=>(const Seq&) const = default;
  [[nodiscard]] constexpr Seq next() const { return Seq(value + 1); }
  [[nodiscard]] constexpr Seq prev() const { return Seq(value - 1); }
  [[nodiscard]] constexpr bool zero() const { return value == 0; }
};
using StreamSeq = Seq<struct StreamSeqTag>;
using ConsumerSeq = Seq<struct ConsumerSeqTag>;

// Nanoseconds since the Unix epoch, as nats-server's time stamps (int64 UnixNano).
using UnixNanos = std::int64_t;

struct StoredMessage {
  StreamSeq seq;
  std::string subject;
  std::string headers;  // raw "NATS/1.0\r\n..." block, empty when the message had none
  std::string data;
  UnixNanos time_ns = 0;
  bool operator==(const StoredMessage&) const = default;
};

struct StreamState {
  std::uint64_t msgs = 0;
  std::uint64_t bytes = 0;  // nats-server's accounting (see stored_size in stream_config.hpp)
  StreamSeq first_seq;
  UnixNanos first_ts_ns = 0;  // 0 when the stream is empty
  StreamSeq last_seq;
  UnixNanos last_ts_ns = 0;
  std::uint64_t num_deleted = 0;  // interior gaps between first and last
  std::uint64_t num_subjects = 0;
  std::uint64_t consumer_count = 0;
  std::vector<StreamSeq> deleted;  // only when asked for (it scans the range)
  bool operator==(const StreamState&) const = default;
};

// nats-server's SimpleState: how many messages a subject (or filter) has, first and last.
struct SubjectState {
  std::uint64_t msgs = 0;
  StreamSeq first;
  StreamSeq last;
  bool operator==(const SubjectState&) const = default;
};

// A run of stream sequences [first, last] that an op removed (some may have been gone
// already: purges report whole ranges, not per-message gaps).
struct SeqRange {
  StreamSeq first;
  StreamSeq last;
  bool operator==(const SeqRange&) const = default;
};

struct SequencePair {
  ConsumerSeq consumer;
  StreamSeq stream;
  bool operator==(const SequencePair&) const = default;
};

// One delivered-but-unacknowledged message: the consumer sequence of its latest delivery and
// when that delivery happened (the ack_wait clock starts there).
struct PendingAck {
  ConsumerSeq sequence;
  UnixNanos timestamp_ns = 0;
  bool operator==(const PendingAck&) const = default;
};

// nats-server's ConsumerState. Ordered maps: the ack floor moves to the lowest pending entry,
// and encodings and comparisons are deterministic.
struct ConsumerState {
  SequencePair delivered;  // last delivered (or, after a start or purge, the cursor - 1)
  SequencePair ack_floor;  // everything at or below is acknowledged
  std::map<StreamSeq, PendingAck> pending;
  std::map<StreamSeq, std::uint64_t> redelivered;  // stream seq -> times redelivered (count - 1)
  bool operator==(const ConsumerState&) const = default;
};

}  // namespace forest::storage

template <class Tag>
struct std::hash<forest::storage::Seq<Tag>> {
  std::size_t operator()(const forest::storage::Seq<Tag>& s) const noexcept {
    return std::hash<std::uint64_t>{}(s.value);
  }
};
