// Maps a parsed configuration file onto Options, key by key, with nats-server's key names and
// aliases. Unknown keys are errors (as in nats-server); keys of features not built yet are a
// clear "not supported yet" error rather than a silent ignore.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "config/conf_value.hpp"
#include "nkeys.hpp"
#include "options.hpp"
#include "route_url.hpp"
#include "subject.hpp"
#include "subject_transform.hpp"
#include "tls.hpp"

namespace forest::broker {
namespace {

using config::ConfValue;
using Type = ConfValue::Type;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::unexpected<std::string> err_at(const ConfValue& v, const std::string& what) {
  return std::unexpected(v.pos.describe() + ": " + what);
}

using Result = std::expected<void, std::string>;

Result want(const ConfValue& v, Type t, const std::string& key) {
  if (v.type == t) return {};
  ConfValue tmp;
  tmp.type = t;
  return err_at(v, "'" + key + "' expects a " + std::string(tmp.type_name()) + ", got a " +
                       std::string(v.type_name()));
}

Result get_string(const ConfValue& v, const std::string& key, std::string& out) {
  if (auto r = want(v, Type::string, key); !r) return r;
  out = v.str;
  return {};
}

Result get_int(const ConfValue& v, const std::string& key, int64_t& out) {
  if (auto r = want(v, Type::integer, key); !r) return r;
  out = v.integer;
  return {};
}

Result get_bool(const ConfValue& v, const std::string& key, bool& out) {
  if (auto r = want(v, Type::boolean, key); !r) return r;
  out = v.boolean;
  return {};
}

// A duration is a Go duration string ("2m"), or a number of seconds (nats-server's older form).
Result get_duration(const ConfValue& v, const std::string& key, Duration& out) {
  if (v.type == Type::integer) {
    out = std::chrono::seconds(v.integer);
    return {};
  }
  if (v.type == Type::floating) {
    out = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(v.floating));
    return {};
  }
  if (v.type != Type::string) return err_at(v, "'" + key + "' expects a duration such as \"2m\"");
  auto d = parse_go_duration(v.str);
  if (!d) return err_at(v, "error parsing " + key + ": invalid duration \"" + v.str + "\"");
  out = *d;
  return {};
}

// "host:port", ":port" or "port".
Result get_listen(const ConfValue& v, const std::string& key, std::string& host, int& port) {
  if (v.type == Type::integer) {
    port = static_cast<int>(v.integer);
    return {};
  }
  if (v.type != Type::string) return err_at(v, "'" + key + "' expects host:port");
  const std::string& s = v.str;
  const auto colon = s.rfind(':');
  std::string port_text = colon == std::string::npos ? s : s.substr(colon + 1);
  if (colon != std::string::npos) {
    host = s.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  }
  char* end = nullptr;
  const long p = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || p < -1 || p > 65535) {
    return err_at(v, "could not parse port \"" + port_text + "\" in '" + key + "'");
  }
  port = static_cast<int>(p);
  return {};
}

// Errors about a key point at the key, not its value.
Result unknown_field(const ConfValue& v, const std::string& key) {
  return std::unexpected(v.key_pos.describe() + ": unknown field \"" + key + "\"");
}

Result not_supported(const ConfValue& v, const std::string& key) {
  return std::unexpected(v.key_pos.describe() + ": \"" + key + "\" is not supported by forest-server yet");
}

// A subject list of a permission: one subject or an array of them. Subscribe entries may
// name a queue group after the subject ("subject queue").
Result parse_subject_list(const ConfValue& v, bool with_queue, std::vector<std::string>& out) {
  std::vector<const ConfValue*> items;
  if (v.type == Type::string) {
    items.push_back(&v);
  } else if (v.type == Type::array) {
    for (const ConfValue& item : v.array) items.push_back(&item);
  } else {
    return err_at(v, "Expected subject permissions to be a subject, or array of subjects, got a " +
                         std::string(v.type_name()));
  }
  for (const ConfValue* item : items) {
    if (item->type != Type::string) return err_at(*item, "Subject in permissions array cannot be cast to string");
    // "subject" or, for subscribe, "subject queue": whitespace separated, two words at most.
    std::vector<std::string> words;
    std::string word;
    for (const char c : item->str + " ") {
      if (std::isspace(static_cast<unsigned char>(c))) {
        if (!word.empty()) words.push_back(std::move(word));
        word.clear();
      } else {
        word.push_back(c);
      }
    }
    const bool ok = !words.empty() && words.size() <= (with_queue ? 2u : 1u) && is_valid_subject(words[0]) &&
                    (words.size() < 2 || is_valid_subject(words[1]));
    if (!ok) return err_at(*item, "subject \"" + item->str + "\" is not a valid subject");
    out.push_back(item->str);
  }
  return {};
}

// `publish` / `subscribe`: a subject list (= allow), or a map { allow, deny }.
Result parse_subject_permission(const ConfValue& v, bool with_queue, std::optional<SubjectPermission>& out) {
  SubjectPermission p;
  if (v.type != Type::map) {
    std::vector<std::string> allow;
    if (auto r = parse_subject_list(v, with_queue, allow); !r) return r;
    if (!allow.empty()) p.allow = std::move(allow);
    out = std::move(p);
    return {};
  }
  if (v.map.empty()) return {};  // nats-server: an empty map is no permission at all
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    if (key == "allow") {
      std::vector<std::string> allow;
      if (auto r = parse_subject_list(val, with_queue, allow); !r) return r;
      if (!allow.empty()) p.allow = std::move(allow);
    } else if (key == "deny") {
      if (auto r = parse_subject_list(val, with_queue, p.deny); !r) return r;
    } else if (!val.referenced_as_variable) {
      return std::unexpected(val.key_pos.describe() + ": Unknown field name \"" + k +
                             "\" parsing subject permissions, only 'allow' or 'deny' are permitted");
    }
  }
  out = std::move(p);
  return {};
}

// `allow_responses`: true (nats-server's defaults: 1 message within 2 minutes) or
// { max: N, expires: "1m" }; 0 keeps the default, a negative value means no limit.
Result parse_allow_responses(const ConfValue& v, std::optional<ResponsePermission>& out) {
  if (v.type == Type::boolean) {
    if (v.boolean) out = ResponsePermission{};
    return {};
  }
  if (v.type != Type::map) return err_at(v, "error parsing response permissions, expected a boolean or a map");
  ResponsePermission rp;
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    if (key == "max" || key == "max_msgs" || key == "max_messages" || key == "max_responses") {
      int64_t n = 0;
      if (auto r = get_int(val, k, n); !r) return r;
      if (n != 0) rp.max_msgs = n;
    } else if (key == "expires" || key == "expiration" || key == "ttl") {
      if (val.type != Type::string) return err_at(val, "error parsing expires, not a duration string");
      auto d = parse_go_duration(val.str);
      if (!d) return err_at(val, "error parsing expires: time: invalid duration \"" + val.str + "\"");
      if (d->count() != 0) rp.expires = *d;
    } else if (!val.referenced_as_variable) {
      return std::unexpected(val.key_pos.describe() + ": Unknown field \"" + k + "\" parsing permissions");
    }
  }
  out = rp;
  return {};
}

