// Encoding of op records. Layout: u8 format version (2), u8 op type (the variant index + 1),
// the stream name, then the op's fields in declaration order. Adding a field means a new
// version; decoding keeps accepting the old ones. Version 2 added StoreMsgOp::at_seq.

#include <type_traits>

#include "storage/codec.hpp"
#include "storage/op_record.hpp"

namespace forest::storage {

namespace {

constexpr std::uint8_t op_format_version = 2;
constexpr std::uint8_t op_oldest_version = 1;

using codec::put_bytes;
using codec::put_svarint;
using codec::put_u8;
using codec::put_varint;

void put_opt_seq(std::string& out, const std::optional<StreamSeq>& s) {
  put_u8(out, s ? 1 : 0);
  if (s) put_varint(out, s->value);
}

std::optional<StreamSeq> read_opt_seq(codec::Reader& in) {
  if (!in.boolean()) return std::nullopt;
  return StreamSeq(in.varint());
}

template <class E>
E read_enum(codec::Reader& in, std::uint8_t max) {
  std::uint8_t v = in.u8();
  if (v > max) {
    in.invalidate();
    return E{};
  }
  return static_cast<E>(v);
}

// Writers, one per op type.
void put(std::string& out, const StreamCreateOp& op) {
  encode_stream_config(out, op.config);
  put_svarint(out, op.time_ns);
}
void put(std::string& out, const StreamUpdateOp& op) {
  encode_stream_config(out, op.config);
  put_svarint(out, op.time_ns);
}
void put(std::string&, const StreamDeleteOp&) {}
void put(std::string& out, const StoreMsgOp& op) {
  put_bytes(out, op.subject);
  put_bytes(out, op.headers);
  put_bytes(out, op.data);
  put_svarint(out, op.time_ns);
  put_bytes(out, op.msg_id);
  put_opt_seq(out, op.expected_last_seq);
  put_opt_seq(out, op.expected_last_subject_seq);
  put_u8(out, op.expected_last_msg_id ? 1 : 0);
  if (op.expected_last_msg_id) put_bytes(out, *op.expected_last_msg_id);
  put_u8(out, static_cast<std::uint8_t>(op.rollup));
  put_opt_seq(out, op.at_seq);
}
void put(std::string& out, const DeleteMsgOp& op) {
  put_varint(out, op.seq.value);
  put_u8(out, op.erase ? 1 : 0);
  put_u8(out, static_cast<std::uint8_t>(op.reason));
}
void put(std::string& out, const PurgeOp& op) {
  put_bytes(out, op.filter);
  put_varint(out, op.seq.value);
  put_varint(out, op.keep);
}
void put(std::string& out, const ExpireOp& op) { put_svarint(out, op.now_ns); }
void put(std::string& out, const ConsumerCreateOp& op) {
  encode_consumer_config(out, op.config);
  put_svarint(out, op.time_ns);
}
void put(std::string& out, const ConsumerUpdateOp& op) { encode_consumer_config(out, op.config); }
void put(std::string& out, const ConsumerDeleteOp& op) { put_bytes(out, op.name); }
void put(std::string& out, const ConsumerDeliveredOp& op) {
  put_bytes(out, op.consumer);
  put_varint(out, op.dseq.value);
  put_varint(out, op.sseq.value);
  put_varint(out, op.deliveries);
  put_svarint(out, op.time_ns);
}
void put(std::string& out, const ConsumerAckOp& op) {
  put_bytes(out, op.consumer);
  put_varint(out, op.dseq.value);
  put_varint(out, op.sseq.value);
}
void put(std::string& out, const ConsumerNakOp& op) {
  put_bytes(out, op.consumer);
  put_varint(out, op.sseq.value);
  put_svarint(out, op.timestamp_ns);
}
void put(std::string& out, const ConsumerTermOp& op) {
  put_bytes(out, op.consumer);
  put_varint(out, op.dseq.value);
  put_varint(out, op.sseq.value);
}

// Readers, one per op type.
void get(codec::Reader& in, StreamCreateOp& op) {
  decode_stream_config(in, op.config);
  op.time_ns = in.svarint();
}
void get(codec::Reader& in, StreamUpdateOp& op) {
  decode_stream_config(in, op.config);
  op.time_ns = in.svarint();
}
void get(codec::Reader&, StreamDeleteOp&) {}
void get(codec::Reader& in, StoreMsgOp& op) {
  op.subject = in.string();
  op.headers = in.string();
  op.data = in.string();
  op.time_ns = in.svarint();
  op.msg_id = in.string();
  op.expected_last_seq = read_opt_seq(in);
  op.expected_last_subject_seq = read_opt_seq(in);
  if (in.boolean()) op.expected_last_msg_id = in.string();
  op.rollup = read_enum<Rollup>(in, 2);
}
void get(codec::Reader& in, DeleteMsgOp& op) {
  op.seq = StreamSeq(in.varint());
  op.erase = in.boolean();
  op.reason = read_enum<DeleteReason>(in, 1);
}
void get(codec::Reader& in, PurgeOp& op) {
  op.filter = in.string();
  op.seq = StreamSeq(in.varint());
  op.keep = in.varint();
}
void get(codec::Reader& in, ExpireOp& op) { op.now_ns = in.svarint(); }
void get(codec::Reader& in, ConsumerCreateOp& op) {
  decode_consumer_config(in, op.config);
  op.time_ns = in.svarint();
}
void get(codec::Reader& in, ConsumerUpdateOp& op) { decode_consumer_config(in, op.config); }
void get(codec::Reader& in, ConsumerDeleteOp& op) { op.name = in.string(); }
void get(codec::Reader& in, ConsumerDeliveredOp& op) {
  op.consumer = in.string();
  op.dseq = ConsumerSeq(in.varint());
  op.sseq = StreamSeq(in.varint());
  op.deliveries = in.varint();
  op.time_ns = in.svarint();
}
void get(codec::Reader& in, ConsumerAckOp& op) {
  op.consumer = in.string();
  op.dseq = ConsumerSeq(in.varint());
  op.sseq = StreamSeq(in.varint());
}
void get(codec::Reader& in, ConsumerNakOp& op) {
  op.consumer = in.string();
  op.sseq = StreamSeq(in.varint());
  op.timestamp_ns = in.svarint();
}
void get(codec::Reader& in, ConsumerTermOp& op) {
  op.consumer = in.string();
  op.dseq = ConsumerSeq(in.varint());
  op.sseq = StreamSeq(in.varint());
}

// Builds the variant alternative with index I when the type byte says so.
template <std::size_t I = 0>
bool decode_body(std::size_t index, std::uint8_t version, codec::Reader& in, OpBody& body) {
  if constexpr (I < std::variant_size_v<OpBody>) {
    if (index == I) {
      std::variant_alternative_t<I, OpBody> op;
      get(in, op);
      if constexpr (std::is_same_v<decltype(op), StoreMsgOp>) {
        if (version >= 2) op.at_seq = read_opt_seq(in);
      }
      body = std::move(op);
      return true;
    }
    return decode_body<I + 1>(index, version, in, body);
  } else {
    return false;
  }
}

}  // namespace

void encode_stream_config(std::string& out, const StreamConfig& c) {
  put_bytes(out, c.name);
  put_varint(out, c.subjects.size());
  for (const auto& s : c.subjects) put_bytes(out, s);
  put_u8(out, static_cast<std::uint8_t>(c.retention));
  put_svarint(out, c.max_consumers);
  put_svarint(out, c.max_msgs);
  put_svarint(out, c.max_bytes);
  put_svarint(out, c.max_age_ns);
  put_svarint(out, c.max_msgs_per_subject);
  put_svarint(out, c.max_msg_size);
  put_u8(out, static_cast<std::uint8_t>(c.discard));
  put_u8(out, c.discard_new_per_subject ? 1 : 0);
  put_svarint(out, c.duplicate_window_ns);
  put_u8(out, static_cast<std::uint8_t>(c.storage));
  std::uint8_t flags = (c.deny_delete ? 1 : 0) | (c.deny_purge ? 2 : 0) | (c.sealed ? 4 : 0) |
                       (c.allow_rollup ? 8 : 0);
  put_u8(out, flags);
  put_bytes(out, c.api_json);
}

void decode_stream_config(codec::Reader& in, StreamConfig& c) {
  c.name = in.string();
  std::uint64_t n = in.varint();
  c.subjects.clear();
  for (std::uint64_t i = 0; i < n && in.ok(); ++i) c.subjects.push_back(in.string());
  c.retention = read_enum<Retention>(in, 2);
  c.max_consumers = in.svarint();
  c.max_msgs = in.svarint();
  c.max_bytes = in.svarint();
  c.max_age_ns = in.svarint();
  c.max_msgs_per_subject = in.svarint();
  c.max_msg_size = static_cast<std::int32_t>(in.svarint());
  c.discard = read_enum<Discard>(in, 1);
  c.discard_new_per_subject = in.boolean();
  c.duplicate_window_ns = in.svarint();
  c.storage = read_enum<StorageType>(in, 1);
  std::uint8_t flags = in.u8();
  c.deny_delete = flags & 1;
  c.deny_purge = flags & 2;
  c.sealed = flags & 4;
  c.allow_rollup = flags & 8;
  c.api_json = in.string();
}

void encode_consumer_config(std::string& out, const ConsumerConfig& c) {
  put_bytes(out, c.name);
  put_u8(out, static_cast<std::uint8_t>((c.durable ? 1 : 0) | (c.direct ? 2 : 0)));
  put_u8(out, static_cast<std::uint8_t>(c.ack_policy));
  put_u8(out, static_cast<std::uint8_t>(c.deliver_policy));
  put_varint(out, c.opt_start_seq.value);
  put_svarint(out, c.opt_start_time_ns);
  put_bytes(out, c.filter_subject);
  put_bytes(out, c.api_json);
}

void decode_consumer_config(codec::Reader& in, ConsumerConfig& c) {
  c.name = in.string();
  std::uint8_t flags = in.u8();
  c.durable = flags & 1;
  c.direct = flags & 2;
  c.ack_policy = read_enum<AckPolicy>(in, 2);
  c.deliver_policy = read_enum<DeliverPolicy>(in, 5);
  c.opt_start_seq = StreamSeq(in.varint());
  c.opt_start_time_ns = in.svarint();
  c.filter_subject = in.string();
  c.api_json = in.string();
}

std::string encode_op(const Op& op) {
  std::string out;
  out.reserve(64);
  put_u8(out, op_format_version);
  put_u8(out, static_cast<std::uint8_t>(op.body.index() + 1));
  put_bytes(out, op.stream);
  std::visit([&](const auto& body) { put(out, body); }, op.body);
  return out;
}

std::expected<Op, Error> decode_op(std::string_view bytes) {
  codec::Reader in(bytes);
  std::uint8_t version = in.u8();
  if (!in.ok() || version < op_oldest_version || version > op_format_version) {
    return fail(Errc::corrupt, "op record: unknown format version " + std::to_string(version));
  }
  std::uint8_t type = in.u8();
  Op op;
  op.stream = in.string();
  if (!in.ok() || type == 0 || !decode_body(type - 1u, version, in, op.body)) {
    return fail(Errc::corrupt, "op record: unknown op type " + std::to_string(type));
  }
  if (!in.ok()) return fail(Errc::corrupt, "op record: truncated or malformed fields");
  if (!in.at_end()) return fail(Errc::corrupt, "op record: trailing bytes");
  return op;
}

}  // namespace forest::storage
