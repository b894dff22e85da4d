// The monitoring endpoints: routing, the request counters and the JSON bodies. The HTTP
// transport is in monitor_http.cpp, query decoding in monitor_query.cpp.
#include "monitor.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "account.hpp"
#include "account_statz.hpp"
#include "client_conn.hpp"
#include "cluster.hpp"
#include "route_conn.hpp"
#include "route_url.hpp"
#include "json_writer.hpp"
#include "monitor_query.hpp"
#include "proc_stats.hpp"
#include "server.hpp"
#include "tls.hpp"
#include "time_text.hpp"
#include "subject.hpp"

namespace forest::broker {

namespace {

constexpr int kDefaultConnzLimit = 1024;
constexpr int kDefaultSubszLimit = 1024;


// nats-server's myUptime: "1d2h3m4s".
std::string uptime_text(std::chrono::nanoseconds d) {
  const int64_t secs = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  const int64_t mins = secs / 60, hrs = mins / 60, days = hrs / 24, yrs = days / 365;
  char buf[64];
  if (yrs > 0) {
    std::snprintf(buf, sizeof buf, "%lldy%lldd%lldh%lldm%llds", (long long)yrs, (long long)(days % 365),
                  (long long)(hrs % 24), (long long)(mins % 60), (long long)(secs % 60));
  } else if (days > 0) {
    std::snprintf(buf, sizeof buf, "%lldd%lldh%lldm%llds", (long long)days, (long long)(hrs % 24),
                  (long long)(mins % 60), (long long)(secs % 60));
  } else if (hrs > 0) {
    std::snprintf(buf, sizeof buf, "%lldh%lldm%llds", (long long)hrs, (long long)(mins % 60), (long long)(secs % 60));
  } else if (mins > 0) {
    std::snprintf(buf, sizeof buf, "%lldm%llds", (long long)mins, (long long)(secs % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", (long long)secs);
  }
  return buf;
}

HttpReply bad_request(std::string_view message) {
  JsonWriter w;
  w.begin_object().field("error", message).end_object();
  return HttpReply{400, "application/json", w.take()};
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The page [first, first + count) of `total` items at `offset`/`limit` (both already >= 0 and
// > 0), computed without `offset + limit`, which overflows for a large limit.
struct Page {
  std::size_t first, count;
};
Page page_of(std::size_t total, int64_t offset, int64_t limit) {
  const std::size_t first = std::min(total, static_cast<std::size_t>(offset));
  const std::size_t count = std::min(total - first, static_cast<std::size_t>(limit));
  return {first, count};
}

// nats-server's answer to a path no handler serves (Go's http.NotFound).
HttpReply not_found() { return HttpReply{404, "text/plain; charset=utf-8", "404 page not found\n"}; }

void write_conn(JsonWriter& w, const ConnSnapshot& c, SystemTime now, bool subs, bool detail) {
  w.begin_object();
  w.field("cid", c.cid);
  w.field("kind", "Client");
  w.field("type", "nats");
  w.field("ip", c.ip);
  w.field("port", c.port);
  w.field("start", rfc3339(c.start));
  w.field("last_activity", rfc3339(c.last_activity));
  if (c.reason != CloseReason::none) {
    w.field("stop", rfc3339(c.stop));
    w.field("reason", close_reason_text(c.reason));
  }
  if (c.rtt.count() > 0) w.field("rtt", format_go_duration(c.rtt));
  const SystemTime end = c.reason != CloseReason::none ? c.stop : now;
  w.field("uptime", uptime_text(end - c.start));
  w.field("idle", uptime_text(end - c.last_activity));
  w.field("pending_bytes", c.pending_bytes);
  w.field("in_msgs", c.in_msgs);
  w.field("out_msgs", c.out_msgs);
  w.field("in_bytes", c.in_bytes);
  w.field("out_bytes", c.out_bytes);
  w.field("subscriptions", c.num_subs);
  if (!c.name.empty()) w.field("name", c.name);
  if (!c.lang.empty()) w.field("lang", c.lang);
  if (!c.version.empty()) w.field("version", c.version);
  if (!c.authorized_user.empty()) w.field("authorized_user", c.authorized_user);
  if (!c.account.empty()) w.field("account", c.account);
  if (subs && !c.subs.empty()) {
    if (detail) {
      w.key("subscriptions_list_detail").begin_array();
      for (const SubInfo& s : c.subs) {
        w.begin_object();
        if (!s.account.empty()) w.field("account", s.account);
        w.field("subject", s.subject);
        if (!s.queue.empty()) w.field("qgroup", s.queue);
        w.field("sid", s.sid).field("msgs", s.msgs);
        if (s.max > 0) w.field("max", s.max);
        w.field("cid", s.cid);
        w.end_object();
      }
      w.end_array();
    } else {
      w.key("subscriptions_list").begin_array();
      for (const SubInfo& s : c.subs) w.value(s.subject);
      w.end_array();
    }
  }
  w.end_object();
}

}  // namespace

void Monitor::count_request(const char* path) {
  std::lock_guard lock(stats_mu_);
  ++req_stats_[path];
}

HttpReply Monitor::handle(std::string_view target) {
  const auto qmark = target.find('?');
  // Go routes on the decoded path; a path that does not decode matches nothing.
  const std::string path = percent_decode(target.substr(0, qmark), false).value_or("");
  const QueryParams query(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
  // Exact paths, as Go's ServeMux matches them ("/varz/" is not "/varz"). Only these are
  // counted, under the names nats-server uses ("/subscriptionsz" counts as "/subsz").
  if (path == "/varz") {
    count_request("/varz");
    return HttpReply{200, "application/json", varz()};
  }
  if (path == "/connz") {
    count_request("/connz");
    return connz(query);
  }
  if (path == "/subsz" || path == "/subscriptionsz") {
    count_request("/subsz");
    return subsz(query);
  }
  if (path == "/routez") {
    count_request("/routez");
    return HttpReply{200, "application/json", routez(query)};
  }
  if (path == "/jsz") {
    count_request("/jsz");
    return jsz(query);
  }
  if (path == "/healthz") {
    count_request("/healthz");
    return healthz(query);
  }
  if (path == "/leafz") {
    count_request("/leafz");
    return leafz(query);
  }
  if (path == "/gatewayz") {
    count_request("/gatewayz");
    return gatewayz(query);
  }
  if (path == "/accstatz") {
    count_request("/accstatz");
    return accstatz(query);
  }
  if (path == "/accountz") {
    count_request("/accountz");
    return accountz(query);
  }
  if (path == "/") {
    count_request("/");
    return HttpReply{200, "text/html; charset=utf-8",
                     "<html><body><h1>forest-server monitoring</h1><ul>"
                     "<li><a href=\"/varz\">varz</a></li><li><a href=\"/connz\">connz</a></li>"
                     "<li><a href=\"/routez\">routez</a></li><li><a href=\"/subsz\">subsz</a></li>"
                     "<li><a href=\"/gatewayz\">gatewayz</a></li><li><a href=\"/leafz\">leafz</a></li>"
                     "<li><a href=\"/accountz\">accountz</a></li>"
                     "<li><a href=\"/accstatz\">accstatz</a></li>"
                     "<li><a href=\"/jsz\">jsz</a></li>"
                     "<li><a href=\"/healthz\">healthz</a></li></ul></body></html>"};
  }
  return not_found();
}

std::string Monitor::varz() {
  const auto o = server_.options();
  const auto now = std::chrono::system_clock::now();
  const TrafficCounts traffic = server_.traffic();
  uint64_t out_msgs = traffic.out_msgs, out_bytes = traffic.out_bytes;
  for (IoThread* t : server_.io_threads()) {
    out_msgs += t->out_msgs.load(std::memory_order_relaxed);
    out_bytes += t->out_bytes.load(std::memory_order_relaxed);
  }
  uint64_t subs = 0;
  for (Account* a : server_.accounts()) subs += a->sublist().count();

  const double cpu_now = process_cpu_seconds(::getpid());
  const auto mono = std::chrono::steady_clock::now();
  double cpu_pct = 0;
  if (last_cpu_sample_ != std::chrono::steady_clock::time_point{}) {
    const double wall = std::chrono::duration<double>(mono - last_cpu_sample_).count();
    if (wall > 0) cpu_pct = 100.0 * (cpu_now - last_cpu_seconds_) / wall;
  }
  last_cpu_seconds_ = cpu_now;
  last_cpu_sample_ = mono;

  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("server_name", server_.server_name());
  w.field("version", kNatsCompatVersion);
  w.field("forest_version", kForestVersion);
  w.field("proto", 1);
  w.field("go", std::string("forest-server ") + kForestVersion);
  w.field("host", o->host);
  w.field("port", server_.client_port());
  if (o->auth_required()) w.field("auth_required", true);
  if (const auto tls = server_.client_tls()) {
    w.field("tls_required", true);
    if (tls_context_verifies(*tls)) w.field("tls_verify", true);
  }
  w.field("max_connections", o->max_connections);
  if (o->max_subscriptions > 0) w.field("max_subscriptions", o->max_subscriptions);
  w.field("ping_interval", static_cast<int64_t>(o->ping_interval.count()));
  w.field("ping_max", o->ping_max);
  w.field("http_host", o->http_host.empty() ? o->host : o->http_host);
  w.field("http_port", server_.http_port());
  w.field("http_base_path", "");
  w.field("https_port", server_.https_port());
  w.field("auth_timeout", std::chrono::duration<double>(o->effective_auth_timeout()).count());
  w.field("max_control_line", o->max_control_line);
  w.field("max_payload", o->max_payload);
  w.field("max_pending", o->max_pending);
  w.key("cluster").begin_object();
  if (Cluster* cl = server_.cluster()) {
    w.field("name", cl->name());
    w.field("addr", o->cluster.host);
    w.field("cluster_port", cl->port());
    if (o->cluster.auth_timeout_seconds > 0) w.field("auth_timeout", o->cluster.auth_timeout_seconds);
    const auto urls = cl->configured_urls();
    if (!urls.empty()) {
      w.key("urls").begin_array();
      for (const auto& u : urls) {
        auto parsed = parse_route_url(u);
        w.value(parsed ? parsed->host_port() : u);  // nats-server lists host:port, no credentials
      }
      w.end_array();
    }
  }
  w.end_object();
  w.key("gateway").begin_object().end_object();
  w.key("leaf").begin_object().end_object();
  w.key("mqtt").begin_object().end_object();
  w.key("websocket").begin_object().end_object();
  w.key("jetstream").begin_object().end_object();
  w.field("tls_timeout", o->tls.timeout());
  w.field("write_deadline", static_cast<int64_t>(o->write_deadline.count()));
  w.field("start", rfc3339(server_.start_time()));
  w.field("now", rfc3339(now));
  w.field("uptime", uptime_text(now - server_.start_time()));
  w.field("mem", process_rss_bytes(::getpid()));
  w.field("cores", static_cast<int>(std::thread::hardware_concurrency()));
  w.field("gomaxprocs", static_cast<int>(server_.io_threads().size()));
  w.field("cpu", cpu_pct);
  w.field("connections", static_cast<uint64_t>(server_.num_clients()));
  w.field("total_connections", server_.counters().total_connections.load());
  const std::size_t routes = server_.cluster() != nullptr ? server_.cluster()->num_routes() : 0;
  w.field("routes", static_cast<uint64_t>(routes));
  w.field("remotes", static_cast<uint64_t>(routes));
  w.field("leafnodes", 0);
  w.field("in_msgs", traffic.in_msgs);
  w.field("out_msgs", out_msgs);
  w.field("in_bytes", traffic.in_bytes);
  w.field("out_bytes", out_bytes);
  w.field("slow_consumers", server_.counters().slow_consumers.load());
  w.field("subscriptions", subs);
  w.key("http_req_stats").begin_object();
  {
    std::lock_guard lock(stats_mu_);
    for (const auto& [p, n] : req_stats_) w.field(p, n);
  }
  w.end_object();
  w.field("config_load_time", rfc3339(server_.start_time()));
  w.end_object();
  return w.take();
}

HttpReply Monitor::connz(const QueryParams& q) {
  const auto now = std::chrono::system_clock::now();
  const auto offset_arg = q.get_int("offset");
  if (!offset_arg) return bad_request(offset_arg.error());
  const auto limit_arg = q.get_int("limit");
  if (!limit_arg) return bad_request(limit_arg.error());
  const auto cid_arg = q.get_uint("cid");
  if (!cid_arg) return bad_request(cid_arg.error());
  const bool detail = lower(q.get("subs")) == "detail";
  bool subs = detail;
  if (!detail) {
    const auto b = q.get_bool("subs");
    if (!b) return bad_request(b.error());
    subs = *b;
  }
  std::string state = lower(q.get("state"));
  if (state.empty()) state = "open";
  if (state == "all") state = "any";
  if (state != "open" && state != "closed" && state != "any") return bad_request("Error decoding state for " + q.get("state"));
  std::string sort = q.get("sort");
  if (sort.empty()) sort = "cid";
  const int64_t offset = std::max<int64_t>(0, *offset_arg);
  // nats-server: a non-positive limit means the default; a cid asks for one connection.
  int64_t limit = *limit_arg <= 0 ? kDefaultConnzLimit : *limit_arg;
  if (*cid_arg > 0) limit = 1;

  // Every row is a snapshot without subscriptions (all that sorting needs); the page's open
  // connections are snapshotted again with them below.
  struct Row {
    ConnSnapshot snap;
    std::shared_ptr<ClientEndpoint> conn;  // null when closed
  };
  std::vector<Row> rows;
  if (state == "open" || state == "any") {
    for (auto& c : server_.clients()) {
      ConnSnapshot snap = c->snapshot(false);
      rows.push_back(Row{std::move(snap), std::move(c)});
    }
  }
  if (state == "closed" || state == "any") {
    for (auto& c : server_.closed_clients()) rows.push_back(Row{std::move(c), nullptr});
  }
  if (*cid_arg > 0) std::erase_if(rows, [&](const Row& r) { return r.snap.cid != *cid_arg; });
  // nats-server's account and user filters (`acc`, `user`): exact names.
  if (const std::string acc = q.get("acc"); !acc.empty()) {
    std::erase_if(rows, [&](const Row& r) { return r.snap.account != acc; });
  }
  if (const std::string user = q.get("user"); !user.empty()) {
    std::erase_if(rows, [&](const Row& r) { return r.snap.authorized_user != user; });
  }
  auto by = [&](auto key, bool descending) {
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& ra, const Row& rb) {
      const ConnSnapshot &a = ra.snap, &b = rb.snap;
      return descending ? key(a) > key(b) : key(a) < key(b);
    });
  };
  if (sort == "cid") {
    by([](const ConnSnapshot& c) { return c.cid; }, false);
  } else if (sort == "start") {
    by([](const ConnSnapshot& c) { return c.start; }, false);
  } else if (sort == "subs") {
    by([](const ConnSnapshot& c) { return c.num_subs; }, true);
  } else if (sort == "pending") {
    by([](const ConnSnapshot& c) { return c.pending_bytes; }, true);
  } else if (sort == "msgs_to") {
    by([](const ConnSnapshot& c) { return c.out_msgs; }, true);
  } else if (sort == "msgs_from") {
    by([](const ConnSnapshot& c) { return c.in_msgs; }, true);
  } else if (sort == "bytes_to") {
    by([](const ConnSnapshot& c) { return c.out_bytes; }, true);
  } else if (sort == "bytes_from") {
    by([](const ConnSnapshot& c) { return c.in_bytes; }, true);
  } else if (sort == "last") {
    by([](const ConnSnapshot& c) { return c.last_activity; }, true);
  } else if (sort == "idle") {
    by([&](const ConnSnapshot& c) { return now - c.last_activity; }, true);
  } else if (sort == "uptime") {
    by([&](const ConnSnapshot& c) { return now - c.start; }, true);
  } else if (sort == "stop" || sort == "reason") {
    if (state != "closed") return bad_request("sort by " + sort + " only valid on closed connections");
    by([](const ConnSnapshot& c) { return c.stop; }, true);
  } else {
    return bad_request("invalid sorting option: " + sort);
  }

  const Page page = page_of(rows.size(), offset, limit);
  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("now", rfc3339(now));
  w.field("num_connections", static_cast<uint64_t>(page.count));
  w.field("total", static_cast<uint64_t>(rows.size()));
  w.field("offset", offset);
  w.field("limit", limit);
  w.key("connections").begin_array();
  for (std::size_t i = page.first; i < page.first + page.count; ++i) {
    Row& r = rows[i];
    if (subs && r.conn) {
      ConnSnapshot full = r.conn->snapshot(true);
      write_conn(w, full, now, subs, detail);
    } else {
      write_conn(w, r.snap, now, subs, detail);
    }
  }
  w.end_array();
  w.end_object();
  return HttpReply{200, "application/json", w.take()};
}

HttpReply Monitor::subsz(const QueryParams& q) {
  const auto now = std::chrono::system_clock::now();
  const auto subs_arg = q.get_bool("subs");
  if (!subs_arg) return bad_request(subs_arg.error());
  const auto offset_arg = q.get_int("offset");
  if (!offset_arg) return bad_request(offset_arg.error());
  const auto limit_arg = q.get_int("limit");
  if (!limit_arg) return bad_request(limit_arg.error());
  const std::string test = q.get("test");
  // nats-server: the test subject is a literal a publish could use; it lists the
  // subscriptions that message would reach.
  if (!test.empty() && !is_valid_literal_subject(test)) {
    return bad_request("invalid test subject, must be valid publish subject: " + test);
  }
  const std::string account_filter = q.get("acc");
  const int64_t offset = std::max<int64_t>(0, *offset_arg);
  const int64_t limit = *limit_arg <= 0 ? kDefaultSubszLimit : *limit_arg;

  uint64_t num_subs = 0, inserts = 0, removes = 0, matches = 0, hits = 0, misses = 0, cache = 0;
  JsonWriter list;
  std::size_t listed = 0;
  if (*subs_arg) {
    // Only pointers are copied under the index's shared lock (writers wait for that copy,
    // not for string building); filtering, paging and strings happen after it, for the
    // page's entries only.
    struct Candidate {
      SubPtr sub;
      const Account* account;
    };
    std::vector<Candidate> all;
    for (Account* a : server_.accounts()) {
      if (!account_filter.empty() && a->name() != account_filter) continue;
      all.reserve(all.size() + a->sublist().count());
      a->sublist().for_each([&](const SubPtr& s) { all.push_back(Candidate{s, a}); });
    }
    int64_t to_skip = offset;
    list.begin_array();
    for (const Candidate& c : all) {
      if (static_cast<int64_t>(listed) >= limit) break;
      const Subscription& s = *c.sub;
      if (s.closed.load(std::memory_order_relaxed)) continue;
      if (!test.empty() && !subject_matches(s.subject, test)) continue;
      if (to_skip > 0) {
        --to_skip;
        continue;
      }
      list.begin_object();
      list.field("account", c.account->name()).field("subject", s.subject);
      if (!s.queue.empty()) list.field("qgroup", s.queue);
      list.field("sid", s.sid).field("msgs", static_cast<int64_t>(s.delivered.load(std::memory_order_relaxed)));
      if (const int64_t max = s.max_msgs.load(std::memory_order_relaxed); max > 0) list.field("max", max);
      if (s.owner_cid != 0) list.field("cid", s.owner_cid);
      list.end_object();
      ++listed;
    }
    list.end_array();
  }
  for (Account* a : server_.accounts()) {
    if (!account_filter.empty() && a->name() != account_filter) continue;
    const SublistStats st = a->sublist().stats();
    num_subs += st.subscriptions;
    inserts += st.inserts;
    removes += st.removes;
    matches += st.matches;
  }
  for (IoThread* t : server_.io_threads()) {
    hits += t->cache_hits.load(std::memory_order_relaxed);
    misses += t->cache_misses.load(std::memory_order_relaxed);
    cache += t->cache_entries.load(std::memory_order_relaxed);
  }
  // Lookups answered by a thread cache, over all lookups (nats-server's cache_hit_rate).
  const double hit_rate = (hits + misses) > 0 ? static_cast<double>(hits) / static_cast<double>(hits + misses) : 0.0;

  // nats-server 2.9.10's shapes: an empty page (or no subs=1) is the index statistics alone;
  // otherwise "total" is the number of entries on this page, not the number of matches
  // (num_subscriptions has the size of the index).
  JsonWriter w;
  w.begin_object();
  if (listed > 0) {
    w.field("server_id", server_.server_id());
    w.field("now", rfc3339(now));
  }
  w.field("num_subscriptions", num_subs);
  w.field("num_cache", cache);
  w.field("num_inserts", inserts);
  w.field("num_removes", removes);
  w.field("num_matches", matches + hits);
  w.field("cache_hit_rate", hit_rate);
  if (listed > 0) {
    w.field("total", static_cast<uint64_t>(listed));
    w.field("offset", offset);
    w.field("limit", limit);
    w.key("subscriptions_list").raw(list.str());
  }
  w.end_object();
  return HttpReply{200, "application/json", w.take()};
}

std::string Monitor::routez(const QueryParams& query) {
  const auto now = std::chrono::system_clock::now();
  const auto subs_arg = query.get_bool("subs");
  const bool subs = (subs_arg && *subs_arg) || lower(query.get("subs")) == "detail";
  std::vector<RouteSnapshot> routes;
  if (Cluster* cl = server_.cluster()) {
    for (const auto& r : cl->routes()) routes.push_back(r->snapshot(subs));
  }
  std::sort(routes.begin(), routes.end(), [](const RouteSnapshot& a, const RouteSnapshot& b) { return a.cid < b.cid; });
  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("server_name", server_.server_name());
  w.field("now", rfc3339(now));
  w.field("num_routes", static_cast<uint64_t>(routes.size()));
  w.key("routes").begin_array();
  for (const RouteSnapshot& r : routes) {
    w.begin_object();
    w.field("rid", r.cid);
    w.field("remote_id", r.remote_id);
    w.field("remote_name", r.remote_name);
    w.field("did_solicit", r.did_solicit);
    w.field("is_configured", r.is_configured);
    w.field("ip", r.ip);
    w.field("port", r.port);
    w.field("start", rfc3339(r.start));
    w.field("last_activity", rfc3339(r.last_activity));
    if (r.rtt.count() > 0) w.field("rtt", format_go_duration(r.rtt));
    w.field("uptime", uptime_text(now - r.start));
    w.field("idle", uptime_text(now - r.last_activity));
    w.field("pending_size", r.pending_bytes);
    w.field("in_msgs", r.in_msgs);
    w.field("out_msgs", r.out_msgs);
    w.field("in_bytes", r.in_bytes);
    w.field("out_bytes", r.out_bytes);
    w.field("subscriptions", r.num_subs);
    if (subs && !r.subs.empty()) {
      w.key("subscriptions_list").begin_array();
      for (const SubInfo& si : r.subs) w.value(si.queue.empty() ? si.subject : si.subject + " " + si.queue);
      w.end_array();
    }
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.take();
}

// nats-server's HandleAccountStatz: the accounts with client connections here, or all with
// ?unused=1.
HttpReply Monitor::accstatz(const QueryParams& q) {
  const auto unused = q.get_bool("unused");
  if (!unused) return HttpReply{400, "text/plain; charset=utf-8", unused.error()};
  std::vector<AccountStat> stats = account_stats(server_, server_.accounts());
  if (!*unused) std::erase_if(stats, [](const AccountStat& s) { return s.conns == 0; });
  return HttpReply{200, "application/json", account_statz_json(server_, stats)};
}

}  // namespace forest::broker
