#include "api_request.hpp"

#include <simdjson.h>

#include "../json_read.hpp"

namespace forest::broker::js {

BodyKind body_kind(std::string_view body) {
  // The DOM parser validates the whole input, trailing bytes included.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(body.data(), body.size()).get(e) != simdjson::SUCCESS) return BodyKind::malformed;
  return e.is_null() ? BodyKind::null : BodyKind::value;
}

bool is_empty_request(std::string_view body) {
  if (body.empty() || body == "{}") return true;
  bool any = false;
  const bool ok = json::for_each_field(body, [&](std::string_view, json::value) {
    any = true;
    return true;
  });
  return ok && !any;
}

std::optional<PagedFilterRequest> parse_paged_filter(std::string_view body) {
  PagedFilterRequest r;
  const bool ok = json::for_each_field(body, [&](std::string_view k, json::value v) {
    if (json::key_is(k, "offset")) return json::read_int(v, r.offset);
    if (json::key_is(k, "subject")) return json::read_string(v, r.subject);
    return true;
  });
  if (!ok) return std::nullopt;
  return r;
}

std::optional<StreamInfoRequest> parse_stream_info_request(std::string_view body) {
  StreamInfoRequest r;
  const bool ok = json::for_each_field(body, [&](std::string_view k, json::value v) {
    if (json::key_is(k, "offset")) return json::read_int(v, r.offset);
    if (json::key_is(k, "deleted_details")) return json::read_bool(v, r.deleted_details);
    if (json::key_is(k, "subjects_filter")) return json::read_string(v, r.subjects_filter);
    return true;
  });
  if (!ok) return std::nullopt;
  return r;
}

std::optional<PurgeRequest> parse_purge_request(std::string_view body) {
  PurgeRequest r;
  const bool ok = json::for_each_field(body, [&](std::string_view k, json::value v) {
    if (json::key_is(k, "seq")) return json::read_int(v, r.seq);
    if (json::key_is(k, "filter")) return json::read_string(v, r.filter);
    if (json::key_is(k, "keep")) return json::read_int(v, r.keep);
    return true;
  });
  if (!ok) return std::nullopt;
  return r;
}

std::optional<MsgGetRequest> parse_msg_get_request(std::string_view body) {
  MsgGetRequest r;
  const bool ok = json::for_each_field(body, [&](std::string_view k, json::value v) {
    if (json::key_is(k, "seq")) return json::read_int(v, r.seq);
    if (json::key_is(k, "last_by_subj")) return json::read_string(v, r.last_by_subj);
    if (json::key_is(k, "next_by_subj")) return json::read_string(v, r.next_by_subj);
    return true;
  });
  if (!ok) return std::nullopt;
  return r;
}

std::optional<MsgDeleteRequest> parse_msg_delete_request(std::string_view body) {
  MsgDeleteRequest r;
  const bool ok = json::for_each_field(body, [&](std::string_view k, json::value v) {
    if (json::key_is(k, "seq")) return json::read_int(v, r.seq);
    if (json::key_is(k, "no_erase")) return json::read_bool(v, r.no_erase);
    return true;
  });
  if (!ok) return std::nullopt;
  return r;
}

}  // namespace forest::broker::js
