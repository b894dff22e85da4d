#include "consumer_config.hpp"

#include <charconv>

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
using json::value;

bool read_deliver_policy(value v, DeliverPolicy& out) {
  std::string s;
  if (!read_string(v, s)) return false;
  if (s == "all" || s == "undefined") out = DeliverPolicy::all;
  else if (s == "last") out = DeliverPolicy::last;
  else if (s == "last_per_subject") out = DeliverPolicy::last_per_subject;
  else if (s == "new") out = DeliverPolicy::new_msgs;
  else if (s == "by_start_sequence") out = DeliverPolicy::by_start_sequence;
  else if (s == "by_start_time") out = DeliverPolicy::by_start_time;
  else return false;
  return true;
}

bool read_ack_policy(value v, AckPolicy& out) {
  std::string s;
  if (!read_string(v, s)) return false;
  if (s == "none") out = AckPolicy::none;
  else if (s == "all") out = AckPolicy::all;
  else if (s == "explicit") out = AckPolicy::explicit_ack;
  else return false;
  return true;
}

bool read_replay_policy(value v, ReplayPolicy& out) {
  std::string s;
  if (!read_string(v, s)) return false;
  if (s == "instant") out = ReplayPolicy::instant;
  else if (s == "original") out = ReplayPolicy::original;
  else return false;
  return true;
}

bool read_durations(value v, std::vector<int64_t>& out) {
  if (json::is_null(v)) return true;
  simdjson::ondemand::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return false;
  out.clear();
  for (auto element : arr) {
    int64_t n = 0;
    if (element.get_int64().get(n) != simdjson::SUCCESS) return false;
    out.push_back(n);
  }
  return true;
}

// One field of a ConsumerConfig object; false when its value has the wrong type.
bool read_config_field(ConsumerConfig& c, std::string_view k, value f) {
  if (key_is(k, "durable_name")) return read_string(f, c.durable_name);
  if (key_is(k, "name")) return read_string(f, c.name);
  if (key_is(k, "description")) return read_string(f, c.description);
  if (key_is(k, "deliver_policy")) return read_deliver_policy(f, c.deliver_policy);
  if (key_is(k, "opt_start_seq")) return read_int(f, c.opt_start_seq);
  if (key_is(k, "opt_start_time")) return read_time(f, c.opt_start_time);
  if (key_is(k, "ack_policy")) return read_ack_policy(f, c.ack_policy);
  if (key_is(k, "ack_wait")) return read_int(f, c.ack_wait_ns);
  if (key_is(k, "max_deliver")) return read_int(f, c.max_deliver);
  if (key_is(k, "backoff")) return read_durations(f, c.backoff_ns);
  if (key_is(k, "filter_subject")) return read_string(f, c.filter_subject);
  if (key_is(k, "replay_policy")) return read_replay_policy(f, c.replay_policy);
  if (key_is(k, "rate_limit_bps")) return read_int(f, c.rate_limit_bps);
  if (key_is(k, "sample_freq")) return read_string(f, c.sample_freq);
  if (key_is(k, "max_waiting")) return read_int(f, c.max_waiting);
  if (key_is(k, "max_ack_pending")) return read_int(f, c.max_ack_pending);
  if (key_is(k, "idle_heartbeat")) return read_int(f, c.idle_heartbeat_ns);
  if (key_is(k, "flow_control")) return read_bool(f, c.flow_control);
  if (key_is(k, "headers_only")) return read_bool(f, c.headers_only);
  if (key_is(k, "max_batch")) return read_int(f, c.max_batch);
  if (key_is(k, "max_expires")) return read_int(f, c.max_expires_ns);
  if (key_is(k, "max_bytes")) return read_int(f, c.max_bytes);
  if (key_is(k, "deliver_subject")) return read_string(f, c.deliver_subject);
  if (key_is(k, "deliver_group")) return read_string(f, c.deliver_group);
  if (key_is(k, "inactive_threshold")) return read_int(f, c.inactive_threshold_ns);
  if (key_is(k, "num_replicas")) return read_int(f, c.num_replicas);
  if (key_is(k, "mem_storage")) return read_bool(f, c.mem_storage);
  if (key_is(k, "direct")) return read_bool(f, c.direct);
  return true;
}