Result parse_permissions(const ConfValue& v, std::shared_ptr<const PermissionRules>& out) {
  if (v.type != Type::map) {
    return err_at(v, "Expected permissions to be a map/struct, got a " + std::string(v.type_name()));
  }
  Permissions p;
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    Result r;
    if (key == "pub" || key == "publish" || key == "import") {
      r = parse_subject_permission(val, false, p.publish);
    } else if (key == "sub" || key == "subscribe" || key == "export") {
      r = parse_subject_permission(val, true, p.subscribe);
    } else if (key == "publish_allow_responses" || key == "allow_responses") {
      r = parse_allow_responses(val, p.responses);
    } else if (!val.referenced_as_variable) {
      r = std::unexpected(val.key_pos.describe() + ": Unknown field \"" + k + "\" parsing permissions");
    }
    if (!r) return r;
  }
  // With allow_responses and no publish allow list, a user may publish to reply subjects
  // only (nats-server turns the blanket allow off).
  if (p.responses) {
    if (!p.publish) p.publish = SubjectPermission{};
    if (!p.publish->allow) p.publish->allow = std::vector<std::string>{};
  }
  out = std::make_shared<const PermissionRules>(std::move(p));
  return {};
}

// `allowed_connection_types` (also `connection_types`, `clients`): a name or a list of them.
Result parse_connection_types(const ConfValue& v, std::vector<std::string>& out) {
  std::vector<const ConfValue*> items;
  if (v.type == Type::string) {
    items.push_back(&v);
  } else if (v.type == Type::array) {
    for (const ConfValue& item : v.array) items.push_back(&item);
  } else {
    return err_at(v, "allowed connection types should be an array or a string, got a " + std::string(v.type_name()));
  }
  std::string unknown;
  for (const ConfValue* item : items) {
    if (item->type != Type::string) return err_at(*item, "allowed connection types should be strings");
    std::string type = item->str;
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::toupper(c); });
    if (std::ranges::find(kConnectionTypes, type) == std::end(kConnectionTypes)) {
      unknown += (unknown.empty() ? "\"" : " \"") + type + "\"";  // Go's %q of a []string
    } else if (std::ranges::find(out, type) == out.end()) {
      out.push_back(std::move(type));
    }
  }
  if (!unknown.empty()) return err_at(v, "invalid connection types [" + unknown + "]");
  return {};
}

Result parse_users(const ConfValue& v, std::vector<User>& users) {
  if (v.type != Type::array) return err_at(v, "Expected users field to be an array, got a " + std::string(v.type_name()));
  for (const ConfValue& item : v.array) {
    if (item.type != Type::map) return err_at(item, "Expected user entry to be a map/struct");
    User u;
    for (const auto& [k, val] : item.map) {
      const std::string key = lower(k);
      if (key == "user" || key == "username") {
        if (auto r = get_string(val, k, u.username); !r) return r;
      } else if (key == "pass" || key == "password") {
        if (auto r = get_string(val, k, u.password); !r) return r;
      } else if (key == "account") {
        if (auto r = get_string(val, k, u.account); !r) return r;
      } else if (key == "permissions" || key == "permission") {
        if (auto r = parse_permissions(val, u.permissions); !r) return r;
      } else if (key == "nkey") {
        if (auto r = get_string(val, k, u.nkey); !r) return r;
        if (!nkeys::is_valid_user_public_key(u.nkey)) return err_at(item, "Not a valid public nkey for a user");
      } else if (key == "allowed_connection_types" || key == "connection_types" || key == "clients") {
        if (auto r = parse_connection_types(val, u.allowed_connection_types); !r) return r;
      } else if (!val.referenced_as_variable) {
        return unknown_field(val, k);
      }
    }
    if (!u.nkey.empty()) {
      if (!u.username.empty() || !u.password.empty()) return err_at(item, "Nkey users do not take usernames or passwords");
      for (const User& other : users) {
        if (other.nkey == u.nkey) return err_at(item, "Duplicate nkey \"" + u.nkey + "\" detected");
      }
    } else if (u.username.empty()) {
      return err_at(item, "User entry requires a user");
    }
    for (const User& other : users) {
      if (!u.username.empty() && other.username == u.username) {
        return err_at(item, "Duplicate user \"" + u.username + "\" detected");
      }
    }
    users.push_back(std::move(u));
  }
  return {};
}

// `jetstream` inside an account: only "off" for now (JetStream serves $G alone).
Result parse_account_jetstream(const ConfValue& v, const std::string& key) {
  const bool off = (v.type == Type::boolean && !v.boolean) ||
                   (v.type == Type::string && (lower(v.str) == "disabled" || lower(v.str) == "disable"));
  if (off) return {};
  return std::unexpected(v.key_pos.describe() + ": \"" + key +
                         "\" in an account is not supported by forest-server yet (JetStream serves the global "
                         "account only)");
}

// An account's `limits { max_connections, max_subscriptions, max_payload, max_leafnodes }`.
Result parse_account_limits(const ConfValue& v, AccountLimits& limits) {
  if (v.type != Type::map) {
    return err_at(v, "Expected account limits to be a map/struct, got a " + std::string(v.type_name()));
  }
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    Result r;
    if (key == "max_connections" || key == "max_conn") {
      r = get_int(val, k, limits.max_connections);
    } else if (key == "max_subscriptions" || key == "max_subs") {
      r = get_int(val, k, limits.max_subscriptions);
    } else if (key == "max_payload" || key == "max_pay") {
      r = get_int(val, k, limits.max_payload);
    } else if (key == "max_leafnodes" || key == "max_leafs") {
      r = get_int(val, k, limits.max_leafnodes);
    } else if (!val.referenced_as_variable) {
      r = err_at(val, "Unknown field \"" + k + "\" parsing account limits");
    }
    if (!r) return r;
  }
  return {};
}

// Go's %q of a plain string.
std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Where each import and export came from, for the errors found once all accounts are read.
// Per account and kind (0 stream export, 1 service export, 2 stream import, 3 service import),
// "file:line:column" of each entry in order.
struct ImportExportPositions {
  std::map<std::pair<std::string, int>, std::vector<std::string>> at;
  void add(const AccountConfig& acc, int kind, const ConfValue& item) { at[{acc.name, kind}].push_back(item.pos.describe()); }
};

// `{account: A, subject: "x"}` of an import.
Result parse_import_source(const ConfValue& v, std::string& account, std::string& subject) {
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    if (key == "account") {
      if (auto r = get_string(val, k, account); !r) return r;
    } else if (key == "subject") {
      if (auto r = get_string(val, k, subject); !r) return r;
    } else if (!val.referenced_as_variable) {
      return unknown_field(val, k);
    }
  }
  return {};
}

// `latency: "lat.subject"` (every request) or `latency: {sampling: 50% | 50 | headers, subject: s}`.
std::expected<ServiceLatencyConfig, std::string> parse_service_latency(const ConfValue& v) {
  ServiceLatencyConfig l;
  if (v.type == Type::string) {
    l.subject = v.str;
    return l;
  }
  if (v.type != Type::map) {
    return err_at(v, "Expected latency entry to be a map/struct or string, got a " + std::string(v.type_name()));
  }
  // Go reads exactly these two keys (case matters) and ignores any other.
  const ConfValue* subject = nullptr;
  for (const auto& [key, val] : v.map) {
    if (key == "sampling") {
      int64_t sample = 0;
      bool headers = false;
      if (val.type == Type::integer) {
        sample = val.integer;
      } else if (val.type == Type::string) {
        std::string_view text = val.str;
        std::string trimmed = lower(std::string(text));
        while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())) != 0) trimmed.pop_back();
        while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())) != 0) trimmed.erase(0, 1);
        if (trimmed == "headers") {
          headers = true;
        } else {
          // strconv.Atoi: an optional sign, decimal digits, within 64 bits.
          if (text.ends_with('%')) text.remove_suffix(1);
          std::string_view digits = text;
          if (digits.starts_with('+')) digits.remove_prefix(1);
          int64_t n = 0;
          const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
          const bool syntax_ok = !digits.empty() && end == digits.data() + digits.size() && !digits.starts_with('+');
          if (!syntax_ok || ec == std::errc::invalid_argument) {
            return err_at(val, "Failed to parse latency sample: strconv.Atoi: parsing " + quoted(std::string(text)) +
                                   ": invalid syntax");
          }
          if (ec == std::errc::result_out_of_range) {
            return err_at(val, "Failed to parse latency sample: strconv.Atoi: parsing " + quoted(std::string(text)) +
                                   ": value out of range");
          }
          sample = n;
        }
      } else {
        return err_at(val, "Expected latency sample to be a string or map/struct, got a " + std::string(val.type_name()));
      }
      if (!headers && (sample < 1 || sample > 100)) {
        return err_at(val, "bad sampling percentage, should be 1-100");
      }
      l.sampling = static_cast<int>(sample);
    } else if (key == "subject") {
      subject = &val;
    }
  }
  if (subject == nullptr) return err_at(v, "Latency subject required, but missing");
  if (subject->type != Type::string) {
    return err_at(*subject, "Expected latency subject to be a string, got a " + std::string(subject->type_name()));
  }
  l.subject = subject->str;
  return l;
}

