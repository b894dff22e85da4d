#include "storage/records.hpp"

#include "storage/codec.hpp"
#include "storage/op_record.hpp"

namespace forest::storage::records {

using codec::put_bytes;
using codec::put_svarint;
using codec::put_varint;

namespace {
// Accept a record only if it decoded completely.
template <class T>
std::optional<T> done(const codec::Reader& in, T value) {
  if (!in.ok() || !in.at_end()) return std::nullopt;
  return value;
}
}  // namespace

std::string encode(const Global& g) {
  std::string out;
  put_varint(out, g.format_version);
  put_varint(out, g.next_stream_id);
  return out;
}
std::optional<Global> decode_global(std::string_view v) {
  codec::Reader in(v);
  Global g;
  g.format_version = in.varint();
  g.next_stream_id = in.varint();
  return done(in, g);
}

std::string encode(const StreamMetaRecord& r) {
  std::string out;
  put_varint(out, r.id);
  put_svarint(out, r.created_ns);
  encode_stream_config(out, r.config);
  return out;
}
std::optional<StreamMetaRecord> decode_stream_meta(std::string_view v) {
  codec::Reader in(v);
  StreamMetaRecord r;
  r.id = in.varint();
  r.created_ns = in.svarint();
  decode_stream_config(in, r.config);
  return done(in, std::move(r));
}

std::string encode(const StreamStateRecord& r) {
  std::string out;
  out.reserve(48 + r.last_msg_id.size());
  put_varint(out, r.msgs);
  put_varint(out, r.bytes);
  put_varint(out, r.first_seq);
  put_svarint(out, r.first_ts_ns);
  put_varint(out, r.last_seq);
  put_svarint(out, r.last_ts_ns);
  put_varint(out, r.num_subjects);
  put_varint(out, r.next_consumer_id);
  put_bytes(out, r.last_msg_id);
  return out;
}
std::optional<StreamStateRecord> decode_stream_state(std::string_view v) {
  codec::Reader in(v);
  StreamStateRecord r;
  r.msgs = in.varint();
  r.bytes = in.varint();
  r.first_seq = in.varint();
  r.first_ts_ns = in.svarint();
  r.last_seq = in.varint();
  r.last_ts_ns = in.svarint();
  r.num_subjects = in.varint();
  r.next_consumer_id = in.varint();
  r.last_msg_id = in.string();
  return done(in, std::move(r));
}

std::string encode_message(UnixNanos time_ns, std::string_view subject, std::string_view headers,
                           std::string_view data) {
  std::string out;
  out.reserve(24 + subject.size() + headers.size() + data.size());
  put_svarint(out, time_ns);
  put_bytes(out, subject);
  put_bytes(out, headers);
  out.append(data);  // the rest of the value
  return out;
}
std::optional<MessageView> decode_message(std::string_view v) {
  codec::Reader in(v);
  MessageView m;
  m.time_ns = in.svarint();
  m.subject = in.bytes();
  m.headers = in.bytes();
  if (!in.ok()) return std::nullopt;
  m.data = in.rest();
  return m;
}

std::string encode(const SubjectState& s) {
  std::string out;
  put_varint(out, s.msgs);
  put_varint(out, s.first.value);
  put_varint(out, s.last.value);
  return out;
}
std::optional<SubjectState> decode_summary(std::string_view v) {
  codec::Reader in(v);
  SubjectState s;
  s.msgs = in.varint();
  s.first = StreamSeq(in.varint());
  s.last = StreamSeq(in.varint());
  return done(in, s);
}

std::string encode_index_value(std::uint64_t stored_size) {
  std::string out;
  put_varint(out, stored_size);
  return out;
}
std::uint64_t decode_index_value(std::string_view v) {
  codec::Reader in(v);
  return in.varint();
}

std::string encode(const ConsumerRecord& r) {
  std::string out;
  put_varint(out, r.id);
  put_svarint(out, r.created_ns);
  encode_consumer_config(out, r.config);
  put_varint(out, r.delivered.consumer.value);
  put_varint(out, r.delivered.stream.value);
  put_varint(out, r.ack_floor.consumer.value);
  put_varint(out, r.ack_floor.stream.value);
  return out;
}
std::optional<ConsumerRecord> decode_consumer(std::string_view v) {
  codec::Reader in(v);
  ConsumerRecord r;
  r.id = in.varint();
  r.created_ns = in.svarint();
  decode_consumer_config(in, r.config);
  r.delivered.consumer = ConsumerSeq(in.varint());
  r.delivered.stream = StreamSeq(in.varint());
  r.ack_floor.consumer = ConsumerSeq(in.varint());
  r.ack_floor.stream = StreamSeq(in.varint());
  return done(in, std::move(r));
}

std::string encode(const ConsumerPosition& p) {
  std::string out;
  put_varint(out, p.delivered.consumer.value);
  put_varint(out, p.delivered.stream.value);
  put_varint(out, p.ack_floor.consumer.value);
  put_varint(out, p.ack_floor.stream.value);
  return out;
}
std::optional<ConsumerPosition> decode_position(std::string_view v) {
  codec::Reader in(v);
  ConsumerPosition p;
  p.delivered.consumer = ConsumerSeq(in.varint());
  p.delivered.stream = StreamSeq(in.varint());
  p.ack_floor.consumer = ConsumerSeq(in.varint());
  p.ack_floor.stream = StreamSeq(in.varint());
  return done(in, p);
}

std::string encode(const PendingAck& p) {
  std::string out;
  put_varint(out, p.sequence.value);
  put_svarint(out, p.timestamp_ns);
  return out;
}
std::optional<PendingAck> decode_pending(std::string_view v) {
  codec::Reader in(v);
  PendingAck p;
  p.sequence = ConsumerSeq(in.varint());
  p.timestamp_ns = in.svarint();
  return done(in, p);
}

std::string encode(const DedupeEntry& d) {
  std::string out;
  put_varint(out, d.seq);
  put_svarint(out, d.time_ns);
  return out;
}
std::optional<DedupeEntry> decode_dedupe(std::string_view v) {
  codec::Reader in(v);
  DedupeEntry d;
  d.seq = in.varint();
  d.time_ns = in.svarint();
  return done(in, d);
}

std::string encode_count(std::uint64_t n) {
  std::string out;
  put_varint(out, n);
  return out;
}
std::optional<std::uint64_t> decode_count(std::string_view v) {
  codec::Reader in(v);
  std::uint64_t n = in.varint();
  return done(in, n);
}

}  // namespace forest::storage::records
