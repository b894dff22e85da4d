// DIRECT.GET as nats-server 2.9.10 serves it (processDirectGetRequest,
// processDirectGetLastBySubjectRequest and getDirectRequest in stream.go): a stream with
// allow_direct answers `$JS.API.DIRECT.GET.<stream>` (a JSON body: seq, last_by_subj, or
// next_by_subj from seq) and `$JS.API.DIRECT.GET.<stream>.<subject>` (the last message on
// that subject, no body) with the stored message itself: its headers first, then Nats-Stream,
// Nats-Subject, Nats-Sequence and Nats-Time-Stamp, and its data as the payload. What cannot be
// answered gets a status-only reply (404, or 408 for a request that is wrong). These are not
// API requests: nats-server counts none of them in the API stats, nor do we.
#include "../server.hpp"
#include "../time_text.hpp"
#include "api_request.hpp"
#include "service.hpp"

namespace forest::broker::js {
namespace {

constexpr std::string_view kDirectGetPrefix = "$JS.API.DIRECT.GET.";
// nats-server's dgetGroup: the queue group every server holding the stream joins (one of
// them answers).
constexpr std::string_view kDirectGroup = "_sys_";

constexpr std::string_view kEmptyRequest = "408 Empty Request";
constexpr std::string_view kMalformedRequest = "408 Malformed Request";
constexpr std::string_view kBadRequest = "408 Bad Request";
constexpr std::string_view kNotFound = "404 Message Not Found";

// The key of `$JS.API.DIRECT.GET.<stream>.<key>`: what follows the fifth dot (stream names
// have no dots).
std::string_view last_by_subject_key(std::string_view subject) {
  std::size_t at = 0;
  for (int dots = 0; dots < 5; ++dots) {
    at = subject.find('.', at);
    if (at == std::string_view::npos) return {};
    ++at;
  }
  return subject.substr(at);
}

void append_header(std::string& h, std::string_view key, std::string_view value) {
  h.append(key).append(": ").append(value).append("\r\n");
}

}  // namespace

void JetStreamService::sync_direct(Stream& s) {
  if (!s.config.allow_direct) return unsubscribe_direct(s);
  if (!s.direct_subs.empty()) return;
  const std::string name = s.config.name;
  const std::string subject = std::string(kDirectGetPrefix) + name;
  auto by_body = client_->subscribe(*account_, subject, kDirectGroup,
                                    [this, name](const InternalMessage& m) { on_direct_get(name, m); }, true);
  if (by_body) s.direct_subs.push_back(std::move(by_body));
  auto by_subject = client_->subscribe(*account_, subject + ".>", kDirectGroup,
                                       [this, name](const InternalMessage& m) { on_direct_get_last(name, m); }, true);
  if (by_subject) s.direct_subs.push_back(std::move(by_subject));
}

void JetStreamService::unsubscribe_direct(Stream& s) {
  for (const SubPtr& sub : s.direct_subs) client_->unsubscribe(*account_, sub);
  s.direct_subs.clear();
}

void JetStreamService::direct_status(const InternalMessage& m, std::string_view status) {
  std::string h = "NATS/1.0 ";
  h.append(status).append("\r\n\r\n");
  client_->publish(*account_, m.reply, "", h, static_cast<int64_t>(h.size()));
}

void JetStreamService::on_direct_get(const std::string& stream, const InternalMessage& m) {
  // JetStream is local to this node: what comes over a route is not ours to answer (as the API).
  if (!running_ || m.origin != MessageOrigin::local || m.reply.empty()) return;
  const Stream* s = find(stream);
  if (s == nullptr || !s->config.allow_direct) return;  // queued before the unsubscribe
  commit();  // it sees every publish queued before it

  const std::string_view body = m.body();
  if (body.empty()) return direct_status(m, kEmptyRequest);
  MsgGetRequest req;
  switch (body_kind(body)) {
    case BodyKind::malformed: return direct_status(m, kMalformedRequest);
    case BodyKind::null: break;
    case BodyKind::value: {
      auto r = parse_msg_get_request(body);
      if (!r) return direct_status(m, kMalformedRequest);
      req = std::move(*r);
      break;
    }
  }
  if (req.seq == 0 && req.last_by_subj.empty() && req.next_by_subj.empty()) return direct_status(m, kEmptyRequest);
  if (req.seq > 0 && !req.last_by_subj.empty()) return direct_status(m, kBadRequest);
  if (!req.last_by_subj.empty() && !req.next_by_subj.empty()) return direct_status(m, kBadRequest);
  direct_reply(m, *s, req);
}

void JetStreamService::on_direct_get_last(const std::string& stream, const InternalMessage& m) {
  if (!running_ || m.origin != MessageOrigin::local || m.reply.empty()) return;
  const Stream* s = find(stream);
  if (s == nullptr || !s->config.allow_direct) return;
  commit();
  // The subject is the request: a body is an error.
  if (!m.body().empty()) return direct_status(m, kBadRequest);
  const std::string_view key = last_by_subject_key(m.subject);
  if (key.empty()) return direct_status(m, kBadRequest);
  MsgGetRequest req;
  req.last_by_subj.assign(key);
  direct_reply(m, *s, req);
}

void JetStreamService::direct_reply(const InternalMessage& m, const Stream& s, const MsgGetRequest& req) {
  const std::string& name = s.config.name;
  std::optional<storage::StoredMessage> msg;
  if (req.seq > 0 && req.next_by_subj.empty()) {
    if (auto r = s.store->load(name, storage::StreamSeq(req.seq))) msg = std::move(*r);
  } else if (!req.next_by_subj.empty()) {
    if (auto r = s.store->load_next(name, req.next_by_subj, storage::StreamSeq(req.seq)); r && *r) msg = std::move(**r);
  } else {
    if (auto r = s.store->load_last(name, req.last_by_subj)) msg = std::move(*r);
  }
  if (!msg) return direct_status(m, kNotFound);
  // nats-server appends to the stored headers (their final blank line moved to the end), or
  // starts a header block when the message has none.
  std::string payload;
  if (msg->headers.size() > 2) {
    payload.assign(msg->headers, 0, msg->headers.size() - 2);
  } else {
    payload = "NATS/1.0\r\n";
  }
  append_header(payload, "Nats-Stream", name);
  append_header(payload, "Nats-Subject", msg->subject);
  append_header(payload, "Nats-Sequence", std::to_string(msg->seq.value));
  append_header(payload, "Nats-Time-Stamp", rfc3339_from_unix_ns(msg->time_ns));
  payload.append("\r\n");
  const auto header_size = static_cast<int64_t>(payload.size());
  payload.append(msg->data);
  client_->publish(*account_, m.reply, "", payload, header_size);
}

}  // namespace forest::broker::js