// `exports [ {stream: "x.>"}, {service: "req", accounts: [B], response_type: stream} ]`.
Result parse_exports(const ConfValue& v, AccountConfig& acc, ImportExportPositions& pos) {
  if (v.type != Type::array) return err_at(v, "Exports should be an array, got a " + std::string(v.type_name()));
  for (const ConfValue& item : v.array) {
    if (item.type != Type::map) {
      return err_at(item, "Export Items should be a map with type entry, got a " + std::string(item.type_name()));
    }
    std::optional<std::string> stream, service;
    std::vector<std::string> accounts;
    std::optional<ResponseType> rt;
    Duration threshold{0};
    bool threshold_seen = false;
    std::optional<ServiceLatencyConfig> latency;
    int64_t token_position = 0;
    for (const auto& [k, val] : item.map) {
      const std::string key = lower(k);
      if (key == "stream" || key == "service") {
        if ((key == "stream" && service) || (key == "service" && stream)) {
          return err_at(val, "Detected " + key + " " + quoted(val.str) + " but already saw a " +
                                 (key == "stream" ? "service" : "stream"));
        }
        if (val.type != Type::string) {
          return err_at(val, "Expected " + key + " name to be string, got a " + std::string(val.type_name()));
        }
        (key == "stream" ? stream : service) = val.str;
      } else if (key == "response" || key == "response_type") {
        if (rt) return err_at(val, "Duplicate response type definition");
        if (val.type != Type::string) {
          return err_at(val, "Expected response type to be string, got a " + std::string(val.type_name()));
        }
        const std::string t = lower(val.str);
        if (t == "single" || t == "singleton") {
          rt = ResponseType::singleton;
        } else if (t == "stream") {
          rt = ResponseType::stream;
        } else if (t == "chunk" || t == "chunked") {
          rt = ResponseType::chunked;
        } else {
          return err_at(val, "Unknown response type: " + quoted(val.str));
        }
      } else if (key == "threshold" || key == "response_threshold" || key == "response_max_time" ||
                 key == "response_time") {
        if (threshold_seen) return err_at(val, "Duplicate response threshold detected");
        threshold_seen = true;
        auto d = val.type == Type::string ? parse_go_duration(val.str) : std::nullopt;
        if (!d) {
          return err_at(val, val.type == Type::string
                                 ? "Expected response threshold to be a parseable time duration, got " + quoted(val.str)
                                 : "Expected response threshold to be a parseable time duration, got a " +
                                       std::string(val.type_name()));
        }
        threshold = *d;
      } else if (key == "accounts") {
        if (val.type != Type::array) return err_at(val, "'accounts' expects an array of account names");
        for (const ConfValue& a : val.array) {
          if (a.type != Type::string) return err_at(a, "'accounts' expects an array of account names");
          accounts.push_back(a.str);
        }
      } else if (key == "latency") {
        auto l = parse_service_latency(val);
        if (!l) return std::unexpected(l.error());
        latency = std::move(*l);
      } else if (key == "account_token_position") {
        if (auto r = get_int(val, k, token_position); !r) return r;
      } else if (!val.referenced_as_variable) {
        return unknown_field(val, k);
      }
    }
    if (stream) {
      if (rt || threshold_seen) return err_at(item, "Detected response directive on non-service");
      if (latency) return err_at(item, "Detected latency directive on non-service");
      acc.stream_exports.push_back({*stream, accounts, token_position});
      pos.add(acc, 0, item);
    } else if (service) {
      acc.service_exports.push_back(
          {*service, accounts, rt.value_or(ResponseType::singleton), threshold, latency, token_position});
      pos.add(acc, 1, item);
    }
  }
  return {};
}

// `imports [ {stream: {account: A, subject: "x.>"}, prefix: p}, {service: {account: A, subject: s}, to: t} ]`.
Result parse_imports(const ConfValue& v, AccountConfig& acc, ImportExportPositions& pos) {
  if (v.type != Type::array) return err_at(v, "Imports should be an array, got a " + std::string(v.type_name()));
  for (const ConfValue& item : v.array) {
    if (item.type != Type::map) {
      return err_at(item, "Import Items should be a map with type entry, got a " + std::string(item.type_name()));
    }
    bool is_stream = false, is_service = false;
    std::string account, subject, prefix, to;
    bool has_prefix = false, has_to = false, share = false;
    for (const auto& [k, val] : item.map) {
      const std::string key = lower(k);
      if (key == "stream" || key == "service") {
        if ((key == "stream" && is_service) || (key == "service" && is_stream)) {
          return err_at(val, "Detected " + key + " but already saw a " + (key == "stream" ? "service" : "stream"));
        }
        if (val.type != Type::map) {
          return err_at(val, std::string(key == "stream" ? "Stream" : "Service") +
                                 " entry should be an account map, got a " + std::string(val.type_name()));
        }
        if (auto r = parse_import_source(val, account, subject); !r) return r;
        if (account.empty() || subject.empty()) return err_at(val, "Expect an account name and a subject");
        (key == "stream" ? is_stream : is_service) = true;
      } else if (key == "prefix") {
        if (auto r = get_string(val, k, prefix); !r) return r;
        has_prefix = true;
      } else if (key == "to") {
        if (auto r = get_string(val, k, to); !r) return r;
        has_to = true;
      } else if (key == "share") {
        // Latency reports of a shared service import name the requester in full.
        if (auto r = get_bool(val, k, share); !r) return r;
      } else if (!val.referenced_as_variable) {
        return unknown_field(val, k);
      }
    }
    if (is_stream) {
      if (has_prefix && has_to) return err_at(item, "Stream import can not have a 'prefix' and a 'to' property");
      // A prefix is checked when the import is added (it must be a literal): keep it marked.
      acc.stream_imports.push_back({account, subject, has_prefix ? "\x01" + prefix : to});
      pos.add(acc, 2, item);
    } else if (is_service) {
      // nats-server 2.9 ignores a prefix on a service import.
      const std::string local = has_to && !to.empty() ? to : subject;
      for (const ServiceImport& dup : acc.service_imports) {
        if (dup.to == local) {
          return err_at(item, "Duplicate service import subject " + quoted(local) +
                                  ", previously used in import for account " + quoted(dup.account) + ", subject " +
                                  quoted(dup.subject));
        }
      }
      acc.service_imports.push_back({account, subject, local, share});
      pos.add(acc, 3, item);
    }
  }
  return {};
}

