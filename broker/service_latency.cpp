#include "service_latency.hpp"

#include <algorithm>
#include <cctype>
#include <random>

#include "json_writer.hpp"
#include "server_id.hpp"
#include "time_text.hpp"

namespace forest::broker {
namespace {

using std::chrono::nanoseconds;

// Go's textproto.CanonicalMIMEHeaderKey: the first letter and each one after '-' upper case,
// the rest lower case; a key with a character outside the token set stays as it is.
std::string canonical_key(std::string_view key) {
  for (char c : key) {
    const bool token = std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!token) return std::string(key);
  }
  std::string out(key);
  bool upper = true;
  for (char& c : out) {
    c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
    upper = c == '-';
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The header lines of a raw block, keys canonical (as nats-server's getHeader reads them into
// an http.Header), in the order they came. A line without a colon makes Go's ReadMIMEHeader
// fail, and nats-server then sees no headers at all: none here either.
TracingHeaders parse_headers(std::string_view block) {
  TracingHeaders out;
  std::size_t pos = block.find("\r\n");  // past the status line
  while (pos != std::string_view::npos) {
    pos += 2;
    const std::size_t end = block.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) break;
    const std::string_view line = block.substr(pos, end - pos);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return {};
    const std::string_view key = trim(line.substr(0, colon));
    if (!key.empty()) out.emplace_back(canonical_key(key), std::string(trim(line.substr(colon + 1))));
    pos = end;
  }
  return out;
}

const std::string* first_value(const TracingHeaders& h, std::string_view key) {
  for (const auto& [k, v] : h) {
    if (k == key) return &v;
  }
  return nullptr;
}

// Every value of the keys `keep` accepts, sorted by key (a Go map in JSON), values in order.
template <typename Keep>
TracingHeaders pick(const TracingHeaders& h, Keep keep) {
  TracingHeaders out;
  for (const auto& kv : h) {
    if (keep(kv.first)) out.push_back(kv);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const std::size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}


}  // namespace

ClientInfo responder_info(const ConnSnapshot& conn, const LatencyServer& server) {
  ClientInfo c = client_info(conn);
  c.rtt = conn.rtt;
  c.server = server.name;
  c.cluster = server.cluster;
  return c;
}

SampleDecision should_sample(const ServiceLatencyConfig& cfg, std::string_view headers) {
  if (cfg.sampling >= 100) return {true, {}};
  // nats-server compares rand.Int31n(100) <= sampling, so 50% samples 51 in 100.
  if (cfg.sampling > 0 && static_cast<int>(std::uniform_int_distribution<int>(0, 99)(rng())) <= cfg.sampling) {
    return {true, {}};
  }
  if (headers.empty()) return {};
  const TracingHeaders h = parse_headers(headers);
  if (h.empty()) return {};
  if (const std::string* uber = first_value(h, "Uber-Trace-Id")) {
    // "trace:span:parent:flags": the low bit of the flags (one or two characters; nats-server
    // decodes only the last one, as a hex digit) samples.
    const auto tk = split(*uber, ':');
    if (tk.size() == 4 && !tk[3].empty() && tk[3].size() <= 2) {
      const int lo = hex_digit(tk[3].back());
      if (lo >= 0 && (lo & 1) == 1) {
        return {true, pick(h, [](const std::string& k) { return k == "Uber-Trace-Id" || k.starts_with("Uberctx-"); })};
      }
    }
    return {};
  }
  auto b3_headers = [&] {
    return pick(h, [](const std::string& k) {
      return k == "X-B3-Sampled" || k == "X-B3-Traceid" || k == "X-B3-Parentspanid" || k == "X-B3-Spanid";
    });
  };
  if (const std::string* sampled = first_value(h, "X-B3-Sampled"); sampled != nullptr && *sampled == "1") {
    return {true, b3_headers()};
  } else if (sampled != nullptr && *sampled == "0") {
    return {};
  }
  if (first_value(h, "X-B3-Traceid") != nullptr) return {true, b3_headers()};
  if (const std::string* b3 = first_value(h, "B3")) {
    const auto tk = split(*b3, '-');
    if ((tk.size() > 2 && tk[2] == "0") || (tk.size() == 1 && tk[0] == "0")) return {};
    return {true, pick(h, [](const std::string& k) { return k == "B3"; })};
  }
  if (const std::string* ctx = first_value(h, "Traceparent")) {
    const auto tk = split(*ctx, '-');
    if (tk.size() == 4 && tk[3] == "01") {
      return {true, pick(h, [](const std::string& k) { return k == "Traceparent" || k == "Tracestate"; })};
    }
  }
  return {};
}

LatencyReport measured_report(std::optional<ClientInfo> requestor, std::optional<ClientInfo> responder,
                              SystemTime forwarded_at, nanoseconds service_rtt, TracingHeaders headers) {
  const auto measured = std::chrono::steady_clock::now();
  LatencyReport r;
  const nanoseconds req_rtt = requestor ? requestor->rtt : nanoseconds(0);
  const nanoseconds resp_rtt = responder ? responder->rtt : nanoseconds(0);
  r.requestor = std::move(requestor);
  r.responder = std::move(responder);
  r.headers = std::move(headers);
  r.request_start = forwarded_at - std::chrono::duration_cast<SystemTime::duration>(req_rtt);
  r.service = std::max(nanoseconds(0), service_rtt - resp_rtt);
  r.total = req_rtt + service_rtt;
  if (resp_rtt.count() > 0) {
    // nats-server's system latency here is the time it took to build the report.
    r.system = std::chrono::duration_cast<nanoseconds>(std::chrono::steady_clock::now() - measured);
    r.total += r.system;
  }
  return r;
}

LatencyReport failed_report(int status, std::optional<ClientInfo> requestor, SystemTime forwarded_at,
                            TracingHeaders headers) {
  LatencyReport r;
  r.status = status;
  switch (status) {
    case 400: r.description = "Bad Request"; break;
    case 408: r.description = "Request Timeout"; break;
    case 503: r.description = "Service Unavailable"; break;
    case 504: r.description = "Service Timeout"; break;
    default: break;
  }
  const nanoseconds req_rtt = requestor ? requestor->rtt : nanoseconds(0);
  r.requestor = std::move(requestor);
  r.headers = std::move(headers);
  r.request_start = forwarded_at - std::chrono::duration_cast<SystemTime::duration>(req_rtt);
  return r;
}

std::string latency_json(const LatencyReport& r, SystemTime now) {
  JsonWriter w;
  w.begin_object();
  w.field("type", "io.nats.server.metric.v1.service_latency");
  w.field("id", make_event_id());
  w.field("timestamp", rfc3339(now));
  w.field("status", r.status);
  if (!r.description.empty()) w.field("description", r.description);
  if (r.requestor) {
    w.key("requestor");
    write_client_info(w, *r.requestor);
  }
  if (r.responder) {
    w.key("responder");
    write_client_info(w, *r.responder);
  }
  if (!r.headers.empty()) {
    w.key("header").begin_object();
    for (std::size_t i = 0; i < r.headers.size();) {
      const std::string& key = r.headers[i].first;
      w.key(key).begin_array();
      for (; i < r.headers.size() && r.headers[i].first == key; ++i) w.value(r.headers[i].second);
      w.end_array();
    }
    w.end_object();
  }
  w.field("start", rfc3339(r.request_start));
  w.field("service", static_cast<int64_t>(r.service.count()));
  w.field("system", static_cast<int64_t>(r.system.count()));
  w.field("total", static_cast<int64_t>(r.total.count()));
  w.end_object();
  return w.take();
}

}  // namespace forest::broker