bool read_config_fields(value v, ConsumerConfig& c) {
  return for_each_field(v, [&](std::string_view k, value f) { return read_config_field(c, k, f); });
}

const char* deliver_policy_name(DeliverPolicy p) {
  switch (p) {
    case DeliverPolicy::all: return "all";
    case DeliverPolicy::last: return "last";
    case DeliverPolicy::new_msgs: return "new";
    case DeliverPolicy::by_start_sequence: return "by_start_sequence";
    case DeliverPolicy::by_start_time: return "by_start_time";
    case DeliverPolicy::last_per_subject: return "last_per_subject";
  }
  return "all";
}

const char* ack_policy_name(AckPolicy p) {
  switch (p) {
    case AckPolicy::none: return "none";
    case AckPolicy::all: return "all";
    case AckPolicy::explicit_ack: return "explicit";
  }
  return "none";
}

ApiError invalid_policy(std::string text) { return api_error(JsErr::JSConsumerInvalidPolicyErrF, {{"err", text}}); }

std::string bad_start(std::string_view dp, std::string_view start) {
  return "consumer delivery policy is deliver " + std::string(dp) + ", but optional start " + std::string(start) +
         " is also set";
}

std::string not_set(std::string_view dp, std::string_view what) {
  return "consumer delivery policy is deliver " + std::string(dp) + ", but optional " + std::string(what) + " is not set";
}

// nats-server's validFilteredSubject.
bool valid_filter(std::string_view filter, const std::vector<std::string>& subjects) {
  if (!is_valid_subject(filter)) return false;
  const bool wildcard = has_wildcard(filter);
  for (const auto& s : subjects) {
    if (subject_is_subset(filter, s)) return true;
    if (wildcard && subject_is_subset(s, filter)) return true;
  }
  return false;
}

std::size_t count_tokens(std::string_view s) {
  std::size_t n = s.empty() ? 0 : 1;
  for (char c : s) n += c == '.' ? 1 : 0;
  return n;
}

