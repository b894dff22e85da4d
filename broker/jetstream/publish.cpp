// The publishing path: a message on a stream's subject becomes a StoreMsgOp in this turn's
// batch; its pub ack is written once the batch is applied (service.cpp, commit()).
#include "../server.hpp"
#include "pub_headers.hpp"
#include "service.hpp"

namespace forest::broker::js {
namespace {

// A store's refusal as nats-server words it in the pub ack.
ApiError store_refusal(const storage::Error& e) {
  using storage::Errc;
  switch (e.code) {
    case Errc::wrong_last_sequence: return api_error(JsErr::JSStreamWrongLastSequenceErrF, {{"seq", std::to_string(e.seq)}});
    case Errc::wrong_last_msg_id: {
      // The store words it as nats-server does ("wrong last msg ID: <id>"): keep the id.
      constexpr std::string_view prefix = "wrong last msg ID: ";
      std::string_view id = e.text;
      if (id.substr(0, prefix.size()) == prefix) id.remove_prefix(prefix.size());
      return api_error(JsErr::JSStreamWrongLastMsgIDErrF, {{"id", id}});
    }
    case Errc::msg_too_large: return api_error(JsErr::JSStreamMessageExceedsMaximumErr);
    case Errc::header_too_large: return api_error(JsErr::JSStreamHeaderExceedsMaximumErr);
    case Errc::rollup_not_permitted: return api_error(JsErr::JSStreamRollupFailedF, {{"err", "rollup not permitted"}});
    case Errc::sealed: return api_error(JsErr::JSStreamSealedErr);
    default: return api_error(JsErr::JSStreamStoreFailedF, {{"err", e.text}});
  }
}

}  // namespace

void JetStreamService::on_publish(const std::string& stream, const InternalMessage& m) {
  // Local to this node: what a route forwards is another server's business.
  if (!running_ || m.origin != MessageOrigin::local) return;
  Stream* s = find(stream);
  if (s == nullptr) return;
  const std::string_view headers = m.headers();
  const PublishHeaders h = parse_publish_headers(headers);

  PendingPublish p;
  p.stream = stream;
  p.reply = m.reply;
  if (!h.expected_stream.empty() && h.expected_stream != stream) {
    p.ready = pub_ack_error_json(stream, api_error(JsErr::JSStreamNotMatchErr));
    pending_.push_back(std::move(p));
    return;
  }
  storage::StoreMsgOp op;
  if (!h.rollup.empty()) {
    if (h.rollup == "sub") {
      op.rollup = storage::Rollup::subject;
    } else if (h.rollup == "all") {
      op.rollup = storage::Rollup::all;
    } else {
      // nats-server drops such a message without an answer.
      server_.log().warn("JetStream: stream '{}': rollup value invalid: \"{}\"", stream, h.rollup);
      return;
    }
  }
  op.subject = m.subject;
  op.headers.assign(headers);
  op.data.assign(m.body());
  op.time_ns = now_ns();
  op.msg_id = h.msg_id;
  if (h.expected_last_seq) op.expected_last_seq = storage::StreamSeq(*h.expected_last_seq);
  if (h.expected_last_subject_seq) op.expected_last_subject_seq = storage::StreamSeq(*h.expected_last_subject_seq);
  op.expected_last_msg_id = h.expected_last_msg_id;

  Batch& b = batch_for(s->store);
  p.store = s->store;
  p.op_index = b.ops.size();
  b.ops.push_back(storage::Op{stream, std::move(op)});
  pending_.push_back(std::move(p));
}

std::string JetStreamService::ack_for(const PendingPublish& p, const storage::OpOutcome& outcome) const {
  if (!outcome) return pub_ack_error_json(p.stream, store_refusal(outcome.error()));
  return pub_ack_json(p.stream, domain_, outcome->seq.value, outcome->duplicate);
}

}  // namespace forest::broker::js