const AccountConfig* find_config(const std::vector<AccountConfig>& accounts, const std::string& name) {
  for (const AccountConfig& a : accounts) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::vector<std::string_view> subject_tokens(std::string_view subject) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    const std::size_t dot = subject.find('.', start);
    out.push_back(subject.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

// nats-server's checkAuth. With an account token position, the import's token there must be
// the importer's name; an import of the export's own subject has no such token (its `*`), so
// it is refused, as in Go. Otherwise the approved accounts, or anyone when there are none.
template <typename Export>
bool export_allows(const Export& e, const std::string& subject, bool same_subject, const std::string& account) {
  if (e.account_token_position > 0) {
    if (same_subject) return false;
    const std::vector<std::string_view> tokens = subject_tokens(subject);
    const auto at = static_cast<std::size_t>(e.account_token_position);
    return at <= tokens.size() && tokens[at - 1] == account;
  }
  return e.accounts.empty() || std::find(e.accounts.begin(), e.accounts.end(), account) != e.accounts.end();
}

// nats-server's checkStreamExportApproved / checkServiceExportApproved: an export of the same
// subject decides; else the first export the import's subject is a subset of.
template <typename Export>
bool import_authorized(const std::vector<Export>& exports, const std::string& subject, const std::string& importer) {
  for (const Export& e : exports) {
    if (e.subject == subject) return export_allows(e, subject, true, importer);
  }
  for (const Export& e : exports) {
    if (subject_is_subset(subject, e.subject)) return export_allows(e, subject, false, importer);
  }
  return false;
}

// nats-server's setExportAuth: an account token position must name a `*` token of the export.
bool token_position_valid(const std::string& subject, int64_t position) {
  if (position == 0) return true;
  const std::vector<std::string_view> tokens = subject_tokens(subject);
  return position > 0 && static_cast<std::size_t>(position) <= tokens.size() &&
         tokens[static_cast<std::size_t>(position) - 1] == "*";
}

// The imports added so far, to refuse one that closes a cycle (nats-server's
// serviceImportFormsCycle and streamImportFormsCycle, with their subject rules: a service
// import's local subject against the subjects the exporter itself imports; a stream import's
// subject as seen by the importer against what the exporter imports and exports).
class ImportGraph {
 public:
  explicit ImportGraph(const std::vector<AccountConfig>& accounts) : accounts_(accounts) {}

  Result add_service(const std::string& importer, const ServiceImport& i) {
    std::set<std::string> visited{importer};
    if (auto r = service_cycles(i.account, i.to, visited); !r) return r;
    services_[importer].push_back(&i);
    return {};
  }
  Result add_stream(const std::string& importer, const StreamImport& i) {
    std::set<std::string> visited{importer};
    if (auto r = stream_cycles(i.account, i.to, visited); !r) return r;
    streams_[importer].push_back(&i);
    return {};
  }

 private:
  static constexpr std::size_t kMaxSearch = 1024;  // nats-server's MaxAccountCycleSearchDepth

  Result service_cycles(const std::string& account, std::string from, std::set<std::string>& visited) {
    if (visited.size() >= kMaxSearch) return std::unexpected("search cycle depth exhausted");
    for (const ServiceImport* si : services_[account]) {
      if (!subjects_collide(from, si->subject)) continue;
      if (visited.contains(si->account)) return std::unexpected("import forms a cycle");
      visited.insert(account);
      if (subject_is_subset(si->to, from)) from = si->to;
      if (auto r = service_cycles(si->account, from, visited); !r) return r;
    }
    return {};
  }
  Result stream_cycles(const std::string& account, std::string to, std::set<std::string>& visited) {
    if (visited.size() >= kMaxSearch) return std::unexpected("search cycle depth exhausted");
    const AccountConfig* a = find(account);
    if (a == nullptr) return {};
    const bool exported = std::any_of(a->stream_exports.begin(), a->stream_exports.end(),
                                      [&](const StreamExport& e) { return subject_is_subset(to, e.subject); });
    if (!exported) return {};
    for (const StreamImport* si : streams_[account]) {
      if (!subjects_collide(to, si->to)) continue;
      if (visited.contains(si->account)) return std::unexpected("import forms a cycle");
      visited.insert(account);
      if (subject_is_subset(si->to, to)) to = si->to;
      if (auto r = stream_cycles(si->account, to, visited); !r) return r;
    }
    return {};
  }
  const AccountConfig* find(const std::string& name) const {
    for (const AccountConfig& a : accounts_) {
      if (a.name == name) return &a;
    }
    return nullptr;
  }

  const std::vector<AccountConfig>& accounts_;
  std::map<std::string, std::vector<const ServiceImport*>> services_;
  std::map<std::string, std::vector<const StreamImport*>> streams_;
};

// Once every account is read (nats-server's parseAccounts does the same after its loop):
// exports name known accounts, imports name known accounts and exported subjects.
Result check_imports_exports(std::vector<AccountConfig>& accounts, const ImportExportPositions& pos,
                             const ConfValue& block) {
  const AccountConfig* current = nullptr;
  int kind = 0;
  const void* first = nullptr;  // the kind's vector data, to find an entry's index
  std::size_t size = 0;
  auto fail = [&](const void* entry, const std::string& what) -> Result {
    std::string at = block.pos.describe();
    auto it = pos.at.find({current->name, kind});
    const std::size_t index = size == 0 ? 0 : static_cast<std::size_t>(static_cast<const char*>(entry) - static_cast<const char*>(first)) / size;
    if (it != pos.at.end() && index < it->second.size()) at = it->second[index];
    return std::unexpected(at + ": " + what);
  };
  auto enter = [&](const AccountConfig& a, int k, const auto& vec) {
    current = &a;
    kind = k;
    first = vec.data();
    size = sizeof(vec[0]);
  };
  for (const AccountConfig& a : accounts) {
    enter(a, 0, a.stream_exports);
    for (const StreamExport& e : a.stream_exports) {
      if (!is_valid_subject(e.subject)) return fail(&e, "Error adding stream export " + quoted(e.subject) + ": invalid subject");
      if (!token_position_valid(e.subject, e.account_token_position)) {
        return fail(&e, "Error adding stream export " + quoted(e.subject) + ": sublist: invalid subject");  // Go's text
      }
      for (const std::string& n : e.accounts) {
        if (!find_config(accounts, n)) return fail(&e, quoted(n) + " account not defined for stream export");
      }
    }
    enter(a, 1, a.service_exports);
    for (const ServiceExport& e : a.service_exports) {
      if (!is_valid_subject(e.subject)) return fail(&e, "Error adding service export " + quoted(e.subject) + ": invalid subject");
      if (!token_position_valid(e.subject, e.account_token_position)) {
        return fail(&e, "Error adding service export " + quoted(e.subject) + ": sublist: invalid subject");  // Go's text
      }
      for (const std::string& n : e.accounts) {
        if (!find_config(accounts, n)) return fail(&e, quoted(n) + " account not defined for service export");
      }
      if (e.latency) {
        // nats-server's TrackServiceExportWithSampling: a literal subject that is not one of the
        // account's own services (the reports would loop), on a singleton service.
        const std::string err = "Error adding service latency sampling for " + quoted(e.subject) + " on subject " +
                                quoted(e.latency->subject) + ": ";
        bool loops = false;
        for (const ServiceExport& other : a.service_exports) {
          if (is_valid_literal_subject(e.latency->subject) && subject_matches(other.subject, e.latency->subject)) loops = true;
        }
        if (!is_valid_literal_subject(e.latency->subject) || loops) return fail(&e, err + "invalid publish subject");
        if (e.response_type != ResponseType::singleton) return fail(&e, err + "bad service response type");
      }
    }
  }
  for (AccountConfig& a : accounts) {
    enter(a, 2, a.stream_imports);
    for (StreamImport& i : a.stream_imports) {
      const AccountConfig* from = find_config(accounts, i.account);
      if (from == nullptr) return fail(&i, quoted(i.account) + " account not defined for stream import");
      const std::string err = "Error adding stream import " + quoted(i.subject) + ": ";
      if (!is_valid_subject(i.subject) || !import_authorized(from->stream_exports, i.subject, a.name)) {
        return fail(&i, err + "stream import not authorized");
      }
      if (!i.to.empty() && i.to[0] == '\x01') {
        std::string prefix = i.to.substr(1);
        if (!prefix.empty()) {
          if (has_wildcard(prefix)) return fail(&i, err + "stream import prefix can not contain wildcard tokens");
          if (prefix.back() != '.') prefix += '.';
        }
        i.to = prefix + i.subject;
      }
      if (i.to.empty()) i.to = i.subject;
      for (const StreamImport& other : a.stream_imports) {
        if (&other == &i) break;
        if (other.account == i.account && other.subject == i.subject) return fail(&i, err + "stream import already exists");
      }
      if (has_wildcard(i.subject) && i.to != i.subject) {
        if (auto t = make_subject_transform(i.subject, number_wildcards(i.to)); !t) {
          return fail(&i, "Error adding stream import " + quoted(i.subject) +
                              ": failed to create mapping transform for stream import subject " + quoted(i.subject) +
                              " to " + quoted(i.to) + ": " + t.error());
        }
      }
    }
    enter(a, 3, a.service_imports);
    for (const ServiceImport& i : a.service_imports) {
      const AccountConfig* to = find_config(accounts, i.account);
      if (to == nullptr) return fail(&i, quoted(i.account) + " account not defined for service import");
      const std::string err = "Error adding service import " + quoted(i.subject) + ": ";
      if (!is_valid_subject(i.subject) || !is_valid_subject(i.to)) return fail(&i, err + "invalid subject");
      if (!import_authorized(to->service_exports, i.subject, a.name)) return fail(&i, err + "service import not authorized");
      if (i.account == a.name) return fail(&i, err + "import forms a cycle");
      if (has_wildcard(i.subject) && i.to != i.subject) {
        if (auto t = make_subject_transform(i.to, number_wildcards(i.subject)); !t) {
          return fail(&i, err + "failed to create mapping transform for service import subject " + quoted(i.to) +
                              " to " + quoted(i.subject) + ": " + t.error());
        }
      }
    }
  }
  // Cycles, as nats-server finds them: imports are added one by one (stream imports, then
  // service imports), and the one that closes a cycle with those added before is refused.
  ImportGraph graph(accounts);
  for (const AccountConfig& a : accounts) {
    enter(a, 2, a.stream_imports);
    for (const StreamImport& i : a.stream_imports) {
      if (auto r = graph.add_stream(a.name, i); !r) return fail(&i, "Error adding stream import " + quoted(i.subject) + ": " + r.error());
    }
  }
  for (const AccountConfig& a : accounts) {
    enter(a, 3, a.service_imports);
    for (const ServiceImport& i : a.service_imports) {
      if (auto r = graph.add_service(a.name, i); !r) return fail(&i, "Error adding service import " + quoted(i.subject) + ": " + r.error());
    }
  }
  return {};
}

// One account's map: its users (with the account's default_permissions for those without
// their own), limits, exports and imports (checked against the other accounts later, in
// check_imports_exports). Mappings are not supported yet: a clear error.
Result parse_account(const std::string& name, const ConfValue& v, std::vector<User>& users, AccountConfig& acc,
                     ImportExportPositions& pos) {
  AccountLimits& limits = acc.limits;
  std::vector<User> own;
  std::shared_ptr<const PermissionRules> default_permissions;
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    if (key == "users") {
      if (auto r = parse_users(val, own); !r) return r;
    } else if (key == "default_permissions" || key == "default_permission") {
      if (auto r = parse_permissions(val, default_permissions); !r) return r;
    } else if (key == "jetstream") {
      if (auto r = parse_account_jetstream(val, k); !r) return r;
    } else if (key == "limits") {
      if (auto r = parse_account_limits(val, limits); !r) return r;
    } else if (key == "exports") {
      if (auto r = parse_exports(val, acc, pos); !r) return r;
    } else if (key == "imports") {
      if (auto r = parse_imports(val, acc, pos); !r) return r;
    } else if (key == "mappings" || key == "maps" || key == "nkey") {
      return not_supported(val, k);
    } else if (!val.referenced_as_variable) {
      return unknown_field(val, k);
    }
  }
  for (User& u : own) {
    if (!u.account.empty() && u.account != name) {
      return err_at(v, "user \"" + u.username + "\" of account \"" + name + "\" names another account, \"" +
                           u.account + "\"");
    }
    u.account = name;
    if (!u.permissions) u.permissions = default_permissions;
    users.push_back(std::move(u));
  }
  return {};
}

// `accounts { A { users [...] } B {...} }`, or a plain list of names `accounts [A, B]`.
Result parse_accounts(const ConfValue& v, Options& o, std::vector<User>& account_users) {
  std::vector<AccountConfig> accounts;
  ImportExportPositions pos;
  std::vector<User> users;
  auto add = [&](const ConfValue& at, const std::string& name) -> Result {
    if (name == "$G") return err_at(at, "\"" + name + "\" is a Reserved Account");  // the global account
    if (name.empty()) return err_at(at, "an account needs a name");
    for (const AccountConfig& a : accounts) {
      if (a.name == name) return err_at(at, "Duplicate Account Entry: " + name);
    }
    accounts.push_back(AccountConfig{name, {}, {}, {}, {}, {}});
    return {};
  };
  if (v.type == Type::array) {
    for (const ConfValue& item : v.array) {
      if (item.type != Type::string) return err_at(item, "Expected an account name");
      if (auto r = add(item, item.str); !r) return r;
    }
  } else if (v.type == Type::map) {
    for (const auto& [name, val] : v.map) {
      if (val.referenced_as_variable) continue;
      if (val.type != Type::map) return err_at(val, "Expected map entries for accounts");
      if (auto r = add(val, name); !r) return r;
      if (auto r = parse_account(name, val, users, accounts.back(), pos); !r) return r;
    }
    if (auto r = check_imports_exports(accounts, pos, v); !r) return r;
  } else {
    return err_at(v, "Expected accounts to be a map or an array of names, got a " + std::string(v.type_name()));
  }
  o.accounts = std::move(accounts);
  // Joined with the authorization block's users at the end of the file (apply_top).
  account_users = std::move(users);
  return {};
}

Result parse_authorization(const ConfValue& v, Options& o) {
  if (auto r = want(v, Type::map, "authorization"); !r) return r;
  std::string user, pass, token;
  std::vector<User> users;
  std::shared_ptr<const PermissionRules> default_permissions;
  bool has_users = false;
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    if (key == "user" || key == "username") {
      if (auto r = get_string(val, k, user); !r) return r;
    } else if (key == "pass" || key == "password") {
      if (auto r = get_string(val, k, pass); !r) return r;
    } else if (key == "token") {
      if (auto r = get_string(val, k, token); !r) return r;
    } else if (key == "timeout") {
      o.auth_timeout_set = true;
      if (val.type == Type::integer) {
        o.auth_timeout = std::chrono::seconds(val.integer);
      } else if (val.type == Type::floating) {
        o.auth_timeout = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(val.floating));
      } else {
        return err_at(val, "'timeout' expects a number of seconds");
      }
    } else if (key == "users") {
      has_users = true;
      if (auto r = parse_users(val, users); !r) return r;
    } else if (key == "default_permissions" || key == "default_permission") {
      if (auto r = parse_permissions(val, default_permissions); !r) return r;
    } else if (key == "permissions" || key == "nkeys" || key == "auth_callout") {
      return not_supported(val, k);
    } else if (!val.referenced_as_variable) {
      return unknown_field(val, k);
    }
  }
  if ((!user.empty() || !pass.empty()) && !token.empty()) return err_at(v, "Cannot have a user/pass and token");
  if (has_users && !user.empty()) return err_at(v, "Can not have a single user/pass and a users array");
  if (has_users && !token.empty()) return err_at(v, "Can not have a token and a users array");
  // Users without permissions of their own get the defaults, wherever they were written.
  for (User& u : users) {
    if (!u.permissions) u.permissions = default_permissions;
  }
  o.username = user;
  o.password = pass;
  o.token = token;
  o.users = std::move(users);
  return {};
}

