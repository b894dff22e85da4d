// STREAM.CREATE, UPDATE, INFO, DELETE, NAMES and LIST, as nats-server 2.9.10 answers them on
// a single server (jsStream*Request in jetstream_api.go; addStream and update in stream.go).
#include "../json_writer.hpp"
#include "../server.hpp"
#include "../subject.hpp"
#include "api_request.hpp"
#include "service.hpp"
#include "stream_json.hpp"

namespace forest::broker::js {
namespace {

constexpr std::string_view kCreateType = "io.nats.jetstream.api.v1.stream_create_response";
constexpr std::string_view kUpdateType = "io.nats.jetstream.api.v1.stream_update_response";
constexpr std::string_view kInfoType = "io.nats.jetstream.api.v1.stream_info_response";
constexpr std::string_view kDeleteType = "io.nats.jetstream.api.v1.stream_delete_response";
constexpr std::string_view kNamesType = "io.nats.jetstream.api.v1.stream_names_response";
constexpr std::string_view kListType = "io.nats.jetstream.api.v1.stream_list_response";
constexpr int64_t kNamesLimit = 1024;       // JSApiNamesLimit
constexpr int64_t kListLimit = 256;         // JSApiListLimit
constexpr int64_t kMaxSubjectDetails = 100'000;  // JSMaxSubjectDetails

ApiError invalid_config(std::string_view why) { return api_error(JsErr::JSStreamInvalidConfigF, {{"err", why}}); }

// What the store enforces of a checked config.
storage::StreamConfig to_store_config(const StreamConfig& c) {
  storage::StreamConfig s;
  s.name = c.name;
  s.subjects = c.subjects;
  s.retention = c.retention == Retention::interest    ? storage::Retention::interest
                : c.retention == Retention::workqueue ? storage::Retention::workqueue
                                                      : storage::Retention::limits;
  s.max_consumers = c.max_consumers;
  s.max_msgs = c.max_msgs;
  s.max_bytes = c.max_bytes;
  s.max_age_ns = c.max_age_ns;
  s.max_msgs_per_subject = c.max_msgs_per_subject;
  s.max_msg_size = c.max_msg_size;
  s.discard = c.discard == Discard::new_msgs ? storage::Discard::new_msgs : storage::Discard::old_msgs;
  s.discard_new_per_subject = c.discard_new_per_subject;
  s.duplicate_window_ns = c.duplicate_window_ns;
  s.storage = c.storage == Storage::memory ? storage::StorageType::memory : storage::StorageType::file;
  s.deny_delete = c.deny_delete;
  s.deny_purge = c.deny_purge;
  s.sealed = c.sealed;
  s.allow_rollup = c.allow_rollup_hdrs;
  JsonWriter w;
  write_stream_config(w, c);
  s.api_json = w.take();
  return s;
}

bool matches_filter(const StreamConfig& c, std::string_view filter) {
  if (filter.empty()) return true;
  for (const std::string& subject : c.subjects) {
    if (subjects_collide(filter, subject)) return true;
  }
  return false;
}

}  // namespace

std::expected<storage::StreamState, storage::Error> JetStreamService::state_of(const Stream& s, bool details) const {
  return s.store->stream_state(s.config.name, details);
}

void JetStreamService::write_info(JsonWriter& w, const Stream& s, const storage::StreamState& st,
                                  const std::map<std::string, uint64_t>* subjects, bool with_domain) const {
  write_stream_info_fields(w, s.config, s.created_ns, st, with_domain ? std::string_view(domain_) : std::string_view(), subjects);
  // StreamInfo's mirror and sources (omitempty), after domain and the absent cluster.
  if (!s.sources.empty() && s.sources.front().mirror) {
    w.key("mirror");
    write_source_info(w, s, s.sources.front());
  } else if (!s.sources.empty()) {
    w.key("sources").begin_array();
    for (const SourceCursor& cur : s.sources) write_source_info(w, s, cur);
    w.end_array();
  }
}

void JetStreamService::stream_create(const InternalMessage& m, std::string_view name) {
  auto fail = [&](const ApiError& e) { reply_err(m, error_json(kCreateType, e)); };
  auto parsed = parse_stream_config(m.body());
  if (!parsed) return fail(parsed.error());
  if (parsed->name != name) return fail(api_error(JsErr::JSStreamMismatchErr));
  if (name.find_first_of("\\/") != std::string_view::npos) return fail(api_error(JsErr::JSStreamNameContainsPathSeparatorsErr));
  if (parsed->sealed) return fail(invalid_config("stream configuration for create can not be sealed"));
  if (parsed->mirror_direct && !parsed->mirror) return fail(invalid_config("stream has no mirror but does have mirror direct"));
  auto lookup = [this](std::string_view n) -> const StreamConfig* {
    const Stream* s = find(n);
    return s == nullptr ? nullptr : &s->config;
  };
  auto cfg = check_stream_config(*parsed, {}, lookup);
  if (!cfg) return fail(cfg.error());
  if (cfg->num_replicas > 1) return fail(api_error(JsErr::JSStreamReplicasNotSupportedErr));
  if (Stream* existing = find(cfg->name)) {
    // Creating the same stream again is not an error (nats-server compares the configs).
    if (existing->config != *cfg) return fail(api_error(JsErr::JSStreamNameExistErr));
    auto st = state_of(*existing);
    if (!st) return fail(api_error(JsErr::JSStreamCreateErrF, {{"err", st.error().text}}));
    JsonWriter w;
    w.begin_object().field("type", kCreateType);
    write_info(w, *existing, *st, nullptr, false);  // nats-server's create reply has no domain
    w.field("did_create", true).end_object();
    return reply_ok(m, w.take());
  }
  if (auto e = source_origin_error(*cfg)) return fail(*e);
  for (const auto& [other_name, other] : streams_) {
    if (subjects_overlap(*cfg, other.config)) return fail(api_error(JsErr::JSStreamSubjectOverlapErr));
  }
  if (auto e = reservation_error(*cfg, "")) return fail(*e);
  storage::StreamStore& store = store_for(*cfg);
  const int64_t created = now_ns();
  auto r = store.apply(storage::Op{cfg->name, storage::StreamCreateOp{to_store_config(*cfg), created}});
  if (!r) return fail(api_error(JsErr::JSStreamCreateErrF, {{"err", r.error().text}}));
  Stream& s = streams_[cfg->name];
  s.config = *cfg;
  s.store = &store;
  s.created_ns = created;
  subscribe_stream(s);
  setup_sources(s, false);
  if (!s.sources.empty()) post_commit();  // the first copies
  auto st = state_of(s);
  JsonWriter w;
  w.begin_object().field("type", kCreateType);
  write_info(w, s, st ? *st : storage::StreamState{}, nullptr, false);
  w.field("did_create", true).end_object();
  reply_ok(m, w.take());
  action_advisory(cfg->name, "", "create");
}

void JetStreamService::stream_update(const InternalMessage& m, std::string_view name) {
  auto fail = [&](const ApiError& e) { reply_err(m, error_json(kUpdateType, e)); };
  auto parsed = parse_stream_config(m.body());
  if (!parsed) return fail(parsed.error());
  auto lookup = [this](std::string_view n) -> const StreamConfig* {
    const Stream* s = find(n);
    return s == nullptr ? nullptr : &s->config;
  };
  auto cfg = check_stream_config(*parsed, {}, lookup);
  if (!cfg) return fail(cfg.error());
  if (cfg->name != name) return fail(api_error(JsErr::JSStreamMismatchErr));
  Stream* s = find(name);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  auto next = check_stream_update(s->config, *cfg);
  if (!next) return fail(next.error());
  for (const auto& [other_name, other] : streams_) {
    if (other_name != name && subjects_overlap(*next, other.config)) return fail(api_error(JsErr::JSStreamSubjectOverlapErr));
  }
  if (auto e = reservation_error(*next, name)) return fail(*e);
  if (auto e = source_origin_error(*next)) {
    return fail(api_error(JsErr::JSStreamUpdateErrF, {{"err", e->description}}));
  }
  auto r = apply_now(*s->store, storage::Op{s->config.name, storage::StreamUpdateOp{to_store_config(*next), now_ns()}});
  if (!r) return fail(api_error(JsErr::JSStreamUpdateErrF, {{"err", r.error().text}}));
  const bool resubscribe = next->subjects != s->config.subjects;
  if (resubscribe) unsubscribe_stream(*s);
  s->config = *next;
  if (resubscribe) subscribe_stream(*s);
  sync_direct(*s);  // allow_direct may have changed
  setup_sources(*s, false);  // sources may have been added or removed
  if (!s->sources.empty()) post_commit();
  schedule_expiry();
  auto st = state_of(*s);
  JsonWriter w;
  w.begin_object().field("type", kUpdateType);
  write_info(w, *s, st ? *st : storage::StreamState{});
  w.end_object();
  reply_ok(m, w.take());
  action_advisory(s->config.name, "", "modify");
}

void JetStreamService::stream_info(const InternalMessage& m, std::string_view name) {
  // Errors carry the (zero) paging fields too: ApiPaged is not omitempty.
  auto fail = [&](const ApiError& e) {
    JsonWriter w;
    w.begin_object().field("type", kInfoType).key("error").raw(api_error_json(e));
    w.field("total", 0).field("offset", 0).field("limit", 0).end_object();
    reply_err(m, w.take());
  };
  StreamInfoRequest req;
  if (!is_empty_request(m.body())) {
    auto r = parse_stream_info_request(m.body());
    if (!r) return fail(api_error(JsErr::JSInvalidJSONErr));
    req = std::move(*r);
  }
  const Stream* s = find(name);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  auto st = state_of(*s, req.deleted_details);
  if (!st) return fail(api_error(JsErr::JSStreamGeneralErrorF, {{"err", st.error().text}}));
  int64_t total = 0, offset = 0, limit = 0;
  std::map<std::string, uint64_t> subjects;
  if (!req.subjects_filter.empty()) {
    auto all = s->store->subjects_state(name, req.subjects_filter);
    if (all && !all->empty()) {
      total = static_cast<int64_t>(all->size());
      offset = std::clamp<int64_t>(req.offset, 0, total);
      limit = kMaxSubjectDetails;
      auto it = all->begin();
      std::advance(it, offset);
      for (int64_t n = 0; it != all->end() && n < kMaxSubjectDetails; ++it, ++n) subjects.emplace(it->first, it->second.msgs);
    }
  }
  JsonWriter w;
  w.begin_object().field("type", kInfoType);
  w.field("total", total).field("offset", offset).field("limit", limit);
  write_info(w, *s, *st, &subjects);
  w.end_object();
  reply_ok(m, w.take());
}

void JetStreamService::stream_delete(const InternalMessage& m, std::string_view name) {
  auto fail = [&](const ApiError& e) { reply_err(m, error_json(kDeleteType, e)); };
  if (!is_empty_request(m.body())) return fail(api_error(JsErr::JSNotEmptyRequestErr));
  Stream* s = find(name);
  if (s == nullptr) return fail(api_error(JsErr::JSStreamNotFoundErr));
  auto r = s->store->apply(storage::Op{s->config.name, storage::StreamDeleteOp{}});
  if (!r) return fail(api_error(JsErr::JSStreamDeleteErrF, {{"err", r.error().text}}));
  remove_all_consumers(*s);
  unsubscribe_stream(*s);
  unsubscribe_direct(*s);
  if (!s->sources.empty()) --sourcing_streams_;
  const std::string deleted(name);
  streams_.erase(streams_.find(name));
  pump_sources();  // mirrors and sources of it say at once that it is gone
  JsonWriter w;
  w.begin_object().field("type", kDeleteType).field("success", true).end_object();
  reply_ok(m, w.take());
  action_advisory(deleted, "", "delete");
}

void JetStreamService::stream_names(const InternalMessage& m, bool detailed) {
  const std::string_view type = detailed ? kListType : kNamesType;
  PagedFilterRequest req;
  if (!is_empty_request(m.body())) {
    auto r = parse_paged_filter(m.body());
    if (!r) {
      // ApiPaged and the streams slice are not omitempty: an error carries them, zero and null.
      JsonWriter w;
      w.begin_object().field("type", type).key("error").raw(api_error_json(api_error(JsErr::JSInvalidJSONErr)));
      // NAMES' streams slice starts nil, LIST's empty.
      w.field("total", 0).field("offset", 0).field("limit", 0).key("streams").raw(detailed ? "[]" : "null").end_object();
      return reply_err(m, w.take());
    }
    req = std::move(*r);
  }
  std::vector<const Stream*> matching;
  for (const auto& [name, s] : streams_) {
    if (matches_filter(s.config, req.subject)) matching.push_back(&s);
  }
  const auto total = static_cast<int64_t>(matching.size());
  const int64_t offset = std::clamp<int64_t>(req.offset, 0, total);
  const int64_t limit = detailed ? kListLimit : kNamesLimit;
  JsonWriter w;
  w.begin_object().field("type", type);
  w.field("total", total).field("offset", offset).field("limit", limit);
  w.key("streams");
  if (offset >= total && !detailed) {
    w.raw("null");  // Go's nil slice (LIST starts from an empty one: [])
  } else {
    w.begin_array();
    for (int64_t i = offset; i < total && i - offset < limit; ++i) {
      const Stream& s = *matching[static_cast<std::size_t>(i)];
      if (!detailed) {
        w.value(s.config.name);
        continue;
      }
      auto st = state_of(s);
      w.begin_object();
      write_info(w, s, st ? *st : storage::StreamState{});
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
  reply_ok(m, w.take());
}

}  // namespace forest::broker::js