// Token i (1-based) of a subject.
std::string_view token_at(std::string_view s, std::size_t i) {
  std::size_t start = 0;
  for (std::size_t t = 1; t < i; ++t) {
    const auto dot = s.find('.', start);
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
  const auto end = s.find('.', start);
  return s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

}  // namespace

std::expected<ConsumerConfig, ApiError> parse_consumer_config(std::string_view text) {
  ConsumerConfig c;
  if (!for_each_field(text, [&](std::string_view k, value f) { return read_config_field(c, k, f); })) {
    return std::unexpected(api_error(JsErr::JSInvalidJSONErr));
  }
  return c;
}

std::expected<ConsumerCreateRequest, ApiError> parse_consumer_create(std::string_view text) {
  ConsumerCreateRequest r;
  const bool ok = for_each_field(text, [&](std::string_view k, value v) {
    if (key_is(k, "stream_name")) return read_string(v, r.stream_name);
    if (key_is(k, "config")) return read_config_fields(v, r.config);
    return true;
  });
  if (!ok) return std::unexpected(api_error(JsErr::JSInvalidJSONErr));
  return r;
}

void write_consumer_config(JsonWriter& w, const ConsumerConfig& c) {
  w.begin_object();
  if (!c.durable_name.empty()) w.field("durable_name", c.durable_name);
  if (!c.name.empty()) w.field("name", c.name);
  if (!c.description.empty()) w.field("description", c.description);
  w.field("deliver_policy", deliver_policy_name(c.deliver_policy));
  if (c.opt_start_seq != 0) w.field("opt_start_seq", c.opt_start_seq);
  if (c.opt_start_time) w.field("opt_start_time", rfc3339(*c.opt_start_time));
  w.field("ack_policy", ack_policy_name(c.ack_policy));
  if (c.ack_wait_ns != 0) w.field("ack_wait", c.ack_wait_ns);
  if (c.max_deliver != 0) w.field("max_deliver", c.max_deliver);
  if (!c.backoff_ns.empty()) {
    w.key("backoff").begin_array();
    for (int64_t b : c.backoff_ns) w.value(b);
    w.end_array();
  }
  if (!c.filter_subject.empty()) w.field("filter_subject", c.filter_subject);
  w.field("replay_policy", c.replay_policy == ReplayPolicy::original ? "original" : "instant");
  if (c.rate_limit_bps != 0) w.field("rate_limit_bps", c.rate_limit_bps);
  if (!c.sample_freq.empty()) w.field("sample_freq", c.sample_freq);
  if (c.max_waiting != 0) w.field("max_waiting", c.max_waiting);
  if (c.max_ack_pending != 0) w.field("max_ack_pending", c.max_ack_pending);
  if (c.idle_heartbeat_ns != 0) w.field("idle_heartbeat", c.idle_heartbeat_ns);
  if (c.flow_control) w.field("flow_control", true);
  if (c.headers_only) w.field("headers_only", true);
  if (c.max_batch != 0) w.field("max_batch", c.max_batch);
  if (c.max_expires_ns != 0) w.field("max_expires", c.max_expires_ns);
  if (c.max_bytes != 0) w.field("max_bytes", c.max_bytes);
  if (!c.deliver_subject.empty()) w.field("deliver_subject", c.deliver_subject);
  if (!c.deliver_group.empty()) w.field("deliver_group", c.deliver_group);
  if (c.inactive_threshold_ns != 0) w.field("inactive_threshold", c.inactive_threshold_ns);
  w.field("num_replicas", c.num_replicas);
  if (c.mem_storage) w.field("mem_storage", true);
  if (c.direct) w.field("direct", true);
  w.end_object();
}

std::optional<ConsumerCreateSubject> parse_consumer_create_subject(std::string_view subject) {
  // $JS.API.CONSUMER.CREATE.<stream>[.<name>[.<filter>...]] / $JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>
  const std::size_t n = count_tokens(subject);
  if (n < 5) return std::nullopt;
  ConsumerCreateSubject out;
  if (n == 5) {
    out.kind = ConsumerCreateSubject::Kind::legacy_ephemeral;
    out.stream = token_at(subject, 5);
    return out;
  }
  if (token_at(subject, 4) == "DURABLE") {
    out.kind = ConsumerCreateSubject::Kind::legacy_durable;
    if (n != 7) return out;  // check_consumer_request reports it
    out.stream = token_at(subject, 6);
    out.consumer = token_at(subject, 7);
    return out;
  }
  out.kind = ConsumerCreateSubject::Kind::named;
  out.stream = token_at(subject, 5);
  out.consumer = token_at(subject, 6);
  if (n > 6) {
    // The filter is everything after the name token.
    std::size_t at = 0;
    for (int dots = 0; dots < 6; ++dots) at = subject.find('.', at) + 1;
    out.filter = subject.substr(at);
  }
  return out;
}

std::expected<void, ApiError> check_consumer_request(const ConsumerCreateSubject& s, ConsumerCreateRequest& r) {
  using Kind = ConsumerCreateSubject::Kind;
  if (s.kind == Kind::legacy_durable && s.consumer.empty()) {
    return std::unexpected(api_error(JsErr::JSConsumerDurableNameNotInSubjectErr));
  }
  if (s.stream != r.stream_name) return std::unexpected(api_error(JsErr::JSStreamMismatchErr));
  if (!s.consumer.empty() && s.consumer.find_first_of("\\/") != std::string::npos) {
    return std::unexpected(api_error(JsErr::JSConsumerNameContainsPathSeparatorsErr));
  }
  if (s.kind == Kind::legacy_durable) {
    if (r.config.durable_name.empty()) return std::unexpected(api_error(JsErr::JSConsumerDurableNameNotSetErr));
    if (s.consumer != r.config.durable_name) return std::unexpected(api_error(JsErr::JSConsumerDurableNameNotMatchSubjectErr));
  }
  if (s.kind == Kind::named) {
    if (!r.config.durable_name.empty() && s.consumer != r.config.durable_name) {
      return std::unexpected(api_error(JsErr::JSConsumerDurableNameNotMatchSubjectErr));
    }
    r.config.name = s.consumer;
  }
  if (s.kind == Kind::legacy_ephemeral && !r.config.durable_name.empty()) {
    return std::unexpected(api_error(JsErr::JSConsumerEphemeralWithDurableNameErr));
  }
  if (!s.filter.empty() && r.config.filter_subject != s.filter) {
    return std::unexpected(api_error(JsErr::JSConsumerCreateFilterSubjectMismatchErr));
  }
  if (r.config.num_replicas > 1) return std::unexpected(api_error(JsErr::JSStreamReplicasNotSupportedErr));
  return {};
}

std::expected<ConsumerConfig, ApiError> check_consumer_config(const ConsumerConfig& in, const StreamConfig& stream) {
  ConsumerConfig c = in;
  const bool acks = c.ack_policy == AckPolicy::explicit_ack || c.ack_policy == AckPolicy::all;
  // setConsumerConfigDefaults
  if (c.deliver_subject.empty() && c.max_waiting == 0) c.max_waiting = kDefaultMaxWaiting;
  if (c.ack_wait_ns == 0 && acks) c.ack_wait_ns = kDefaultAckWaitNs;
  if (c.max_deliver == 0) c.max_deliver = -1;
  if (!c.backoff_ns.empty()) c.ack_wait_ns = c.backoff_ns.front();
  if (acks && c.max_ack_pending == 0) c.max_ack_pending = kDefaultMaxAckPending;

  // checkConsumerCfg
  if (c.num_replicas > 0 && c.num_replicas > stream.num_replicas) {
    return std::unexpected(api_error(JsErr::JSConsumerReplicasExceedsStream));
  }
  if (c.num_replicas < 0) return std::unexpected(api_error(JsErr::JSReplicasCountCannotBeNegative));
  if (!c.backoff_ns.empty() && c.max_deliver <= static_cast<int64_t>(c.backoff_ns.size())) {
    return std::unexpected(api_error(JsErr::JSConsumerMaxDeliverBackoffErr));
  }
  if (c.description.size() > kMaxDescriptionLen) {
    return std::unexpected(api_error(JsErr::JSConsumerDescriptionTooLongErrF, {{"max", std::to_string(kMaxDescriptionLen)}}));
  }
  if (!c.deliver_subject.empty()) {
    if (has_wildcard(c.deliver_subject)) return std::unexpected(api_error(JsErr::JSConsumerDeliverToWildcardsErr));
    if (!is_valid_subject(c.deliver_subject)) return std::unexpected(api_error(JsErr::JSConsumerInvalidDeliverSubject));
    for (const auto& s : stream.subjects) {
      if (subject_is_subset(c.deliver_subject, s)) return std::unexpected(api_error(JsErr::JSConsumerDeliverCycleErr));
    }
    if (c.max_waiting != 0) return std::unexpected(api_error(JsErr::JSConsumerPushMaxWaitingErr));
    if (c.max_ack_pending > 0 && c.ack_policy == AckPolicy::none) {
      return std::unexpected(api_error(JsErr::JSConsumerMaxPendingAckPolicyRequiredErr));
    }
    if (c.idle_heartbeat_ns > 0 && c.idle_heartbeat_ns < 100'000'000) {
      return std::unexpected(api_error(JsErr::JSConsumerSmallHeartbeatErr));
    }
  } else {
    if (c.ack_policy == AckPolicy::none && stream.retention == Retention::workqueue) {
      return std::unexpected(api_error(JsErr::JSConsumerPullRequiresAckErr));
    }
    if (c.rate_limit_bps > 0) return std::unexpected(api_error(JsErr::JSConsumerPullWithRateLimitErr));
    if (c.max_waiting < 0) return std::unexpected(api_error(JsErr::JSConsumerMaxWaitingNegativeErr));
    if (c.idle_heartbeat_ns > 0) return std::unexpected(api_error(JsErr::JSConsumerHBRequiresPushErr));
    if (c.flow_control) return std::unexpected(api_error(JsErr::JSConsumerFCRequiresPushErr));
    if (c.max_batch < 0) return std::unexpected(api_error(JsErr::JSConsumerMaxRequestBatchNegativeErr));
    if (c.max_expires_ns != 0 && c.max_expires_ns < 1'000'000) {
      return std::unexpected(api_error(JsErr::JSConsumerMaxRequestExpiresToSmall));
    }
  }
  if (c.direct) {
    if (c.deliver_subject.empty()) return std::unexpected(api_error(JsErr::JSConsumerDirectRequiresPushErr));
    if (c.durable()) return std::unexpected(api_error(JsErr::JSConsumerDirectRequiresEphemeralErr));
  }
  // With sources or a mirror the interest subjects include the origins' (which may be on
  // other servers): the filter is then not checked here.
  if (!c.filter_subject.empty() && !stream.mirror && stream.sources.empty() && !valid_filter(c.filter_subject, stream.subjects)) {
    return std::unexpected(api_error(JsErr::JSConsumerFilterNotSubsetErr));
  }
  const bool has_time = c.opt_start_time.has_value();
  switch (c.deliver_policy) {
    case DeliverPolicy::all:
      if (c.opt_start_seq > 0) return std::unexpected(invalid_policy(bad_start("all", "sequence")));
      if (has_time) return std::unexpected(invalid_policy(bad_start("all", "time")));
      break;
    case DeliverPolicy::last:
      if (c.opt_start_seq > 0) return std::unexpected(invalid_policy(bad_start("last", "sequence")));
      if (has_time) return std::unexpected(invalid_policy(bad_start("last", "time")));
      break;
    case DeliverPolicy::last_per_subject:
      if (c.opt_start_seq > 0) return std::unexpected(invalid_policy(bad_start("last per subject", "sequence")));
      if (has_time) return std::unexpected(invalid_policy(bad_start("last per subject", "time")));
      if (c.filter_subject.empty()) return std::unexpected(invalid_policy(not_set("last per subject", "filter subject")));
      break;
    case DeliverPolicy::new_msgs:
      if (c.opt_start_seq > 0) return std::unexpected(invalid_policy(bad_start("new", "sequence")));
      if (has_time) return std::unexpected(invalid_policy(bad_start("new", "time")));
      break;
    case DeliverPolicy::by_start_sequence:
      if (c.opt_start_seq == 0) return std::unexpected(invalid_policy(not_set("by start sequence", "start sequence")));
      if (has_time) return std::unexpected(invalid_policy(bad_start("by start sequence", "time")));
      break;
    case DeliverPolicy::by_start_time:
      if (!has_time) return std::unexpected(invalid_policy(not_set("by start time", "start time")));
      if (c.opt_start_seq != 0) return std::unexpected(invalid_policy(bad_start("by start time", "start sequence")));
      break;
  }
  if (!c.sample_freq.empty()) {
    std::string_view s = c.sample_freq;
    if (s.ends_with('%')) s.remove_suffix(1);
    int freq = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), freq);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
      // Go's strconv.Atoi error text.
      const std::string why = std::string("strconv.Atoi: parsing \"") + std::string(s) + "\": " +
                              (ec == std::errc::result_out_of_range ? "value out of range" : "invalid syntax");
      return std::unexpected(api_error(JsErr::JSConsumerInvalidSamplingErrF, {{"err", why}}));
    }
    if (freq < 0) return std::unexpected(api_error(JsErr::JSConsumerInvalidSamplingErrF, {{"err", "%!s(<nil>)"}}));
  }
  if (c.flow_control && c.idle_heartbeat_ns == 0) {
    return std::unexpected(api_error(JsErr::JSConsumerWithFlowControlNeedsHeartbeats));
  }
  if (!c.durable_name.empty() && !c.name.empty() && c.name != c.durable_name) {
    return std::unexpected(api_error(JsErr::JSConsumerCreateDurableAndNameMismatch));
  }
  // addConsumerWithAssignment: names.
  if (c.durable() && c.durable_name.size() > kMaxNameLen) {
    return std::unexpected(api_error(JsErr::JSConsumerNameTooLongErrF, {{"max", std::to_string(kMaxNameLen)}}));
  }
  const std::string& name = c.durable() ? c.durable_name : c.name;
  if (!name.empty() && !is_valid_name(name)) return std::unexpected(api_error(JsErr::JSConsumerBadDurableNameErr));
  // Ephemerals always have an inactivity threshold in their config.
  if (!c.durable() && c.inactive_threshold_ns <= 0) c.inactive_threshold_ns = kDefaultInactiveThresholdNs;
  return c;
}

}  // namespace forest::broker::js