Result parse_tls(const ConfValue& v, TlsOptions& t);  // below, with the other tls keys

Result parse_cluster(const ConfValue& v, ClusterOptions& c) {
  if (auto r = want(v, Type::map, "cluster"); !r) return r;
  c.configured = true;
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    if (key == "name") {
      if (auto r = get_string(val, k, c.name); !r) return r;
    } else if (key == "listen") {
      if (auto r = get_listen(val, k, c.host, c.port); !r) return r;
    } else if (key == "port") {
      int64_t p = 0;
      if (auto r = get_int(val, k, p); !r) return r;
      c.port = static_cast<int>(p);
    } else if (key == "host" || key == "net") {
      if (auto r = get_string(val, k, c.host); !r) return r;
    } else if (key == "routes") {
      if (val.type != Type::array) return err_at(val, "'routes' expects an array of URLs");
      for (const ConfValue& r : val.array) {
        if (r.type != Type::string) return err_at(r, "a route must be a URL string");
        c.routes.push_back(r.str);
      }
    } else if (key == "advertise" || key == "cluster_advertise") {
      if (auto r = get_string(val, k, c.advertise); !r) return r;
    } else if (key == "no_advertise") {
      if (auto r = get_bool(val, k, c.no_advertise); !r) return r;
    } else if (key == "connect_retries") {
      int64_t n = 0;
      if (auto r = get_int(val, k, n); !r) return r;
      c.connect_retries = static_cast<int>(n);
    } else if (key == "authorization") {
      if (auto r = want(val, Type::map, k); !r) return r;
      for (const auto& [ak, av] : val.map) {
        const std::string akey = lower(ak);
        if (akey == "user" || akey == "username") {
          if (auto r = get_string(av, ak, c.username); !r) return r;
        } else if (akey == "pass" || akey == "password") {
          if (auto r = get_string(av, ak, c.password); !r) return r;
        } else if (akey == "timeout") {
          c.auth_timeout_seconds = av.type == Type::integer ? static_cast<double>(av.integer) : av.floating;
        } else {
          return unknown_field(av, ak);
        }
      }
    } else if (key == "pool_size") {
      // nats-server 2.10's route pooling; 2.9's protocol (ours) has one route per pair.
      int64_t n = 0;
      if (auto r = get_int(val, k, n); !r) return r;
      c.pool_size = static_cast<int>(n);
    } else if (key == "tls") {
      if (auto r = parse_tls(val, c.tls); !r) return r;
      if (c.tls.map) return not_supported(val, "cluster tls verify_and_map");
    } else if (key == "permissions" || key == "compression") {
      return not_supported(val, k);
    } else if (!val.referenced_as_variable) {
      return unknown_field(val, k);
    }
  }
  return {};
}

