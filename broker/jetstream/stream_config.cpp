#include "stream_config.hpp"
#include "../subject_transform.hpp"

#include <set>

#include "../json_read.hpp"
#include "../json_writer.hpp"
#include "../subject.hpp"
#include "../time_text.hpp"

namespace forest::broker::js {
namespace {

using json::for_each_field;
using json::key_is;
using json::read_bool;
using json::read_int;
using json::read_string;
using json::read_time;
using json::read_strings;
using json::value;

// Go's enums marshal as strings; a value they do not know fails Unmarshal.
bool read_retention(value v, Retention& out) {
  std::string s;
  if (!read_string(v, s)) return false;
  if (s == "limits") out = Retention::limits;
  else if (s == "interest") out = Retention::interest;
  else if (s == "workqueue") out = Retention::workqueue;
  else return false;
  return true;
}

bool read_discard(value v, Discard& out) {
  std::string s;
  if (!read_string(v, s)) return false;
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // as DiscardPolicy's
  if (s == "old") out = Discard::old_msgs;
  else if (s == "new") out = Discard::new_msgs;
  else return false;
  return true;
}

bool read_storage(value v, std::optional<Storage>& out) {
  if (json::is_null(v)) return true;
  std::string s;
  if (!read_string(v, s)) return false;
  if (s == "file") out = Storage::file;
  else if (s == "memory") out = Storage::memory;
  else return false;  // "any" is a valid StorageType but never a stream's
  return true;
}

bool read_external(value v, std::optional<ExternalStream>& out) {
  if (json::is_null(v)) return true;
  ExternalStream e;
  if (!for_each_field(v, [&](std::string_view k, value f) {
        if (key_is(k, "api")) return read_string(f, e.api);
        if (key_is(k, "deliver")) return read_string(f, e.deliver);
        return true;
      })) {
    return false;
  }
  out = std::move(e);
  return true;
}

bool read_source_fields(value v, StreamSource& s) {
  return for_each_field(v, [&](std::string_view k, value f) {
    if (key_is(k, "name")) return read_string(f, s.name);
    if (key_is(k, "opt_start_seq")) return read_int(f, s.opt_start_seq);
    if (key_is(k, "opt_start_time")) return read_time(f, s.opt_start_time);
    if (key_is(k, "filter_subject")) return read_string(f, s.filter_subject);
    if (key_is(k, "external")) return read_external(f, s.external);
    return true;
  });
}

bool read_source(value v, std::optional<StreamSource>& out) {
  if (json::is_null(v)) return true;
  StreamSource s;
  if (!read_source_fields(v, s)) return false;
  out = std::move(s);
  return true;
}

bool read_sources(value v, std::vector<StreamSource>& out) {
  if (json::is_null(v)) return true;
  simdjson::ondemand::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return false;
  for (auto element : arr) {
    value ev;
    if (element.get(ev) != simdjson::SUCCESS) return false;
    // A null element is a nil *StreamSource in Go; checkStreamCfg would then crash on it, so
    // we refuse it as malformed instead.
    if (json::is_null(ev)) return false;
    StreamSource s;
    if (!read_source_fields(ev, s)) return false;
    out.push_back(std::move(s));
  }
  return true;
}

bool read_republish(value v, std::optional<RePublish>& out) {
  if (json::is_null(v)) return true;
  RePublish r;
  if (!for_each_field(v, [&](std::string_view k, value f) {
        if (key_is(k, "src")) return read_string(f, r.src);
        if (key_is(k, "dest")) return read_string(f, r.dest);
        if (key_is(k, "headers_only")) return read_bool(f, r.headers_only);
        return true;
      })) {
    return false;
  }
  out = std::move(r);
  return true;
}

bool read_placement(value v, std::optional<Placement>& out) {
  if (json::is_null(v)) return true;
  Placement p;
  if (!for_each_field(v, [&](std::string_view k, value f) {
        if (key_is(k, "cluster")) return read_string(f, p.cluster);
        if (key_is(k, "tags")) return read_strings(f, p.tags);
        return true;
      })) {
    return false;
  }
  out = std::move(p);
  return true;
}

const char* retention_name(Retention r) {
  switch (r) {
    case Retention::limits: return "limits";
    case Retention::interest: return "interest";
    case Retention::workqueue: return "workqueue";
  }
  return "limits";
}

void write_source(JsonWriter& w, const StreamSource& s) {
  w.begin_object();
  w.field("name", s.name);
  if (s.opt_start_seq != 0) w.field("opt_start_seq", s.opt_start_seq);
  if (s.opt_start_time) w.field("opt_start_time", rfc3339(*s.opt_start_time));
  if (!s.filter_subject.empty()) w.field("filter_subject", s.filter_subject);
  if (s.external) {
    w.key("external").begin_object();
    w.field("api", s.external->api);
    w.field("deliver", s.external->deliver);
    w.end_object();
  }
  w.end_object();
}

ApiError invalid(std::string_view why) { return api_error(JsErr::JSStreamInvalidConfigF, {{"err", why}}); }

}  // namespace

bool is_valid_name(std::string_view name) {
  return !name.empty() && name.find_first_of(" \t\r\n\f.*>") == std::string_view::npos;
}

std::expected<StreamConfig, ApiError> parse_stream_config(std::string_view text) {
  StreamConfig c;
  const bool ok = for_each_field(text, [&](std::string_view k, value v) {
    if (key_is(k, "name")) return read_string(v, c.name);
    if (key_is(k, "description")) return read_string(v, c.description);
    if (key_is(k, "subjects")) return read_strings(v, c.subjects);
    if (key_is(k, "retention")) return read_retention(v, c.retention);
    if (key_is(k, "max_consumers")) return read_int(v, c.max_consumers);
    if (key_is(k, "max_msgs")) return read_int(v, c.max_msgs);
    if (key_is(k, "max_bytes")) return read_int(v, c.max_bytes);
    if (key_is(k, "max_age")) return read_int(v, c.max_age_ns);
    if (key_is(k, "max_msgs_per_subject")) return read_int(v, c.max_msgs_per_subject);
    if (key_is(k, "max_msg_size")) return read_int(v, c.max_msg_size);
    if (key_is(k, "discard")) return read_discard(v, c.discard);
    if (key_is(k, "storage")) return read_storage(v, c.storage);
    if (key_is(k, "num_replicas")) return read_int(v, c.num_replicas);
    if (key_is(k, "no_ack")) return read_bool(v, c.no_ack);
    if (key_is(k, "template_owner")) return read_string(v, c.template_owner);
    if (key_is(k, "duplicate_window")) return read_int(v, c.duplicate_window_ns);
    if (key_is(k, "placement")) return read_placement(v, c.placement);
    if (key_is(k, "mirror")) return read_source(v, c.mirror);
    if (key_is(k, "sources")) return read_sources(v, c.sources);
    if (key_is(k, "republish")) return read_republish(v, c.republish);
    if (key_is(k, "allow_direct")) return read_bool(v, c.allow_direct);
    if (key_is(k, "mirror_direct")) return read_bool(v, c.mirror_direct);
    if (key_is(k, "discard_new_per_subject")) return read_bool(v, c.discard_new_per_subject);
    if (key_is(k, "sealed")) return read_bool(v, c.sealed);
    if (key_is(k, "deny_delete")) return read_bool(v, c.deny_delete);
    if (key_is(k, "deny_purge")) return read_bool(v, c.deny_purge);
    if (key_is(k, "allow_rollup_hdrs")) return read_bool(v, c.allow_rollup_hdrs);
    return true;
  });
  if (!ok) return std::unexpected(api_error(JsErr::JSInvalidJSONErr));
  return c;
}

void write_stream_config(JsonWriter& w, const StreamConfig& c) {
  w.begin_object();
  w.field("name", c.name);
  if (!c.description.empty()) w.field("description", c.description);
  if (!c.subjects.empty()) {
    w.key("subjects").begin_array();
    for (const auto& s : c.subjects) w.value(s);
    w.end_array();
  }
  w.field("retention", retention_name(c.retention));
  w.field("max_consumers", c.max_consumers);
  w.field("max_msgs", c.max_msgs);
  w.field("max_bytes", c.max_bytes);
  w.field("max_age", c.max_age_ns);
  w.field("max_msgs_per_subject", c.max_msgs_per_subject);
  if (c.max_msg_size != 0) w.field("max_msg_size", static_cast<int64_t>(c.max_msg_size));
  w.field("discard", c.discard == Discard::new_msgs ? "new" : "old");
  w.field("storage", c.storage == Storage::memory ? "memory" : "file");
  w.field("num_replicas", c.num_replicas);
  if (c.no_ack) w.field("no_ack", true);
  if (!c.template_owner.empty()) w.field("template_owner", c.template_owner);
  if (c.duplicate_window_ns != 0) w.field("duplicate_window", c.duplicate_window_ns);
  if (c.placement) {
    w.key("placement").begin_object();
    if (!c.placement->cluster.empty()) w.field("cluster", c.placement->cluster);
    if (!c.placement->tags.empty()) {
      w.key("tags").begin_array();
      for (const auto& t : c.placement->tags) w.value(t);
      w.end_array();
    }
    w.end_object();
  }
  if (c.mirror) {
    w.key("mirror");
    write_source(w, *c.mirror);
  }
  if (!c.sources.empty()) {
    w.key("sources").begin_array();
    for (const auto& s : c.sources) write_source(w, s);
    w.end_array();
  }
  if (c.republish) {
    w.key("republish").begin_object();
    if (!c.republish->src.empty()) w.field("src", c.republish->src);
    w.field("dest", c.republish->dest);
    if (c.republish->headers_only) w.field("headers_only", true);
    w.end_object();
  }
  w.field("allow_direct", c.allow_direct);
  w.field("mirror_direct", c.mirror_direct);
  if (c.discard_new_per_subject) w.field("discard_new_per_subject", true);
  w.field("sealed", c.sealed);
  w.field("deny_delete", c.deny_delete);
  w.field("deny_purge", c.deny_purge);
  w.field("allow_rollup_hdrs", c.allow_rollup_hdrs);
  w.end_object();
}

std::expected<StreamConfig, ApiError> check_stream_config(const StreamConfig& in, const StreamLimits& limits,
                                                          const StreamLookup& lookup) {
  constexpr int64_t kMs100 = 100'000'000;
  if (!is_valid_name(in.name)) return std::unexpected(invalid("stream name is required and can not contain '.', '*', '>'"));
  if (in.name.size() > kMaxNameLen) {
    return std::unexpected(invalid("stream name is too long, maximum allowed is " + std::to_string(kMaxNameLen)));
  }
  if (in.description.size() > kMaxDescriptionLen) {
    return std::unexpected(invalid("stream description is too long, maximum allowed is " + std::to_string(kMaxDescriptionLen)));
  }
  StreamConfig c = in;
  if (!c.storage) c.storage = Storage::file;
  if (c.num_replicas == 0) c.num_replicas = 1;
  if (c.num_replicas > kMaxReplicas) return std::unexpected(invalid("maximum replicas is " + std::to_string(kMaxReplicas)));
  if (c.num_replicas < 0) return std::unexpected(api_error(JsErr::JSReplicasCountCannotBeNegative));
  if (c.max_msgs == 0) c.max_msgs = -1;
  if (c.max_msgs_per_subject == 0) c.max_msgs_per_subject = -1;
  if (c.max_bytes == 0) c.max_bytes = -1;
  if (c.max_msg_size == 0) c.max_msg_size = -1;
  if (c.max_consumers == 0) c.max_consumers = -1;
  if (c.duplicate_window_ns == 0 && !c.mirror) {
    int64_t window = kDefaultDuplicatesWindowNs;
    if (limits.max_duplicates_window_ns > 0 && window > limits.max_duplicates_window_ns) window = limits.max_duplicates_window_ns;
    c.duplicate_window_ns = (c.max_age_ns != 0 && c.max_age_ns < window) ? c.max_age_ns : window;
  }
  if (c.max_age_ns > 0 && c.max_age_ns < kMs100) return std::unexpected(invalid("max age needs to be >= 100ms"));
  if (c.duplicate_window_ns < 0) return std::unexpected(invalid("duplicates window can not be negative"));
  if (c.max_age_ns != 0 && c.duplicate_window_ns > c.max_age_ns) {
    return std::unexpected(invalid("duplicates window can not be larger then max age"));
  }
  if (limits.max_duplicates_window_ns > 0 && c.duplicate_window_ns > limits.max_duplicates_window_ns) {
    return std::unexpected(invalid("duplicates window can not be larger then server limit"));
  }
  if (c.duplicate_window_ns > 0 && c.duplicate_window_ns < kMs100) {
    return std::unexpected(invalid("duplicates window needs to be >= 100ms"));
  }
  if (c.deny_purge && c.allow_rollup_hdrs) return std::unexpected(invalid("roll-ups require the purge permission"));
  if (c.discard_new_per_subject) {
    if (c.discard != Discard::new_msgs) {
      return std::unexpected(invalid("discard new per subject requires discard new policy to be set"));
    }
    if (c.max_msgs_per_subject <= 0) {
      return std::unexpected(invalid("discard new per subject requires max msgs per subject > 0"));
    }
  }

  auto overlaps_any = [](std::string_view filter, const std::vector<std::string>& subjects) {
    if (filter.empty() || subjects.empty()) return true;
    for (const auto& s : subjects) {
      if (subjects_collide(s, filter)) return true;
    }
    return false;
  };
  std::vector<std::string> origin_subjects;
  if (c.mirror) {
    if (!c.subjects.empty()) return std::unexpected(api_error(JsErr::JSMirrorWithSubjectsErr));
    if (!c.sources.empty()) return std::unexpected(api_error(JsErr::JSMirrorWithSourcesErr));
    if (const StreamConfig* origin = lookup(c.mirror->name)) {
      origin_subjects.insert(origin_subjects.end(), origin->subjects.begin(), origin->subjects.end());
      if (c.max_msg_size > 0 && origin->max_msg_size > 0 && c.max_msg_size < origin->max_msg_size) {
        return std::unexpected(api_error(JsErr::JSMirrorMaxMessageSizeTooBigErr));
      }
      if (!overlaps_any(c.mirror->filter_subject, origin->subjects)) {
        return std::unexpected(invalid("mirror '" + c.mirror->name + "' filter subject '" + c.mirror->filter_subject +
                                       "' does not overlap with any origin stream subject"));
      }
      c.mirror_direct = origin->allow_direct;  // a mirror inherits direct gets
    }
  }
  for (const auto& src : c.sources) {
    if (const StreamConfig* origin = lookup(src.name)) {
      origin_subjects.insert(origin_subjects.end(), origin->subjects.begin(), origin->subjects.end());
      if (c.max_msg_size > 0 && origin->max_msg_size > 0 && c.max_msg_size < origin->max_msg_size) {
        return std::unexpected(api_error(JsErr::JSSourceMaxMessageSizeTooBigErr));
      }
      // As nats-server: checked against the subjects of every source seen so far.
      if (!overlaps_any(src.filter_subject, origin_subjects)) {
        return std::unexpected(invalid("source '" + src.name + "' filter subject '" + src.filter_subject +
                                       "' does not overlap with any origin stream subject"));
      }
    }
  }
  auto check_external = [&](const std::optional<ExternalStream>& ext) -> std::optional<ApiError> {
    if (!ext) return std::nullopt;
    if (!ext->deliver.empty()) {
      if (!is_valid_literal_subject(ext->deliver)) {
        return api_error(JsErr::JSStreamInvalidExternalDeliverySubjErrF, {{"prefix", ext->deliver}});
      }
      for (const auto& s : origin_subjects) {
        if (subjects_collide(s, ext->deliver + "." + s)) {
          return api_error(JsErr::JSStreamExternalDelPrefixOverlapsErrF, {{"prefix", ext->deliver}, {"subject", s}});
        }
      }
    }
    if (!ext->api.empty()) {
      if (!is_valid_literal_subject(ext->api)) {
        return invalid("stream external api prefix \"" + ext->api + "\" must be a valid subject without wildcards");
      }
      if (subjects_collide(ext->api, "$JS.API")) {
        return api_error(JsErr::JSStreamExternalApiOverlapErrF, {{"prefix", ext->api}, {"subject", "$JS.API"}});
      }
    }
    return std::nullopt;
  };
  if (c.mirror) {
    if (auto e = check_external(c.mirror->external)) return std::unexpected(*e);
  }
  for (const auto& src : c.sources) {
    if (auto e = check_external(src.external)) return std::unexpected(*e);
  }

  // Cycles through sources and mirrors of this server's streams.
  {
    std::vector<StreamConfig> to_visit{c};
    std::set<std::string> visited;
    while (!to_visit.empty()) {
      StreamConfig cur = std::move(to_visit.front());
      to_visit.erase(to_visit.begin());
      visited.insert(cur.name);
      for (const auto& src : cur.sources) {
        if (src.external) continue;
        if (visited.contains(src.name)) return std::unexpected(invalid("detected cycle"));
        if (const StreamConfig* o = lookup(src.name)) to_visit.push_back(*o);
      }
      if (cur.mirror && !cur.mirror->external) {
        if (visited.contains(cur.mirror->name)) return std::unexpected(invalid("detected cycle"));
        if (const StreamConfig* o = lookup(cur.mirror->name)) to_visit.push_back(*o);
      }
    }
  }

  if (c.subjects.empty()) {
    if (!c.mirror && c.sources.empty()) c.subjects.push_back(c.name);
  } else {
    if (c.mirror) return std::unexpected(api_error(JsErr::JSMirrorWithSubjectsErr));
    std::set<std::string_view> seen;
    for (const auto& s : c.subjects) {
      if (!seen.insert(s).second) return std::unexpected(invalid("duplicate subjects detected"));
      if (subject_is_subset(s, "$JS.API.>")) return std::unexpected(invalid("subjects overlap with jetstream api"));
      if (!is_valid_subject(s)) return std::unexpected(invalid("invalid subject"));
    }
  }
  if (c.subjects.empty() && c.sources.empty() && !c.mirror) {
    return std::unexpected(invalid("stream needs at least one configured subject or be a source/mirror"));
  }
  if (c.subjects.size() > 1) {
    for (const auto& a : c.subjects) {
      for (const auto& b : c.subjects) {
        if (a != b && subjects_collide(a, b)) return std::unexpected(invalid("subject \"" + a + "\" overlaps with \"" + b + "\""));
      }
    }
  }
  if (c.republish) {
    if (c.republish->src.empty()) c.republish->src = ">";
    bool src_valid = false, cycle = false;
    for (const auto& s : c.subjects) {
      if (subjects_collide(c.republish->src, s)) src_valid = true;
      if (subjects_collide(c.republish->dest, s)) cycle = true;
    }
    if (!src_valid) {
      return std::unexpected(invalid("stream configuration for republish source is not valid subset of subjects"));
    }
    if (cycle) return std::unexpected(invalid("stream configuration for republish destination forms a cycle"));
    if (!is_valid_subject(c.republish->src) || !is_valid_subject(c.republish->dest)) {
      return std::unexpected(invalid("stream configuration for republish not valid"));
    }
    if (auto t = make_subject_transform(c.republish->src, c.republish->dest); !t) {
      // nats-server's words for a transform it refuses; ours names what we do not support.
      return std::unexpected(invalid(t.error().find("not supported") != std::string::npos
                                         ? "stream configuration for republish: " + t.error()
                                         : std::string("stream configuration for republish not valid")));
    }
  }
  return c;
}

std::expected<StreamConfig, ApiError> check_stream_update(const StreamConfig& old, const StreamConfig& next) {
  StreamConfig c = next;
  if (c.name != old.name) return std::unexpected(invalid("stream configuration name must match original"));
  if (c.max_consumers != old.max_consumers) {
    return std::unexpected(invalid("stream configuration update can not change MaxConsumers"));
  }
  if (c.storage != old.storage) return std::unexpected(invalid("stream configuration update can not change storage type"));
  if (c.retention != old.retention) {
    return std::unexpected(invalid("stream configuration update can not change retention policy"));
  }
  if (!old.template_owner.empty()) {
    return std::unexpected(invalid("stream configuration update not allowed on template owned stream"));
  }
  if (!c.template_owner.empty()) return std::unexpected(invalid("stream configuration update can not be owned by a template"));
  if (!c.sealed && old.sealed) return std::unexpected(invalid("stream configuration update can not unseal a sealed stream"));
  if (!c.deny_delete && old.deny_delete) {
    return std::unexpected(invalid("stream configuration update can not cancel deny message deletes"));
  }
  if (!c.deny_purge && old.deny_purge) return std::unexpected(invalid("stream configuration update can not cancel deny purge"));
  if (c.mirror != old.mirror) return std::unexpected(api_error(JsErr::JSStreamMirrorNotUpdatableErr));
  if (c.republish != old.republish) return std::unexpected(invalid("stream configuration update can not change RePublish"));
  if (c.sealed) {
    c.max_age_ns = 0;
    c.discard = Discard::new_msgs;
    c.deny_delete = c.deny_purge = true;
    c.allow_rollup_hdrs = false;
  }
  return c;
}

bool subjects_overlap(const StreamConfig& c, const StreamConfig& other) {
  for (const auto& a : c.subjects) {
    for (const auto& b : other.subjects) {
      if (subjects_collide(a, b)) return true;
    }
  }
  return false;
}

}  // namespace forest::broker::js
