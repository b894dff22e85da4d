#include "system_service.hpp"

#include <simdjson.h>

#include <array>
#include <future>
#include <utility>

#include "account.hpp"
#include "account_info.hpp"
#include "account_statz.hpp"
#include "client_info.hpp"
#include "cluster.hpp"
#include "internal_client.hpp"
#include "jetstream_monitor.hpp"
#include "json_read.hpp"
#include "json_writer.hpp"
#include "monitor.hpp"
#include "server.hpp"
#include "server_id.hpp"
#include "time_text.hpp"

namespace forest::broker {
namespace {

constexpr std::string_view kPingSubject = "$SYS.REQ.SERVER.PING";
// How long an account JSZ waits for the JetStream snapshot (taken at once: both run on the
// service thread).
constexpr std::chrono::seconds kJszTimeout{5};
constexpr std::array<const char*, 10> kKinds = {"STATSZ", "VARZ",  "CONNZ", "SUBSZ",    "ROUTEZ",
                                                "JSZ",    "HEALTHZ", "LEAFZ", "GATEWAYZ", "ACCOUNTZ"};
// $SYS.REQ.ACCOUNT.<account>.<KIND>: the endpoints that nats-server scopes to one account by
// setting the endpoint's account option (SUBSZ with its subscriptions listed).
constexpr std::string_view kAccountPrefix = "$SYS.REQ.ACCOUNT.";
constexpr std::array<const char*, 3> kAccountKinds = {"CONNZ", "SUBSZ", "LEAFZ"};

// How one JSON option of a request body becomes a query parameter of the monitoring endpoint.
enum class OptionType { string, boolean, integer, conn_state };
struct OptionMapping {
  const char* kind;        // the request kind it belongs to
  const char* json;        // nats-server's JSON name (lower case)
  const char* query;       // our endpoint's parameter
  OptionType type;
  const char* flag_value;  // for booleans: the parameter's value when true
};
constexpr OptionMapping kOptions[] = {
    {"CONNZ", "sort", "sort", OptionType::string, nullptr},
    {"CONNZ", "auth", "auth", OptionType::boolean, "1"},
    {"CONNZ", "subscriptions", "subs", OptionType::boolean, "1"},
    {"CONNZ", "subscriptions_detail", "subs", OptionType::boolean, "detail"},
    {"CONNZ", "offset", "offset", OptionType::integer, nullptr},
    {"CONNZ", "limit", "limit", OptionType::integer, nullptr},
    {"CONNZ", "cid", "cid", OptionType::integer, nullptr},
    {"CONNZ", "state", "state", OptionType::conn_state, nullptr},
    {"CONNZ", "user", "user", OptionType::string, nullptr},
    {"CONNZ", "acc", "acc", OptionType::string, nullptr},
    {"SUBSZ", "subscriptions", "subs", OptionType::boolean, "1"},
    {"SUBSZ", "offset", "offset", OptionType::integer, nullptr},
    {"SUBSZ", "limit", "limit", OptionType::integer, nullptr},
    {"SUBSZ", "test", "test", OptionType::string, nullptr},
    {"SUBSZ", "account", "acc", OptionType::string, nullptr},
    {"ROUTEZ", "subscriptions", "subs", OptionType::boolean, "1"},
    {"ROUTEZ", "subscriptions_detail", "subs", OptionType::boolean, "detail"},
    {"JSZ", "account", "acc", OptionType::string, nullptr},
    {"JSZ", "accounts", "accounts", OptionType::boolean, "true"},
    {"JSZ", "streams", "streams", OptionType::boolean, "true"},
    {"JSZ", "consumer", "consumers", OptionType::boolean, "true"},  // Go's JSzOptions: "consumer"
    {"JSZ", "config", "config", OptionType::boolean, "true"},
    {"JSZ", "offset", "offset", OptionType::integer, nullptr},
    {"JSZ", "limit", "limit", OptionType::integer, nullptr},
    {"JSZ", "leader_only", "leader-only", OptionType::boolean, "true"},
    {"LEAFZ", "subscriptions", "subs", OptionType::boolean, "1"},
    {"LEAFZ", "account", "acc", OptionType::string, nullptr},
    {"GATEWAYZ", "name", "gw_name", OptionType::string, nullptr},
    {"GATEWAYZ", "accounts", "accs", OptionType::boolean, "1"},
    {"GATEWAYZ", "account_name", "acc_name", OptionType::string, nullptr},
    {"ACCOUNTZ", "account", "acc", OptionType::string, nullptr},
    {"HEALTHZ", "js-enabled-only", "js-enabled-only", OptionType::boolean, "true"},
    {"HEALTHZ", "js-server-only", "js-server-only", OptionType::boolean, "true"},
};

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// A request body, read: the filter (which servers answer) and the endpoint's query.
struct RequestOptions {
  std::string server_name, cluster, host, domain;
  std::vector<std::string> tags;
  std::string query;
};

// Whether an account-scoped request sets this option itself, whatever the body says (Go
// overwrites the decoded option): the account, and SUBSZ's subscription list.
bool set_by_account_scope(const std::string& kind, std::string_view query) {
  return query == "acc" || (kind == "SUBSZ" && query == "subs");
}

// False when the body is not an object or an option has the wrong type (a 400 reply).
bool read_request_options(std::string_view body, const std::string& kind, RequestOptions& out, std::string& error,
                          bool account_scoped = false) {
  if (body.empty()) return true;
  const bool ok = json::for_each_field(body, [&](std::string_view key, json::value v) {
    if (json::key_is(key, "server_name")) return json::read_string(v, out.server_name);
    if (json::key_is(key, "cluster")) return json::read_string(v, out.cluster);
    if (json::key_is(key, "host")) return json::read_string(v, out.host);
    if (json::key_is(key, "domain")) return json::read_string(v, out.domain);
    if (json::key_is(key, "tags")) return json::read_strings(v, out.tags);
    for (const OptionMapping& o : kOptions) {
      if (kind != o.kind || !json::key_is(key, o.json)) continue;
      std::string value;
      switch (o.type) {
        case OptionType::string:
          if (!json::read_string(v, value)) return false;
          break;
        case OptionType::boolean: {
          bool b = false;
          if (!json::read_bool(v, b)) return false;
          if (b) value = o.flag_value;
          break;
        }
        case OptionType::integer: {
          int64_t n = 0;
          if (!json::read_int(v, n)) return false;
          if (n != 0) value = std::to_string(n);
          break;
        }
        case OptionType::conn_state: {
          int64_t n = 0;  // nats-server's ConnState: 0 open, 1 closed, 2 any
          if (!json::read_int(v, n) || n < 0 || n > 2) return false;
          value = n == 0 ? "open" : n == 1 ? "closed" : "all";
          break;
        }
      }
      if (value.empty() || (account_scoped && set_by_account_scope(kind, o.query))) return true;
      out.query += out.query.empty() ? "?" : "&";
      out.query += std::string(o.query) + "=" + percent_encode(value);
      return true;
    }
    return true;  // unknown options are ignored, as by Go's json.Unmarshal
  });
  if (!ok) error = "invalid request options for " + kind;
  return ok;
}

// An account STATZ request's own options (nats-server's AccountStatzOptions).
struct StatzOptions {
  std::vector<std::string> accounts;  // PING only: these accounts (all when empty)
  bool include_unused = false;        // also accounts without client connections
};

bool read_statz_options(std::string_view body, StatzOptions& out) {
  if (body.empty()) return true;
  return json::for_each_field(body, [&](std::string_view key, json::value v) {
    if (json::key_is(key, "accounts")) return json::read_strings(v, out.accounts);
    if (json::key_is(key, "include_unused")) return json::read_bool(v, out.include_unused);
    return true;
  });
}

// The <account> of $SYS.REQ.ACCOUNT.<account>.<KIND> ("" when the subject is not one).
std::string account_of_request(std::string_view subject) {
  const std::size_t end = subject.rfind('.');
  if (!subject.starts_with(kAccountPrefix) || end == std::string_view::npos || end <= kAccountPrefix.size()) return "";
  return std::string(subject.substr(kAccountPrefix.size(), end - kAccountPrefix.size()));
}

// nats-server's errSkipZreq: a JSZ asked of leaders only, on a server that is none, gets no
// answer at all (the HTTP endpoint says so with a 400 instead).
bool skipped(const std::string& kind, const HttpReply& r) {
  return kind == "JSZ" && r.status == 400 && r.body == "filtered response: not leader";
}

// The endpoint's JSON as "data", or its error. nats-server's zReq gives 400 only to a body
// that does not decode (answered before the endpoint runs); whatever the endpoint itself
// refuses (a bad sort, a bad test subject) is a 500, with "data" null (Go's typed nil).
void write_endpoint_answer(JsonWriter& w, const HttpReply& r) {
  if (r.status == 200) {
    w.key("data").raw(r.body);
  } else {
    w.key("data").raw("null");
    w.key("error").begin_object().field("code", 500).field("description", r.body).end_object();
  }
}

// nats-server's filterRequest: true when this server is not one the request asks for.
bool filtered_out(const RequestOptions& r, const std::string& name, const std::string& host, const std::string& cluster,
                  const std::string& domain) {
  if (!r.server_name.empty() && name.find(r.server_name) == std::string::npos) return true;
  if (!r.host.empty() && host.find(r.host) == std::string::npos) return true;
  if (!r.cluster.empty() && cluster.find(r.cluster) == std::string::npos) return true;
  if (!r.tags.empty()) return true;  // no server tags here: a tag filter matches none of ours
  return !r.domain.empty() && r.domain != domain;
}

// Whether this server answers an account request: its body is read as the endpoint's options
// (bad_body: a 400 reply), then its server filter applied (no: no reply at all).
enum class Asked { yes, no, bad_body };
Asked read_account_body(std::string_view body, const std::string& kind, Server& server, RequestOptions& options,
                        std::string& error) {
  if (!read_request_options(body, kind, options, error, true)) return Asked::bad_body;
  const auto o = server.options();
  Cluster* c = server.cluster();
  return filtered_out(options, server.server_name(), o->host, c ? c->name() : "", o->jetstream.domain) ? Asked::no
                                                                                                      : Asked::yes;
}

void write_bad_body(JsonWriter& w, const std::string& error) {
  w.key("error").begin_object().field("code", 400).field("description", error).end_object();
}

int64_t dom_int(const simdjson::dom::element& e, const char* key) {
  int64_t v = 0;
  if (e[key].get(v) == simdjson::SUCCESS) return v;
  uint64_t u = 0;
  if (e[key].get(u) == simdjson::SUCCESS) return static_cast<int64_t>(u);
  return 0;
}

}  // namespace

SystemService::SystemService(Server& server, Account& account) : server_(server), account_(account) {}

SystemService::~SystemService() = default;

std::expected<void, std::string> SystemService::start() {
  client_ = std::make_shared<InternalClient>(server_, server_.service_thread(), "$SYS");
  monitor_ = std::make_unique<Monitor>(server_);
  auto add = [&](const std::string& subject, InternalClient::Handler handler) -> bool {
    SubPtr sub = client_->subscribe(account_, subject, "", std::move(handler));
    if (!sub) return false;
    subs_.push_back(std::move(sub));
    return true;
  };
  bool ok = add(std::string(kPingSubject), [this](const InternalMessage& m) { answer(m, "STATSZ"); });
  for (const char* k : kKinds) {
    const std::string kind = k;
    auto handler = [this, kind](const InternalMessage& m) { answer(m, kind); };
    // Built with append: GCC 12 reports a false -Warray-bounds for `std::string(...) + "." + kind`.
    std::string ping_subject(kPingSubject);
    ping_subject.append(".").append(kind);
    std::string direct_subject = "$SYS.REQ.SERVER.";
    direct_subject.append(server_.server_id()).append(".").append(kind);
    ok = ok && add(ping_subject, handler);
    ok = ok && add(direct_subject, handler);
  }
  for (const char* k : kAccountKinds) {
    const std::string kind = k;
    std::string subject(kAccountPrefix);
    subject.append("*.").append(kind);
    ok = ok && add(subject, [this, kind](const InternalMessage& m) { answer_account(m, kind); });
  }
  ok = ok && add(std::string(kAccountPrefix) + "*.STATZ", [this](const InternalMessage& m) { answer_account_statz(m); });
  ok = ok && add(std::string(kAccountPrefix) + "*.CONNS", [this](const InternalMessage& m) { answer_account_conns(m); });
  for (const char* kind : {"*.INFO", "*.JSZ"}) {
    std::string subject(kAccountPrefix);
    subject.append(kind);
    ok = ok && add(subject, [this, info = std::string_view(kind) == "*.INFO"](const InternalMessage& m) {
      info ? answer_account_info(m) : answer_account_jsz(m);
    });
  }
  if (!ok) return std::unexpected(std::string("system account: cannot subscribe to the server requests"));
  server_.log().info("System account \"{}\" answers $SYS.REQ.SERVER requests", account_.name());
  running_.store(true);
  client_->run([this] {
    statsz_timer_ = std::make_unique<asio::steady_timer>(client_->thread().context());
    conns_timer_ = std::make_unique<asio::steady_timer>(client_->thread().context());
    conns_heartbeat_timer_ = std::make_unique<asio::steady_timer>(client_->thread().context());
    schedule_statsz();
  });
  return {};
}

void SystemService::schedule_statsz() {
  statsz_timer_->expires_after(statsz_interval_);
  // `this` is not touched once cancelled: stop() cancels on the service thread before the
  // service goes away, and the cancelled wait only sees the error.
  statsz_timer_->async_wait([this](const error_code& ec) {
    if (ec || !running_.load()) return;
    client_->run([this] {
      send_statsz();
      statsz_interval_ = std::min(statsz_interval_ * 2, kStatszMax);
      if (statsz_timer_) schedule_statsz();
    });
  });
}

void SystemService::account_conns_changed(const std::string& account) {
  if (!running_.load()) return;
  {
    std::lock_guard lock(dirty_mu_);
    dirty_accounts_.insert(account);
    if (std::exchange(conns_scheduled_, true)) return;  // the events to come will have it
  }
  client_->run([this] { schedule_conns_events(); });
}

void SystemService::schedule_conns_events() {
  if (!conns_timer_) return;  // stopped
  const auto at = last_conns_events_ + kConnsSpacing;
  if (std::chrono::steady_clock::now() >= at) {
    send_conns_events();
    return;
  }
  conns_timer_->expires_at(at);
  conns_timer_->async_wait([this](const error_code& ec) {
    if (ec || !running_.load()) return;  // cancelled: `this` may be going
    client_->run([this] { send_conns_events(); });
  });
}

void SystemService::send_conns_events() {
  std::set<std::string> names;
  {
    std::lock_guard lock(dirty_mu_);
    names.swap(dirty_accounts_);
    conns_scheduled_ = false;
  }
  if (!running_.load()) return;
  const auto now = std::chrono::steady_clock::now();
  last_conns_events_ = now;
  std::vector<Account*> accounts;
  for (const std::string& name : names) {
    if (Account* a = server_.find_account(name)) accounts.push_back(a);
  }
  if (accounts.empty()) return;
  for (const AccountStat& stat : account_stats(server_, accounts)) {  // one pass for all
    const std::string json = account_conns_json(stat);
    (void)client_->publish(account_, "$SYS.SERVER.ACCOUNT." + stat.account + ".CONNS", "", json, -1, {});
    (void)client_->publish(account_, "$SYS.ACCOUNT." + stat.account + ".SERVER.CONNS", "", json, -1, {});
    if (stat.conns > 0) {
      conns_heartbeat_due_[stat.account] = now + kConnsHeartbeat;
    } else {
      conns_heartbeat_due_.erase(stat.account);
    }
  }
  schedule_conns_heartbeat();
}

void SystemService::schedule_conns_heartbeat() {
  if (!conns_heartbeat_timer_ || conns_heartbeat_due_.empty()) return;
  auto first = conns_heartbeat_due_.begin()->second;
  for (const auto& [name, due] : conns_heartbeat_due_) first = std::min(first, due);
  conns_heartbeat_timer_->expires_at(first);  // cancels the wait before (it returns on the error)
  conns_heartbeat_timer_->async_wait([this](const error_code& ec) {
    if (ec || !running_.load()) return;
    client_->run([this] {
      const auto now = std::chrono::steady_clock::now();
      std::vector<std::string> due_now;  // collected first: sending changes the map
      for (const auto& [name, due] : conns_heartbeat_due_) {
        if (due <= now) due_now.push_back(name);
      }
      for (const std::string& name : due_now) account_conns_changed(name);
    });
  });
}

std::string SystemService::account_conns_json(const AccountStat& stat) {
  JsonWriter w;
  w.begin_object();
  w.field("type", "io.nats.server.advisory.v1.account_connections");
  w.field("id", make_event_id());
  w.field("timestamp", rfc3339(std::chrono::system_clock::now()));
  w.key("server").raw(server_info_json());
  write_account_stat_fields(w, stat);
  w.end_object();
  return w.take();
}

void SystemService::send_statsz() {
  if (!running_.load()) return;
  JsonWriter w;
  w.begin_object();
  w.key("server").raw(server_info_json());
  w.key("statsz").raw(statsz_json());
  w.end_object();
  (void)client_->publish(account_, "$SYS.SERVER." + server_.server_id() + ".STATSZ", "", w.str(), -1, {});
}

void SystemService::client_connected(const ConnSnapshot& conn) {
  if (!running_.load() || conn.account.empty()) return;
  account_conns_changed(conn.account);  // every account, $G too (nats-server's addClient)
  if (conn.account == kGlobalAccount) return;
  client_->run([this, conn] {
    publish_event("$SYS.ACCOUNT." + conn.account + ".CONNECT", "io.nats.server.advisory.v1.client_connect", conn, false);
  });
}

void SystemService::client_disconnected(const ConnSnapshot& conn) {
  if (!running_.load() || conn.account.empty() || conn.account == kGlobalAccount) return;
  account_conns_changed(conn.account);
  client_->run([this, conn] {
    publish_event("$SYS.ACCOUNT." + conn.account + ".DISCONNECT", "io.nats.server.advisory.v1.client_disconnect", conn,
                  true);
  });
}

void SystemService::auth_failed(const ConnSnapshot& conn) {
  if (!running_.load()) return;
  client_->run([this, conn] {
    ConnSnapshot shown = conn;
    if (shown.account.empty()) shown.account = std::string(kGlobalAccount);  // not yet in one: $G, as nats-server
    publish_event("$SYS.SERVER." + server_.server_id() + ".CLIENT.AUTH.ERR", "io.nats.server.advisory.v1.client_disconnect",
                  shown, true, &shown.given_user);
  });
}

void SystemService::publish_event(const std::string& subject, const std::string& type, const ConnSnapshot& conn,
                                  bool closed, const std::string* user) {
  if (!running_.load()) return;
  ClientInfo c = client_info(conn);
  if (user != nullptr) c.user = *user;
  if (closed) {
    c.rtt = conn.rtt;
    c.stop = conn.stop;
  }
  JsonWriter w;
  w.begin_object();
  w.field("type", type);
  w.field("id", make_event_id());
  w.field("timestamp", rfc3339(closed ? conn.stop : std::chrono::system_clock::now()));
  w.key("server").raw(server_info_json());
  w.key("client");
  write_client_info(w, c);
  if (closed) {
    // The client's view: what it sent is what the server took in.
    w.key("sent").begin_object().field("msgs", conn.in_msgs).field("bytes", conn.in_bytes).end_object();
    w.key("received").begin_object().field("msgs", conn.out_msgs).field("bytes", conn.out_bytes).end_object();
    w.field("reason", close_reason_text(conn.reason));
  }
  w.end_object();
  (void)client_->publish(account_, subject, "", w.str(), -1, {});
}

void SystemService::stop() {
  running_.store(false);
  // The timer belongs to the service thread: cancelled and freed there, waited for here.
  auto cancel = [this] {
    statsz_timer_.reset();
    conns_timer_.reset();
    conns_heartbeat_timer_.reset();
  };
  if (client_->on_own_thread()) {
    cancel();
  } else {
    std::promise<void> done;
    asio::post(client_->thread().context(), [&] {
      cancel();
      done.set_value();
    });
    done.get_future().wait();
  }
  for (const SubPtr& sub : subs_) client_->unsubscribe(account_, sub);
  subs_.clear();
}

std::string SystemService::server_info_json() {
  const auto o = server_.options();
  JsonWriter w;
  w.begin_object();
  w.field("name", server_.server_name());
  w.field("host", o->host);
  w.field("id", server_.server_id());
  if (Cluster* c = server_.cluster()) w.field("cluster", c->name());
  if (!o->jetstream.domain.empty()) w.field("domain", o->jetstream.domain);
  w.field("ver", kNatsCompatVersion);
  w.field("seq", ++seq_);
  w.field("jetstream", o->jetstream.enabled);
  w.field("time", rfc3339(std::chrono::system_clock::now()));
  w.end_object();
  return w.take();
}

// From our own /varz and /routez, in nats-server's ServerStats shape.
std::string SystemService::statsz_json() {
  simdjson::dom::parser varz_parser, routez_parser;
  simdjson::dom::element v, r;
  const std::string varz = monitor_->handle("/varz").body;
  const std::string routez = monitor_->handle("/routez").body;
  JsonWriter w;
  w.begin_object();
  if (varz_parser.parse(varz).get(v) == simdjson::SUCCESS) {
    std::string_view start;
    if (v["start"].get(start) == simdjson::SUCCESS) w.field("start", start);
    w.field("mem", dom_int(v, "mem"));
    w.field("cores", dom_int(v, "cores"));
    double cpu = 0;
    if (v["cpu"].get(cpu) != simdjson::SUCCESS) cpu = 0;
    w.field("cpu", cpu);
    w.field("connections", dom_int(v, "connections"));
    w.field("total_connections", dom_int(v, "total_connections"));
    int64_t active = 0;
    for (Account* a : server_.accounts()) active += a->num_connections() > 0 ? 1 : 0;
    w.field("active_accounts", active);
    w.field("subscriptions", dom_int(v, "subscriptions"));
    w.key("sent").begin_object().field("msgs", dom_int(v, "out_msgs")).field("bytes", dom_int(v, "out_bytes")).end_object();
    w.key("received").begin_object().field("msgs", dom_int(v, "in_msgs")).field("bytes", dom_int(v, "in_bytes")).end_object();
    w.field("slow_consumers", dom_int(v, "slow_consumers"));
  }
  int64_t servers = 1;
  simdjson::dom::array routes;
  if (routez_parser.parse(routez).get(r) == simdjson::SUCCESS && r["routes"].get(routes) == simdjson::SUCCESS &&
      routes.size() > 0) {
    w.key("routes").begin_array();
    for (simdjson::dom::element route : routes) {
      w.begin_object();
      w.field("rid", dom_int(route, "rid"));
      std::string_view name;
      if (route["remote_name"].get(name) == simdjson::SUCCESS && !name.empty()) w.field("name", name);
      w.key("sent").begin_object().field("msgs", dom_int(route, "out_msgs")).field("bytes", dom_int(route, "out_bytes")).end_object();
      w.key("received").begin_object().field("msgs", dom_int(route, "in_msgs")).field("bytes", dom_int(route, "in_bytes")).end_object();
      w.field("pending", dom_int(route, "pending_size"));
      w.end_object();
      ++servers;
    }
    w.end_array();
  }
  w.field("active_servers", servers);
  w.end_object();
  return w.take();
}

// One request: options read (a 400 reply when they do not parse), the server filter applied
// (no reply when it names other servers), then statsz or the endpoint's JSON.
void SystemService::answer(const InternalMessage& m, const std::string& kind) {
  if (m.reply.empty()) return;
  RequestOptions options;
  std::string error;
  JsonWriter w;
  w.begin_object();
  if (!read_request_options(m.body(), kind, options, error)) {
    w.key("server").raw(server_info_json());
    w.key("error").begin_object().field("code", 400).field("description", error).end_object();
  } else {
    const auto o = server_.options();
    Cluster* c = server_.cluster();
    if (filtered_out(options, server_.server_name(), o->host, c ? c->name() : "", o->jetstream.domain)) return;
    w.key("server").raw(server_info_json());
    if (kind == "STATSZ") {
      w.key("statsz").raw(statsz_json());  // nats-server's ServerStatsMsg, not a "data" envelope
    } else {
      std::string path = "/" + kind;
      for (char& ch : path) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const HttpReply r = monitor_->handle(path + options.query);
      if (skipped(kind, r)) return;
      write_endpoint_answer(w, r);
    }
  }
  w.end_object();
  reply(m, w.take());
}

// $SYS.REQ.ACCOUNT.<account>.<KIND>: the endpoint's JSON for that account only, with the
// body's options (the account and SUBSZ's subscriptions are the subject's, as in Go). An
// account this server does not have gives the endpoint's empty answer, as nats-server's does.
void SystemService::answer_account(const InternalMessage& m, const std::string& kind) {
  if (m.reply.empty()) return;
  const std::string account = account_of_request(m.subject);
  if (account.empty()) return;
  RequestOptions options;
  std::string error;
  const Asked asked = read_account_body(m.body(), kind, server_, options, error);
  if (asked == Asked::no) return;
  JsonWriter w;
  w.begin_object();
  w.key("server").raw(server_info_json());
  if (asked == Asked::bad_body) {
    write_bad_body(w, error);
  } else {
    std::string query = options.query;
    query += query.empty() ? "?" : "&";
    query += "acc=" + percent_encode(account);
    if (kind == "SUBSZ") query += "&subs=1";
    std::string path = "/" + kind;
    for (char& ch : path) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const HttpReply r = monitor_->handle(path + query);
    if (skipped(kind, r)) return;
    write_endpoint_answer(w, r);
  }
  w.end_object();
  reply(m, w.take());
}

// $SYS.REQ.ACCOUNT.<account>.STATZ, and $SYS.REQ.ACCOUNT.PING.STATZ for every account (or the
// body's "accounts"): nats-server's AccountStatz. Accounts without client connections here
// are left out unless "include_unused"; with none left, this server does not answer.
void SystemService::answer_account_statz(const InternalMessage& m) {
  if (m.reply.empty()) return;
  const std::string account = account_of_request(m.subject);
  if (account.empty()) return;
  RequestOptions options;
  StatzOptions statz;
  std::string error;
  JsonWriter w;
  w.begin_object();
  if (!read_request_options(m.body(), "STATZ", options, error) || !read_statz_options(m.body(), statz)) {
    w.key("server").raw(server_info_json());
    w.key("error").begin_object().field("code", 400).field("description", "invalid request options for STATZ").end_object();
  } else {
    const auto o = server_.options();
    Cluster* c = server_.cluster();
    if (filtered_out(options, server_.server_name(), o->host, c ? c->name() : "", o->jetstream.domain)) return;
    std::vector<Account*> accounts;
    if (account != "PING") {
      if (Account* a = server_.find_account(account)) accounts.push_back(a);
    } else if (statz.accounts.empty()) {
      accounts = server_.accounts();
    } else {
      for (const std::string& name : statz.accounts) {
        if (Account* a = server_.find_account(name)) accounts.push_back(a);
      }
    }
    std::vector<AccountStat> stats = account_stats(server_, accounts);
    if (!statz.include_unused) {
      std::erase_if(stats, [](const AccountStat& s) { return s.conns == 0; });
      if (stats.empty()) return;
    }
    w.key("server").raw(server_info_json());
    w.key("data").raw(account_statz_json(server_, stats));
  }
  w.end_object();
  reply(m, w.take());
}

// $SYS.REQ.ACCOUNT.<account>.CONNS: nats-server's account_connections event, sent to the
// requester only, by a server where the account has client connections. A body that names
// another account ("acc"), or is not JSON, gets no answer (nats-server logs it).
void SystemService::answer_account_conns(const InternalMessage& m) {
  if (m.reply.empty()) return;
  const std::string account = account_of_request(m.subject);
  if (account.empty()) return;
  std::string asked = account;
  if (!m.body().empty() && !json::for_each_field(m.body(), [&](std::string_view key, json::value v) {
        return !json::key_is(key, "acc") || json::read_string(v, asked);
      })) {
    server_.log().error("Error unmarshalling account connections request message");
    return;
  }
  if (asked != account) return;
  Account* a = server_.find_account(account);
  if (a == nullptr || a->num_connections() == 0) return;
  reply(m, account_conns_json(account_stats(server_, {a}).front()));
}

// $SYS.REQ.ACCOUNT.<account>.INFO: nats-server's AccountInfo (broker/account_info.hpp), or the
// error that the account does not exist.
void SystemService::answer_account_info(const InternalMessage& m) {
  if (m.reply.empty()) return;
  const std::string account = account_of_request(m.subject);
  if (account.empty()) return;
  RequestOptions options;
  std::string error;
  const Asked asked = read_account_body(m.body(), "INFO", server_, options, error);
  if (asked == Asked::no) return;
  JsonWriter w;
  w.begin_object();
  w.key("server").raw(server_info_json());
  if (asked == Asked::bad_body) {
    write_bad_body(w, error);
  } else {
    auto info = account_info_json(server_, account);
    write_endpoint_answer(w, info ? HttpReply{200, "application/json", std::move(*info)}
                                  : HttpReply{400, "text/plain", info.error()});
  }
  w.end_object();
  reply(m, w.take());
}

// $SYS.REQ.ACCOUNT.<account>.JSZ: nats-server's JszAccount, the account's AccountDetail with
// the body's "streams", "consumer" and "config"; JetStream serves $G only here.
void SystemService::answer_account_jsz(const InternalMessage& m) {
  if (m.reply.empty()) return;
  const std::string account = account_of_request(m.subject);
  if (account.empty()) return;
  RequestOptions options;
  std::string error;
  JszOptions o;
  o.account = account;
  o.account_detail = true;
  const Asked asked = read_account_body(m.body(), "JSZ", server_, options, error);
  if (asked == Asked::no) return;
  if (asked == Asked::yes && !m.body().empty()) {
    // Their types were checked with the body's other options: these only read them.
    (void)json::for_each_field(m.body(), [&](std::string_view key, json::value v) {
      if (json::key_is(key, "streams")) return json::read_bool(v, o.streams);
      if (json::key_is(key, "consumer")) return json::read_bool(v, o.consumers);
      if (json::key_is(key, "config")) return json::read_bool(v, o.config);
      return true;
    });
  }
  JsonWriter w;
  w.begin_object();
  w.key("server").raw(server_info_json());
  if (asked == Asked::bad_body) {
    write_bad_body(w, error);
  } else {
    JetStreamMonitor* js = server_.jetstream_monitor();
    HttpReply r{400, "text/plain", ""};
    if (js == nullptr || !js->enabled()) {
      r.body = "jetstream not enabled";
    } else if (server_.find_account(account) == nullptr) {
      r.body.append("account \"").append(account).append("\" not found");
    } else if (account != kGlobalAccount) {
      r.body.append("account \"").append(account).append("\" not jetstream enabled");
    } else if (auto detail = js->jsz(o, kJszTimeout)) {
      r = HttpReply{200, "application/json", std::move(*detail)};
    } else {
      r.body = detail.error().text;
    }
    write_endpoint_answer(w, r);
  }
  w.end_object();
  reply(m, w.take());
}

void SystemService::reply(const InternalMessage& m, const std::string& json) {
  (void)client_->publish(account_, m.reply, "", json);
}

}  // namespace forest::broker
