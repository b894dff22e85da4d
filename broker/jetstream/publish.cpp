// The publishing path: a message on a stream's subject becomes a StoreMsgOp in this turn's
// batch; its pub ack is written once the batch is applied (service.cpp, commit()).
#include "../server.hpp"
#include "../subject_transform.hpp"
#include "pub_headers.hpp"
#include "service.hpp"

namespace forest::broker::js {

ApiError publish_refusal(const storage::Error& e) {
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
  // Above the server's limit for this storage: nats-server refuses before storing.
  if (over_limit(s->config.storage.value_or(Storage::file))) {
    p.ready = pub_ack_error_json(stream, api_error(JsErr::JSInsufficientResourcesErr));
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

  prepare_republish(p, *s, m.subject);
  count_usage(*s, op);
  Batch& b = batch_for(s->store);
  p.store = s->store;
  p.op_index = b.ops.size();
  b.ops.push_back(storage::Op{stream, std::move(op)});
  pending_.push_back(std::move(p));
}

void JetStreamService::prepare_republish(PendingPublish& p, Stream& s, const std::string& subject) {
  if (!s.config.republish) return;
  p.republish = true;
  std::string key = s.config.name;
  key.push_back('\0');
  key.append(subject);
  auto [it, fresh] = republish_turn_.try_emplace(std::move(key), pending_.size());
  if (fresh) {
    if (auto last = s.store->load_last(s.config.name, subject)) p.prev_seq = last->seq.value;
  } else {
    p.prev_index = static_cast<int64_t>(it->second);
    it->second = pending_.size();
  }
}

void JetStreamService::count_usage(const Stream& s, const storage::StoreMsgOp& op) {
  if (storage_limit(s.config.storage.value_or(Storage::file)) <= 0) return;
  // Counted up now, so the next publish of this turn sees it (the commit recounts).
  const auto size = static_cast<int64_t>(storage::stored_size(
      s.config.storage == Storage::memory ? storage::StorageType::memory : storage::StorageType::file,
      op.subject.size(), op.headers.size(), op.data.size()));
  (s.config.storage == Storage::memory ? used_memory_ : used_file_) += size;
}

std::string JetStreamService::ack_for(const PendingPublish& p, const storage::OpOutcome& outcome) const {
  if (!outcome) return pub_ack_error_json(p.stream, publish_refusal(outcome.error()));
  return pub_ack_json(p.stream, domain_, outcome->seq.value, outcome->duplicate);
}

void JetStreamService::republish(PendingPublish& p, const storage::StoreMsgOp& op, const storage::OpOutcome& outcome) {
  const uint64_t prev = p.prev_index >= 0 ? pending_[static_cast<std::size_t>(p.prev_index)].last_after : p.prev_seq;
  p.last_after = prev;
  if (!outcome || outcome->duplicate || outcome->skipped) return;
  p.last_after = outcome->seq.value;
  const Stream* s = find(p.stream);
  if (s == nullptr || !s->config.republish) return;
  auto transform = make_subject_transform(s->config.republish->src, s->config.republish->dest);
  if (!transform) return;
  const auto dest = transform->apply(op.subject);
  if (!dest) return;
  const bool headers_only = s->config.republish->headers_only;
  std::string h;
  if (op.headers.size() >= 4) {
    h.assign(op.headers, 0, op.headers.size() - 2);  // before the blank line
  } else {
    h = "NATS/1.0\r\n";
  }
  h += "Nats-Stream: " + p.stream + "\r\nNats-Subject: " + op.subject + "\r\nNats-Sequence: " +
       std::to_string(outcome->seq.value) + "\r\nNats-Last-Sequence: " + std::to_string(prev) + "\r\n";
  if (headers_only) h += "Nats-Msg-Size: " + std::to_string(op.data.size()) + "\r\n";
  h += "\r\n";
  const auto header_size = static_cast<int64_t>(h.size());
  if (!headers_only) h += op.data;
  client_->publish(*account_, *dest, "", h, header_size);
}

}  // namespace forest::broker::js