Result parse_jetstream(const ConfValue& v, JetStreamOptions& js) {
  if (v.type == Type::boolean) {
    js.enabled = v.boolean;
    return {};
  }
  if (v.type == Type::string) {
    const std::string s = lower(v.str);
    if (s == "enabled" || s == "enable") {
      js.enabled = true;
      return {};
    }
    if (s == "disabled" || s == "disable") {
      js.enabled = false;
      return {};
    }
    return err_at(v, "'jetstream' expects a map, a boolean, \"enabled\" or \"disabled\"");
  }
  if (auto r = want(v, Type::map, "jetstream"); !r) return r;
  js.enabled = true;
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    if (key == "store" || key == "store_dir" || key == "storedir") {
      if (auto r = get_string(val, k, js.store_dir); !r) return r;
    } else if (key == "max_memory_store" || key == "max_mem_store" || key == "max_mem") {
      if (auto r = get_int(val, k, js.max_memory); !r) return r;
    } else if (key == "max_file_store" || key == "max_file") {
      if (auto r = get_int(val, k, js.max_store); !r) return r;
    } else if (key == "domain") {
      if (auto r = get_string(val, k, js.domain); !r) return r;
    } else if (key == "enable" || key == "enabled") {
      if (auto r = get_bool(val, k, js.enabled); !r) return r;
    } else if (key == "sync_interval" || key == "sync") {
      if (val.type == Type::string) {
        js.sync_interval = val.str;
      } else {
        return err_at(val, "'sync_interval' expects \"always\" or a duration");
      }
    } else if (key == "key" || key == "ek" || key == "encryption_key" || key == "cipher" || key == "limits" ||
               key == "unique_tag" || key == "max_outstanding_catchup" || key == "extension_hint") {
      return not_supported(val, k);
    } else if (!val.referenced_as_variable) {
      return unknown_field(val, k);
    }
  }
  return {};
}

// A list of names (cipher_suites, curve_preferences): an array of strings, never empty.
Result get_name_list(const ConfValue& v, const std::string& key, std::vector<std::string>& out) {
  if (auto r = want(v, Type::array, key); !r) return r;
  if (v.array.empty()) return err_at(v, "error parsing tls config, '" + key + "' cannot be empty");
  out.clear();
  for (const ConfValue& item : v.array) {
    if (auto r = want(item, Type::string, key); !r) return r;
    out.push_back(item.str);
  }
  return {};
}

