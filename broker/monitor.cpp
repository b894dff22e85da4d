#include "monitor.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <fstream>
#include <sstream>

#include "account.hpp"
#include "client_conn.hpp"
#include "json_writer.hpp"
#include "proc_stats.hpp"
#include "server.hpp"
#include "subject.hpp"

namespace forest::broker {
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

constexpr int kDefaultConnzLimit = 1024;
constexpr int kDefaultSubszLimit = 1024;

// RFC 3339 with nanoseconds, UTC, as Go's time.Time marshals.
std::string rfc3339(SystemTime t) {
  const auto ns_total = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(ns_total / 1000000000);
  const long frac = static_cast<long>(ns_total % 1000000000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s(buf);
  if (frac != 0) {
    char f[16];
    std::snprintf(f, sizeof f, ".%09ld", frac);
    std::string fs(f);
    while (fs.back() == '0') fs.pop_back();
    s += fs;
  }
  return s + "Z";
}

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

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    const auto eq = pair.find('=');
    out[std::string(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

int query_int(const std::map<std::string, std::string>& q, const std::string& key, int fallback) {
  auto it = q.find(key);
  if (it == q.end() || it->second.empty()) return fallback;
  int v = fallback;
  std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  return v;
}

bool query_bool(const std::map<std::string, std::string>& q, const std::string& key) {
  auto it = q.find(key);
  return it != q.end() && (it->second == "1" || it->second == "true" || it->second == "detail");
}

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

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, Monitor& monitor) : stream_(std::move(socket)), monitor_(monitor) {}
  void read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, req_,
                     [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(const error_code& ec) {
    if (ec) {
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    int status = 200;
    std::string body;
    if (req_.method() != http::verb::get && req_.method() != http::verb::head) {
      status = 405;
      body = "{\"error\":\"method not allowed\"}";
    } else {
      body = monitor_.handle(std::string(req_.target()), status);
    }
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), req_.version());
    res->set(http::field::server, "forest-server");
    res->set(http::field::content_type, body.starts_with("<") ? "text/html; charset=utf-8" : "application/json");
    res->keep_alive(req_.keep_alive());
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](const error_code& e, std::size_t) {
      if (e || !res->keep_alive()) {
        error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
      self->read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  Monitor& monitor_;
};

}  // namespace

Monitor::Monitor(Server& server, asio::io_context& ctx) : server_(server), ctx_(ctx), acceptor_(ctx) {}
Monitor::~Monitor() = default;

std::expected<int, std::string> Monitor::listen(const std::string& host, int port) {
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected("invalid monitoring address '" + host + "'");
  const tcp::endpoint ep(address, static_cast<unsigned short>(port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("can't listen to the monitor port: " + host + ":" + std::to_string(port) + ": " + ec.message());
  do_accept();
  return static_cast<int>(acceptor_.local_endpoint().port());
}

void Monitor::stop() {
  error_code ec;
  acceptor_.close(ec);
}

void Monitor::do_accept() {
  acceptor_.async_accept(ctx_, [this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<HttpSession>(std::move(socket), *this)->read();
    do_accept();
  });
}

std::string Monitor::handle(const std::string& target, int& status) {
  const auto qmark = target.find('?');
  std::string path = target.substr(0, qmark);
  const auto query = parse_query(qmark == std::string::npos ? "" : std::string_view(target).substr(qmark + 1));
  if (path.size() > 1 && path.back() == '/') path.pop_back();
  {
    std::lock_guard lock(stats_mu_);
    ++req_stats_[path];
  }
  status = 200;
  if (path == "/varz") return varz();
  if (path == "/connz") return connz(query, status);
  if (path == "/subsz" || path == "/subscriptionsz") return subsz(query);
  if (path == "/routez") return routez();
  if (path == "/healthz") return "{\"status\":\"ok\"}";
  if (path == "/" || path.empty()) return root();
  status = 404;
  return "{\"error\":\"not found\"}";
}

std::string Monitor::root() {
  return "<html><body><h1>forest-server monitoring</h1><ul>"
         "<li><a href=\"/varz\">varz</a></li><li><a href=\"/connz\">connz</a></li>"
         "<li><a href=\"/routez\">routez</a></li><li><a href=\"/subsz\">subsz</a></li>"
         "<li><a href=\"/healthz\">healthz</a></li></ul></body></html>";
}

std::string Monitor::varz() {
  const auto o = server_.options();
  const auto now = std::chrono::system_clock::now();
  uint64_t out_msgs = server_.counters().out_msgs.load(), out_bytes = server_.counters().out_bytes.load();
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
  w.field("max_connections", o->max_connections);
  if (o->max_subscriptions > 0) w.field("max_subscriptions", o->max_subscriptions);
  w.field("ping_interval", static_cast<int64_t>(o->ping_interval.count()));
  w.field("ping_max", o->ping_max);
  w.field("http_host", o->http_host.empty() ? o->host : o->http_host);
  w.field("http_port", server_.http_port());
  w.field("http_base_path", "");
  w.field("https_port", 0);
  w.field("auth_timeout", std::chrono::duration<double>(o->auth_timeout).count());
  w.field("max_control_line", o->max_control_line);
  w.field("max_payload", o->max_payload);
  w.field("max_pending", o->max_pending);
  w.key("cluster").begin_object().end_object();
  w.key("gateway").begin_object().end_object();
  w.key("leaf").begin_object().end_object();
  w.key("mqtt").begin_object().end_object();
  w.key("websocket").begin_object().end_object();
  w.key("jetstream").begin_object().end_object();
  w.field("tls_timeout", 2.0);
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
  w.field("routes", 0);
  w.field("remotes", 0);
  w.field("leafnodes", 0);
  w.field("in_msgs", server_.counters().in_msgs.load());
  w.field("out_msgs", out_msgs);
  w.field("in_bytes", server_.counters().in_bytes.load());
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

std::string Monitor::connz(const std::map<std::string, std::string>& q, int& status) {
  const auto now = std::chrono::system_clock::now();
  const int offset = std::max(0, query_int(q, "offset", 0));
  int limit = query_int(q, "limit", kDefaultConnzLimit);
  if (limit <= 0) limit = kDefaultConnzLimit;
  const bool subs = query_bool(q, "subs");
  const bool detail = q.contains("subs") && q.at("subs") == "detail";
  const std::string state = q.contains("state") ? q.at("state") : "open";
  std::string sort = q.contains("sort") ? q.at("sort") : "cid";
  if (sort.empty()) sort = "cid";
  const int64_t cid_filter = query_int(q, "cid", 0);

  std::vector<ConnSnapshot> conns;
  if (state == "open" || state == "any" || state == "all") {
    for (const auto& c : server_.clients()) conns.push_back(c->snapshot(subs));
  }
  if (state == "closed" || state == "any" || state == "all") {
    for (auto& c : server_.closed_clients()) conns.push_back(std::move(c));
  } else if (state != "open") {
    status = 400;
    return "{\"error\":\"invalid connection state '" + state + "'\"}";
  }
  if (cid_filter > 0) {
    std::erase_if(conns, [&](const ConnSnapshot& c) { return static_cast<int64_t>(c.cid) != cid_filter; });
  }
  auto by = [&](auto key, bool descending) {
    std::stable_sort(conns.begin(), conns.end(), [&](const ConnSnapshot& a, const ConnSnapshot& b) {
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
    if (state == "open") {
      status = 400;
      return "{\"error\":\"sort by stop or reason is only valid on closed connections\"}";
    }
    by([](const ConnSnapshot& c) { return c.stop; }, true);
  } else {
    status = 400;
    return "{\"error\":\"invalid sorting option '" + sort + "'\"}";
  }

  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("now", rfc3339(now));
  const int total = static_cast<int>(conns.size());
  const int first = std::min(offset, total);
  const int last = std::min(total, first + limit);
  w.field("num_connections", last - first);
  w.field("total", total);
  w.field("offset", offset);
  w.field("limit", limit);
  w.key("connections").begin_array();
  for (int i = first; i < last; ++i) write_conn(w, conns[static_cast<std::size_t>(i)], now, subs, detail);
  w.end_array();
  w.end_object();
  return w.take();
}

std::string Monitor::subsz(const std::map<std::string, std::string>& q) {
  const auto now = std::chrono::system_clock::now();
  const bool subs = query_bool(q, "subs");
  const int offset = std::max(0, query_int(q, "offset", 0));
  int limit = query_int(q, "limit", kDefaultSubszLimit);
  if (limit <= 0) limit = kDefaultSubszLimit;
  const std::string test = q.contains("test") ? q.at("test") : "";

  uint64_t num_subs = 0, inserts = 0, removes = 0, matches = 0, hits = 0, misses = 0, cache = 0;
  std::vector<SubInfo> details;
  for (Account* a : server_.accounts()) {
    const SublistStats st = a->sublist().stats();
    num_subs += st.subscriptions;
    inserts += st.inserts;
    removes += st.removes;
    matches += st.matches;
    if (subs) {
      a->sublist().for_each([&](const SubPtr& s) {
        if (!test.empty() && !subject_matches(s->subject, test)) return;
        SubInfo si;
        si.account = a->name();
        si.subject = s->subject;
        si.queue = s->queue;
        si.sid = s->sid;
        si.msgs = static_cast<int64_t>(s->delivered.load(std::memory_order_relaxed));
        si.max = s->max_msgs.load(std::memory_order_relaxed);
        details.push_back(std::move(si));
      });
    }
  }
  for (IoThread* t : server_.io_threads()) {
    hits += t->cache_hits.load(std::memory_order_relaxed);
    misses += t->cache_misses.load(std::memory_order_relaxed);
    cache += t->cache_entries.load(std::memory_order_relaxed);
  }
  // Lookups answered by a thread cache, over all lookups (nats-server's cache_hit_rate).
  const double hit_rate = (hits + misses) > 0 ? static_cast<double>(hits) / static_cast<double>(hits + misses) : 0.0;

  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("now", rfc3339(now));
  w.field("num_subscriptions", num_subs);
  w.field("num_cache", cache);
  w.field("num_inserts", inserts);
  w.field("num_removes", removes);
  w.field("num_matches", matches + hits);
  w.field("cache_hit_rate", hit_rate);
  const int total = static_cast<int>(details.size());
  w.field("total", subs ? total : 0);
  w.field("offset", offset);
  w.field("limit", limit);
  if (subs && total > 0) {
    w.key("subscriptions_list").begin_array();
    for (int i = std::min(offset, total); i < std::min(total, offset + limit); ++i) {
      const SubInfo& s = details[static_cast<std::size_t>(i)];
      w.begin_object();
      w.field("account", s.account).field("subject", s.subject);
      if (!s.queue.empty()) w.field("qgroup", s.queue);
      w.field("sid", s.sid).field("msgs", s.msgs);
      if (s.max > 0) w.field("max", s.max);
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
  return w.take();
}

std::string Monitor::routez() {
  JsonWriter w;
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("server_name", server_.server_name());
  w.field("now", rfc3339(std::chrono::system_clock::now()));
  w.field("num_routes", 0);
  w.key("routes").begin_array().end_array();
  w.end_object();
  return w.take();
}

}  // namespace forest::broker
