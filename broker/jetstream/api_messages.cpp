// STREAM.PURGE, STREAM.MSG.GET and STREAM.MSG.DELETE, as nats-server 2.9.10 answers them.
#include "../json_writer.hpp"
#include "../server.hpp"
#include "api_request.hpp"
#include "service.hpp"
#include "stream_json.hpp"

namespace forest::broker::js {
namespace {

constexpr std::string_view kPurgeType = "io.nats.jetstream.api.v1.stream_purge_response";
constexpr std::string_view kMsgGetType = "io.nats.jetstream.api.v1.stream_msg_get_response";
constexpr std::string_view kMsgDeleteType = "io.nats.jetstream.api.v1.stream_msg_delete_response";

}  // namespace

void JetStreamService::stream_purge(const InternalMessage& m, std::string_view name) {
  // "purged" is not omitempty: errors carry "purged":0 too.
  auto fail = [&](const ApiError& e) {
    JsonWriter w;
    w.begin_object().field("type", kPurgeType).key("error").raw(api_error_json(e)).field("purged", 0).end_object();
    reply_err(m, w.take());
  };
  PurgeRequest req;
  if (!is_empty_request(m.body())) {
    auto r = parse_purge_request(m.body());
    if (!r) return fail(api_error(JsErr::JSInvalidJSONErr));
    if (r->seq > 0 && r->keep > 0) return fail(api_error(JsErr::JSBadRequestErr));
    req = std::move(*r);
  }
  Stream* s = find(name);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  if (s->config.sealed) return fail(api_error(JsErr::JSStreamSealedErr));
  if (s->config.deny_purge) return fail(api_error(JsErr::JSStreamPurgeFailedF, {{"err", "stream purge not permitted"}}));
  auto r = apply_now(*s->store, storage::Op{s->config.name, storage::PurgeOp{req.filter, storage::StreamSeq(req.seq), req.keep}});
  if (!r) return fail(api_error(JsErr::JSStreamGeneralErrorF, {{"err", r.error().text}}));
  JsonWriter w;
  w.begin_object().field("type", kPurgeType).field("success", true).field("purged", r->removed_msgs).end_object();
  reply_ok(m, w.take());
}

void JetStreamService::msg_get(const InternalMessage& m, std::string_view name) {
  auto fail = [&](const ApiError& e) { reply_err(m, error_json(kMsgGetType, e)); };
  if (is_empty_request(m.body())) return fail(api_error(JsErr::JSBadRequestErr));
  // Go decodes null into the zero request (then a bad request) and refuses trailing bytes.
  const BodyKind kind = body_kind(m.body());
  if (kind == BodyKind::malformed) return fail(api_error(JsErr::JSInvalidJSONErr));
  auto req = kind == BodyKind::null ? std::optional<MsgGetRequest>(MsgGetRequest{}) : parse_msg_get_request(m.body());
  if (!req) return fail(api_error(JsErr::JSInvalidJSONErr));
  if ((req->seq > 0 && !req->last_by_subj.empty()) ||
      (req->seq == 0 && req->last_by_subj.empty() && req->next_by_subj.empty())) {
    return fail(api_error(JsErr::JSBadRequestErr));
  }
  if (!req->last_by_subj.empty() && !req->next_by_subj.empty()) return fail(api_error(JsErr::JSBadRequestErr));
  const Stream* s = find(name);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  std::optional<storage::StoredMessage> msg;
  if (req->seq > 0 && req->next_by_subj.empty()) {
    if (auto r = s->store->load(name, storage::StreamSeq(req->seq))) msg = std::move(*r);
  } else if (!req->next_by_subj.empty()) {
    if (auto r = s->store->load_next(name, req->next_by_subj, storage::StreamSeq(req->seq)); r && *r) msg = std::move(**r);
  } else {
    if (auto r = s->store->load_last(name, req->last_by_subj)) msg = std::move(*r);
  }
  if (!msg) return fail(api_error(JsErr::JSNoMessageFoundErr));
  JsonWriter w;
  w.begin_object().field("type", kMsgGetType).key("message");
  write_stored_message(w, *msg);
  w.end_object();
  // nats-server sends this answer without counting it in the account's API stats.
  if (!m.reply.empty()) client_->publish(*account_, m.reply, "", w.str());
}

void JetStreamService::msg_delete(const InternalMessage& m, std::string_view name) {
  auto fail = [&](const ApiError& e) { reply_err(m, error_json(kMsgDeleteType, e)); };
  if (is_empty_request(m.body())) return fail(api_error(JsErr::JSBadRequestErr));
  auto req = parse_msg_delete_request(m.body());
  if (!req) return fail(api_error(JsErr::JSInvalidJSONErr));
  Stream* s = find(name);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  if (s->config.sealed) return fail(api_error(JsErr::JSStreamSealedErr));
  if (s->config.deny_delete) return fail(api_error(JsErr::JSStreamMsgDeleteFailedF, {{"err", "message delete not permitted"}}));
  storage::DeleteMsgOp op;
  op.seq = storage::StreamSeq(req->seq);
  op.erase = !req->no_erase;
  auto r = apply_now(*s->store, storage::Op{s->config.name, op});
  // nats-server counts a failed delete as a plain API response, not an API error.
  if (!r) return reply_ok(m, error_json(kMsgDeleteType, api_error(JsErr::JSStreamMsgDeleteFailedF, {{"err", r.error().text}})));
  JsonWriter w;
  w.begin_object().field("type", kMsgDeleteType).field("success", true).end_object();
  reply_ok(m, w.take());
}

}  // namespace forest::broker::js