// pinned_certs: hex SHA-256 of DER SubjectPublicKeyInfo, kept in lower case.
Result parse_pinned_certs(const ConfValue& v, std::vector<std::string>& out) {
  if (v.type != Type::array) {
    return err_at(v, "error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER "
                     "encoded SubjectPublicKeyInfo");
  }
  out.clear();
  for (const ConfValue& item : v.array) {
    if (auto r = want(item, Type::string, "pinned_certs"); !r) return r;
    std::string entry = lower(item.str);
    const bool hex = entry.size() == 64 && std::all_of(entry.begin(), entry.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
    if (!hex) {
      return err_at(item, "error parsing tls config, 'pinned_certs' key " + entry +
                              " does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo");
    }
    if (std::find(out.begin(), out.end(), entry) == out.end()) out.push_back(std::move(entry));
  }
  return {};
}

// The top-level tls {} block: TLS on the client port (nats-server's parseTLS in a client
// context). Names are checked here so the error points at the file; the files themselves are
// read when the server builds its TLS context.
Result parse_tls(const ConfValue& v, TlsOptions& t) {
  if (auto r = want(v, Type::map, "tls"); !r) return r;
  t = TlsOptions{};
  t.enabled = true;
  for (const auto& [k, val] : v.map) {
    const std::string key = lower(k);
    Result r;
    if (key == "cert_file") {
      r = get_string(val, k, t.cert_file);
    } else if (key == "key_file") {
      r = get_string(val, k, t.key_file);
    } else if (key == "ca_file") {
      r = get_string(val, k, t.ca_file);
    } else if (key == "verify") {
      r = get_bool(val, k, t.verify);
    } else if (key == "insecure") {
      // Only a dialing side (routes) skips verification; the client port takes and ignores it, as nats-server.
      r = get_bool(val, k, t.insecure);
    } else if (key == "timeout") {
      if (val.type == Type::integer) {
        t.timeout_seconds = static_cast<double>(val.integer);
      } else if (val.type == Type::floating) {
        t.timeout_seconds = val.floating;
      } else if (val.type == Type::string) {
        auto d = parse_go_duration(val.str);
        if (!d) return err_at(val, "error parsing tls config, 'timeout' invalid duration \"" + val.str + "\"");
        t.timeout_seconds = std::chrono::duration<double>(*d).count();
      } else {
        return err_at(val, "error parsing tls config, 'timeout' wrong type");
      }
    } else if (key == "min_version") {
      // Ours (nats-server 2.10 has it; 2.9 refuses the key): "1.2" or "1.3".
      if (val.type == Type::floating) {
        t.min_version = val.floating == 1.3 ? "1.3" : val.floating == 1.2 ? "1.2" : "?";
      } else {
        r = get_string(val, k, t.min_version);
      }
      if (r && t.min_version != "1.2" && t.min_version != "1.3") {
        return err_at(val, "error parsing tls config, unsupported 'min_version' (1.2 or 1.3)");
      }
    } else if (key == "cipher_suites") {
      r = get_name_list(val, k, t.cipher_suites);
      for (std::size_t i = 0; r && i < t.cipher_suites.size(); ++i) {
        if (auto n = openssl_cipher_name(t.cipher_suites[i]); !n) r = err_at(val.array[i], n.error());
      }
    } else if (key == "curve_preferences") {
      r = get_name_list(val, k, t.curve_preferences);
      for (std::size_t i = 0; r && i < t.curve_preferences.size(); ++i) {
        if (auto n = openssl_curve_name(t.curve_preferences[i]); !n) r = err_at(val.array[i], n.error());
      }
    } else if (key == "verify_cert_and_check_known_urls") {
      r = err_at(val, "verify_cert_and_check_known_urls not supported in this context");
    } else if (key == "verify_and_map") {
      if (val.type != Type::boolean) return err_at(val, "error parsing tls config, expected 'verify_and_map' to be a boolean");
      if (val.boolean) t.verify = true;
      t.map = val.boolean;
    } else if (key == "pinned_certs") {
      r = parse_pinned_certs(val, t.pinned_certs);
    } else if (key == "connection_rate_limit") {
      r = not_supported(val, "tls " + k);
    } else {
      r = err_at(val, "error parsing tls config, unknown field [\"" + k + "\"]");
    }
    if (!r) return r;
  }
  return {};
}

Result check_int32(const ConfValue& v, const std::string& key, int64_t& out) {
  if (auto r = get_int(v, key, out); !r) return r;
  if (out > (1LL << 31) - 1) return err_at(v, key + " value is too big");
  return {};
}

Result apply_top(const ConfValue& top, Options& o) {
  std::vector<User> account_users;
  for (const auto& [k, v] : top.map) {
    const std::string key = lower(k);
    Result r;
    if (key == "listen") {
      r = get_listen(v, k, o.host, o.port);
    } else if (key == "port") {
      int64_t p = 0;
      r = get_int(v, k, p);
      o.port = static_cast<int>(p);
    } else if (key == "host" || key == "net") {
      r = get_string(v, k, o.host);
    } else if (key == "server_name") {
      r = get_string(v, k, o.server_name);
    } else if (key == "node_info") {
      r = get_string(v, k, o.node_info);
    } else if (key == "registry") {
      r = get_string(v, k, o.registry);
    } else if (key == "registry_interval") {
      r = get_duration(v, k, o.registry_interval);
    } else if (key == "client_advertise") {
      r = get_string(v, k, o.client_advertise);
    } else if (key == "http") {
      r = get_listen(v, k, o.http_host, o.http_port);
    } else if (key == "https") {
      r = get_listen(v, k, o.http_host, o.https_port);
    } else if (key == "https_port") {
      int64_t p = 0;
      r = get_int(v, k, p);
      o.https_port = static_cast<int>(p);
    } else if (key == "http_port" || key == "monitor_port") {
      int64_t p = 0;
      r = get_int(v, k, p);
      o.http_port = static_cast<int>(p);
    } else if (key == "max_payload") {
      r = check_int32(v, k, o.max_payload);
    } else if (key == "max_control_line") {
      r = check_int32(v, k, o.max_control_line);
    } else if (key == "max_pending") {
      r = get_int(v, k, o.max_pending);
    } else if (key == "max_connections" || key == "max_conn") {
      r = get_int(v, k, o.max_connections);
    } else if (key == "max_subscriptions" || key == "max_subs") {
      r = get_int(v, k, o.max_subscriptions);
    } else if (key == "ping_interval") {
      r = get_duration(v, k, o.ping_interval);
    } else if (key == "ping_max") {
      int64_t n = 0;
      r = get_int(v, k, n);
      o.ping_max = static_cast<int>(n);
    } else if (key == "write_deadline") {
      r = get_duration(v, k, o.write_deadline);
    } else if (key == "lame_duck_duration") {
      r = get_duration(v, k, o.lame_duck_duration);
      if (r && o.lame_duck_duration < std::chrono::seconds(30)) {
        r = err_at(v, "invalid lame_duck_duration of " + format_go_duration(o.lame_duck_duration) +
                          ", minimum is 30 seconds");
      }
    } else if (key == "lame_duck_grace_period") {
      r = get_duration(v, k, o.lame_duck_grace_period);
      if (r && o.lame_duck_grace_period.count() < 0) {
        r = err_at(v, "invalid lame_duck_grace_period, needs to be positive");
      }
    } else if (key == "authorization") {
      r = parse_authorization(v, o);
    } else if (key == "accounts") {
      r = parse_accounts(v, o, account_users);
    } else if (key == "no_auth_user") {
      r = get_string(v, k, o.no_auth_user);
    } else if (key == "debug") {
      r = get_bool(v, k, o.debug);
    } else if (key == "trace") {
      r = get_bool(v, k, o.trace);
    } else if (key == "logtime") {
      r = get_bool(v, k, o.logtime);
    } else if (key == "log_file" || key == "logfile") {
      r = get_string(v, k, o.log_file);
    } else if (key == "pid_file" || key == "pidfile") {
      r = get_string(v, k, o.pid_file);
    } else if (key == "ports_file_dir") {
      r = get_string(v, k, o.ports_file_dir);
    } else if (key == "cluster") {
      r = parse_cluster(v, o.cluster);
    } else if (key == "jetstream") {
      r = parse_jetstream(v, o.jetstream);
    } else if (key == "store_dir" || key == "storedir") {
      r = get_string(v, k, o.jetstream.store_dir);
    } else if (key == "tls") {
      r = parse_tls(v, o.tls);
    } else if (key == "system_account" || key == "system") {
      if (v.type != Type::string) {
        r = err_at(v, "system account name must be a string");
      } else {
        o.system_account = v.str;
      }
    } else if (key == "no_system_account" || key == "no_system" || key == "no_sys_acc") {
      r = get_bool(v, k, o.no_system_account);
    } else if (key == "gateway" || key == "leaf" ||
               key == "leafnodes" || key == "operator" || key == "operators" ||
               key == "resolver" || key == "websocket" || key == "ws" || key == "mqtt" || key == "mappings" ||
               key == "maps" || key == "trusted" || key == "trusted_keys" ||
               key == "syslog" || key == "remote_syslog" || key == "ocsp") {
      r = not_supported(v, k);
    } else if (key == "trace_verbose" || key == "max_traced_msg_len" || key == "disable_sublist_cache" ||
               key == "no_sublist_cache" || key == "logfile_size_limit" || key == "log_size_limit" ||
               key == "max_sub_tokens" || key == "max_subscription_tokens" || key == "prof_port" ||
               key == "connect_error_reports" || key == "reconnect_error_reports" || key == "server_tags" ||
               key == "no_header_support" || key == "default_js_domain" || key == "allow_non_tls") {
      r = not_supported(v, k);
    } else if (!v.referenced_as_variable) {
      r = unknown_field(v, k);
    }
    if (!r) return r;
  }
  for (User& u : account_users) {
    for (const User& other : o.users) {
      if (!u.username.empty() && other.username == u.username) {
        return std::unexpected("Duplicate user \"" + u.username + "\" detected");
      }
      if (!u.nkey.empty() && other.nkey == u.nkey) return std::unexpected("Duplicate nkey \"" + u.nkey + "\" detected");
    }
    o.users.push_back(std::move(u));
  }
  if (o.no_system_account) {
    // nats-server sends latency reports through its system account's event machinery.
    for (const AccountConfig& a : o.accounts) {
      for (const ServiceExport& e : a.service_exports) {
        if (e.latency) {
          return std::unexpected("Error adding service latency sampling for " + quoted(e.subject) +
                                 ": system account not setup");
        }
      }
    }
  }
  return {};
}

}  // namespace

