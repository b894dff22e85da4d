// $JS.API dispatch, replies and the account info request.
#include <simdjson.h>

#include "../json_writer.hpp"
#include "../server.hpp"
#include "api_request.hpp"
#include "service.hpp"

namespace forest::broker::js {
namespace {

constexpr std::string_view kApiPrefix = "$JS.API.";

// The tokens of `s` after the prefix.
std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

}  // namespace

void JetStreamService::on_api(const InternalMessage& m) {
  if (!running_ || m.origin != MessageOrigin::local) return;
  if (m.subject.size() <= kApiPrefix.size()) return;
  // Requests see every publish queued before them in this turn.
  commit();
  const auto t = tokens(std::string_view(m.subject).substr(kApiPrefix.size()));
  // The subjects nats-server subscribes; anything else gets no answer there either.
  if (t.size() == 1 && t[0] == "INFO") return account_info(m);
  if (t.size() >= 3 && t[0] == "CONSUMER") {
    if (t[1] == "CREATE" || (t[1] == "DURABLE" && t[2] == "CREATE")) return consumer_create(m);
    if (t.size() == 3 && t[1] == "NAMES") return consumer_names(m, t[2], false);
    if (t.size() == 3 && t[1] == "LIST") return consumer_names(m, t[2], true);
    if (t.size() == 4 && t[1] == "INFO") return consumer_info(m, t[2], t[3]);
    if (t.size() == 4 && t[1] == "DELETE") return consumer_delete(m, t[2], t[3]);
    if (t.size() == 5 && t[1] == "MSG" && t[2] == "NEXT") return on_next_request(m, t[3], t[4]);
    return;
  }
  if (t.size() < 2 || t[0] != "STREAM") return;
  if (t.size() == 2 && t[1] == "NAMES") return stream_names(m, false);
  if (t.size() == 2 && t[1] == "LIST") return stream_names(m, true);
  if (t.size() == 3) {
    if (t[1] == "CREATE") return stream_create(m, t[2]);
    if (t[1] == "UPDATE") return stream_update(m, t[2]);
    if (t[1] == "INFO") return stream_info(m, t[2]);
    if (t[1] == "DELETE") return stream_delete(m, t[2]);
    if (t[1] == "PURGE") return stream_purge(m, t[2]);
  }
  if (t.size() == 4 && t[1] == "MSG") {
    if (t[2] == "GET") return msg_get(m, t[3]);
    if (t[2] == "DELETE") return msg_delete(m, t[3]);
  }
}

void JetStreamService::reply_ok(const InternalMessage& m, const std::string& json) {
  ++api_total_;
  if (!m.reply.empty()) client_->publish(*account_, m.reply, "", json);
}

void JetStreamService::reply_err(const InternalMessage& m, const std::string& json) {
  ++api_total_;
  ++api_errors_;
  if (!m.reply.empty()) client_->publish(*account_, m.reply, "", json);
}

std::string JetStreamService::error_json(std::string_view type, const ApiError& e) {
  JsonWriter w;
  w.begin_object().field("type", type).key("error").raw(api_error_json(e)).end_object();
  return w.take();
}

void JetStreamService::account_info(const InternalMessage& m) {
  uint64_t memory = 0, storage_bytes = 0, consumers = 0;
  for (const auto& [name, s] : streams_) {
    auto st = state_of(s);
    if (!st) continue;
    (s.config.storage == Storage::memory ? memory : storage_bytes) += st->bytes;
    consumers += st->consumer_count;
  }
  JsonWriter w;
  w.begin_object().field("type", "io.nats.jetstream.api.v1.account_info_response");
  w.field("memory", memory).field("storage", storage_bytes);
  w.field("streams", static_cast<uint64_t>(streams_.size())).field("consumers", consumers);
  // No account limits are configured: nats-server reports -1 for each.
  w.key("limits").begin_object();
  w.field("max_memory", -1).field("max_storage", -1).field("max_streams", -1).field("max_consumers", -1);
  w.field("max_ack_pending", -1).field("memory_max_stream_bytes", -1).field("storage_max_stream_bytes", -1);
  w.field("max_bytes_required", false).end_object();
  if (!domain_.empty()) w.field("domain", domain_);
  // As nats-server, the counts before this request is counted.
  w.key("api").begin_object().field("total", api_total_).field("errors", api_errors_).end_object();
  w.end_object();
  reply_ok(m, w.take());
}

}  // namespace forest::broker::js