std::optional<Duration> parse_go_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::size_t i = 0;
  bool negative = false;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    ++i;
  }
  if (text.substr(i) == "0") return Duration::zero();
  double total_ns = 0;
  bool any = false;
  while (i < text.size()) {
    const std::size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) return std::nullopt;
    const double value = std::strtod(text.substr(start, i - start).c_str(), nullptr);
    const std::size_t unit_start = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '.') ++i;
    const std::string unit = text.substr(unit_start, i - unit_start);
    static const std::map<std::string, double> kUnits = {
        {"ns", 1}, {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    auto it = kUnits.find(unit);
    if (it == kUnits.end()) return std::nullopt;
    total_ns += value * it->second;
    any = true;
  }
  if (!any) return std::nullopt;
  const auto ns = static_cast<int64_t>(std::llround(total_ns));
  return Duration(negative ? -ns : ns);
}

std::string format_go_duration(Duration d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  if (ns < 1000000000) {
    char buf[64];
    if (ns < 1000) {
      std::snprintf(buf, sizeof buf, "%lldns", static_cast<long long>(ns));
    } else if (ns < 1000000) {
      std::snprintf(buf, sizeof buf, "%gµs", static_cast<double>(ns) / 1e3);
    } else {
      std::snprintf(buf, sizeof buf, "%gms", static_cast<double>(ns) / 1e6);
    }
    return out + buf;
  }
  const int64_t hours = ns / 3600000000000LL;
  ns -= hours * 3600000000000LL;
  const int64_t minutes = ns / 60000000000LL;
  ns -= minutes * 60000000000LL;
  char secs[64];
  std::snprintf(secs, sizeof secs, "%.9f", static_cast<double>(ns) / 1e9);
  std::string s = secs;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  return out + s + "s";
}

std::expected<void, std::string> apply_config_text(Options& opts, const std::string& text, const std::string& name) {
  auto parsed = config::parse_config(text, name);
  if (!parsed) return std::unexpected(parsed.error().message);
  return apply_top(*parsed, opts);
}

std::expected<void, std::string> apply_config_file(Options& opts, const std::string& path) {
  auto parsed = config::parse_config_file(path);
  if (!parsed) return std::unexpected(parsed.error().message);
  opts.config_file = path;
  return apply_top(*parsed, opts);
}

namespace {

// Where a credential setting came from, for error messages: the flag or the config key.
std::string origin(const Options& o, const char* flag, const char* key) {
  if (o.set_by_flags.contains(flag)) return std::string("--") + flag;
  return std::string("authorization { ") + key + " }";
}

}  // namespace

// The combinations nats-server refuses in one authorization block (opts.go), refused here
// whatever their source: nats-server accepts `--auth` or `--user` on the command line together
// with a users list in the file and then honours only part of them; we refuse to start
// rather than guess which one the operator meant.
std::expected<void, std::string> validate_auth(const Options& o) {
  auto fail = [](const std::string& what, const std::string& detail) {
    return std::unexpected(what + " (" + detail + ")");
  };
  const std::string token_from = origin(o, "auth", "token");
  const std::string user_from = origin(o, "user", "user");
  const std::string users_from = "authorization { users }";
  if ((!o.username.empty() || !o.password.empty()) && !o.token.empty()) {
    return fail("Cannot have a user/pass and token",
                "token from " + token_from + ", user/pass from " + (o.username.empty() ? origin(o, "pass", "password") : user_from));
  }
  const bool account_users = std::any_of(o.users.begin(), o.users.end(), [&](const User& u) {
    return !u.account.empty() && std::any_of(o.accounts.begin(), o.accounts.end(),
                                             [&](const AccountConfig& a) { return a.name == u.account; });
  });
  if (account_users && !o.username.empty()) {
    return fail("Can not have a single user/pass and accounts", "user from " + user_from + ", users in accounts {}");
  }
  if (account_users && !o.token.empty()) {
    return fail("Can not have a token and accounts", "token from " + token_from + ", users in accounts {}");
  }
  if (!o.users.empty() && !o.username.empty()) {
    return fail("Can not have a single user/pass and a users array", "user from " + user_from + ", users from " + users_from);
  }
  if (!o.users.empty() && !o.token.empty()) {
    return fail("Can not have a token and a users array", "token from " + token_from + ", users from " + users_from);
  }
  if (!o.password.empty() && o.username.empty()) {
    // nats-server then requires no authorization at all: a password nobody is asked for.
    return fail("Can not have a password without a user", "password from " + origin(o, "pass", "password"));
  }
  if (!o.no_auth_user.empty()) {
    if (o.users.empty()) {
      return std::unexpected("no_auth_user: \"" + o.no_auth_user + "\" present, but users are not defined");
    }
    bool found = false;
    for (const User& u : o.users) found = found || u.username == o.no_auth_user;
    if (!found) {
      return std::unexpected("no_auth_user: \"" + o.no_auth_user + "\" not present as user in authorization block");
    }
  }
  return {};
}

std::expected<void, std::string> validate_options(const Options& o) {
  if (o.port < kRandomPort || o.port > 65535) return std::unexpected("invalid client port " + std::to_string(o.port));
  if (o.http_port < kRandomPort || o.http_port > 65535) {
    return std::unexpected("invalid monitoring port " + std::to_string(o.http_port));
  }
  if (o.https_port < kRandomPort || o.https_port > 65535) {
    return std::unexpected("invalid https monitoring port " + std::to_string(o.https_port));
  }
  if (auto r = validate_auth(o); !r) return r;
  // "$SYS" is made when it is not configured; any other name must be a configured account.
  if (!o.system_account.empty() && o.system_account != kSystemAccount &&
      std::none_of(o.accounts.begin(), o.accounts.end(), [&](const AccountConfig& a) { return a.name == o.system_account; })) {
    return std::unexpected("error resolving system account: account missing (\"" + o.system_account + "\")");
  }
  if (const std::string& si = o.jetstream.sync_interval; !si.empty() && si != "always") {
    auto d = parse_go_duration(si);
    if (!d || d->count() <= 0) return std::unexpected("jetstream sync_interval: expected \"always\" or a positive duration, got \"" + si + "\"");
  }
  if (o.max_payload <= 0) return std::unexpected(std::string("max_payload must be positive"));
  if (o.max_control_line <= 0) return std::unexpected(std::string("max_control_line must be positive"));
  if (o.max_payload > o.max_pending) {
    return std::unexpected("max_payload (" + std::to_string(o.max_payload) + ") cannot be higher than max_pending (" +
                           std::to_string(o.max_pending) + ")");
  }
  if (o.cluster.port < kRandomPort || o.cluster.port > 65535) {
    return std::unexpected("invalid cluster port " + std::to_string(o.cluster.port));
  }
  for (const std::string& route : o.cluster.routes) {
    if (auto r = parse_route_url(route); !r) return std::unexpected("error parsing route: " + r.error());
  }
  if (!o.cluster.advertise.empty()) {
    if (auto r = parse_route_url(o.cluster.advertise); !r) return std::unexpected("cluster advertise: " + r.error());
  }
  if (!o.client_advertise.empty()) {
    if (auto r = parse_route_url(o.client_advertise, o.port); !r) return std::unexpected("client_advertise: " + r.error());
  }
  return {};
}

}  // namespace forest::broker
