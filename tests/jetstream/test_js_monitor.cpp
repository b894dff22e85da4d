// JetStream in the monitoring endpoints and INFO, against nats-server 2.9.10: /jsz (with and
// without JetStream, every query option, the error texts), /healthz's JetStream options, and
// the INFO "jetstream" flag. Bodies are compared byte for byte after removing nats-server's
// indentation, masking what differs by nature (server ids, times, the store directory, the
// free disk space) and sorting stream_detail (nats-server lists streams in map order).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <future>
#include <regex>
#include <string>
#include <vector>

#include "js_target.hpp"
#include "monitor_http.hpp"
#include "raw_client.hpp"

using namespace forest::testing;
using namespace std::chrono_literals;

namespace {

// JSON without the whitespace between tokens (nats-server indents /jsz; we do not).
std::string minified(const std::string& json) {
  std::string out;
  bool in_string = false, escaped = false;
  for (char c : json) {
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '"') in_string = true;
    out.push_back(c);
  }
  return out;
}

// The elements of every `"key":[...]` array in minified JSON, sorted as text.
std::string with_sorted_array(std::string json, const std::string& key) {
  const std::string open = "\"" + key + "\":[";
  for (std::size_t at = json.find(open); at != std::string::npos; at = json.find(open, at + 1)) {
    const std::size_t first = at + open.size();
    std::vector<std::string> elements;
    int depth = 0;
    bool in_string = false, escaped = false;
    std::size_t start = first, i = first;
    for (; i < json.size(); ++i) {
      const char c = json[i];
      if (in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') in_string = false;
        continue;
      }
      if (c == '"') in_string = true;
      else if (c == '{' || c == '[') ++depth;
      else if (c == '}' || c == ']') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0) {
        elements.push_back(json.substr(start, i - start));
        start = i + 1;
      }
    }
    if (i > start) elements.push_back(json.substr(start, i - start));
    std::sort(elements.begin(), elements.end());
    std::string joined;
    for (const auto& e : elements) joined += (joined.empty() ? "" : ",") + e;
    json.replace(first, i - first, joined);
  }
  return json;
}

std::string replace_all(const std::string& s, const std::string& pattern, const std::string& with) {
  return std::regex_replace(s, std::regex(pattern), with);
}

// What differs between two servers by nature; `store_dir` is the server's own (checked first).
std::string masked(const std::string& body, const std::string& store_dir = "", bool mask_disk = false) {
  std::string s = minified(body);
  s = replace_all(s, R"re("(server_id|leader)":"N[A-Z0-9]{55}")re", "\"$1\":\"<id>\"");
  s = replace_all(s, R"re("(?!0001-)\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")re", "\"<time>\"");
  if (!store_dir.empty()) {
    const std::string quoted = "\"store_dir\":\"" + store_dir + "\"";
    if (const auto at = s.find(quoted); at != std::string::npos) s.replace(at, quoted.size(), "\"store_dir\":\"<dir>\"");
  }
  if (mask_disk) s = replace_all(s, R"re("max_storage":\d+)re", "\"max_storage\":<disk>");
  return with_sorted_array(s, "stream_detail");
}

// The config.max_storage of a /jsz body; -1 when absent.
double max_storage(const std::string& body) {
  std::smatch m;
  const std::string s = minified(body);
  return std::regex_search(s, m, std::regex(R"re("max_storage":(\d+))re")) ? std::stod(m[1]) : -1;
}

std::unique_ptr<ServerProcess> start_plain(const std::string& kind) {
  return ServerProcess::start(kind == "forest" ? ServerProcess::forest_binary() : ServerProcess::nats_binary(),
                              {"-a", "127.0.0.1", "-p", "-1", "-m", "-1"});
}

// The same targets on both monitoring ports: status, content type and masked body equal.
void compare_endpoints(int ours, int theirs, const std::vector<std::string>& targets, const std::string& our_dir = "",
                       const std::string& their_dir = "", bool mask_disk = false) {
  for (const std::string& target : targets) {
    INFO("GET " << target);
    const HttpAnswer a = http(ours, target);
    const HttpAnswer b = http(theirs, target);
    CHECK(b.status != 0);
    CHECK(a.status == b.status);
    CHECK(a.content_type == b.content_type);
    CHECK(masked(a.body, our_dir, mask_disk) == masked(b.body, their_dir, mask_disk));
    if (mask_disk && b.status == 200) {
      // Free disk is read at start by each server: close, not equal.
      const double x = max_storage(a.body), y = max_storage(b.body);
      CHECK(x > 0);
      CHECK(std::fabs(x - y) <= 0.02 * y);
    }
  }
}

const std::vector<std::string> kHealthTargets = {
    "/healthz",
    "/healthz?js-enabled-only=true",
    "/healthz?js-enabled-only=1",
    "/healthz?js-enabled=true",
    "/healthz?js-server-only=true",
    "/healthz?js-enabled-only=false",
    "/healthz?js-enabled-only=x",
    "/healthz?js-enabled=nope",
    "/healthz?js-server-only=2",
    "/healthz?js-enabled=x&js-enabled-only=y",
};

const std::vector<std::string> kJszTargets = {
    "/jsz",
    "/jsz?accounts=true",
    "/jsz?accounts=1&config=1",
    "/jsz?streams=true",
    "/jsz?consumers=true",
    "/jsz?consumers=true&config=true",
    "/jsz?config=true",
    "/jsz?streams=true&config=true",
    "/jsz?acc=$G",
    "/jsz?acc=%24G&streams=1&config=1",
    "/jsz?acc=nope",
    "/jsz?acc=nope&accounts=1",
    "/jsz?offset=1&accounts=1",
    "/jsz?offset=0&accounts=1",
    "/jsz?limit=1&streams=1",
    "/jsz?limit=0&accounts=1",
    "/jsz?leader-only=true",
    "/jsz?leader-only=true&streams=true",
    "/jsz?accounts=x",
    "/jsz?streams=maybe",
    "/jsz?consumers=2",
    "/jsz?config=yes",
    "/jsz?offset=x",
    "/jsz?limit=1.5",
    "/jsz?leader-only=x",
    "/jsz?config=x&accounts=y",
};

// Streams, messages, a deleted message and API errors, the same on both servers.
void populate(JsTarget& t) {
  for (const auto& [subject, body] : std::vector<std::pair<std::string, std::string>>{
           {"$JS.API.STREAM.CREATE.FILES", R"({"name":"FILES","subjects":["f.>"],"max_msgs_per_subject":5})"},
           {"$JS.API.STREAM.CREATE.MEM", R"({"name":"MEM","subjects":["m.*"],"storage":"memory","allow_direct":true})"},
           {"$JS.API.STREAM.CREATE.EMPTY", R"({"name":"EMPTY","subjects":["e"],"max_age":60000000000})"},
           {"f.1", "one"},
           {"f.2", "two"},
           {"f.1", "three"},
           {"m.x", "memory"},
           {"$JS.API.CONSUMER.DURABLE.CREATE.FILES.D", R"({"stream_name":"FILES","config":{"durable_name":"D","ack_policy":"explicit","filter_subject":"f.1"}})"},
           {"$JS.API.STREAM.MSG.DELETE.FILES", R"({"seq":2})"},
           {"$JS.API.STREAM.INFO.NOPE", ""},
           {"$JS.API.STREAM.CREATE.BAD", "{"},
           {"$JS.API.DIRECT.GET.MEM", R"({"seq":1})"},  // not counted
           {"$JS.API.INFO", ""},
       }) {
    CHECK(t.request(subject, body) != "");
  }
}

}  // namespace

TEST_CASE("/jsz and /healthz without JetStream are nats-server's", "[jetstream][jsmonitor][oracle]") {
  if (!have_reference()) {
    WARN("skipped: no " << ServerProcess::nats_binary());
    return;
  }
  auto ours = start_plain("forest");
  auto theirs = start_plain("nats");
  REQUIRE(ours);
  REQUIRE(theirs);
  compare_endpoints(ours->http_port(), theirs->http_port(), kJszTargets);
  compare_endpoints(ours->http_port(), theirs->http_port(), kHealthTargets);
  // No "jetstream" in INFO.
  for (int port : {ours->client_port(), theirs->client_port()}) {
    const std::string info = info_line(port);
    CHECK(info.rfind("INFO {", 0) == 0);
    CHECK(info.find("\"jetstream\"") == std::string::npos);
  }
}

TEST_CASE("/jsz with JetStream is nats-server's, field by field", "[jetstream][jsmonitor][oracle]") {
  if (!have_reference()) {
    WARN("skipped: no " << ServerProcess::nats_binary());
    return;
  }
  JsTarget ours("forest", "jsz", {"-m", "-1"});
  JsTarget theirs("nats", "jsz", {"-m", "-1"});
  REQUIRE(ours.ready());
  REQUIRE(theirs.ready());
  const int a = ours.server->http_port(), b = theirs.server->http_port();
  // Before any stream, then with streams.
  compare_endpoints(a, b, {"/jsz", "/jsz?streams=1&config=1"}, (ours.dir / "jetstream").string(),
                    (theirs.dir / "jetstream").string(), true);
  populate(ours);
  populate(theirs);
  compare_endpoints(a, b, kJszTargets, (ours.dir / "jetstream").string(), (theirs.dir / "jetstream").string(), true);
  compare_endpoints(a, b, kHealthTargets);
  // Each reports its own store directory.
  CHECK(minified(http(a, "/jsz").body).find("\"store_dir\":\"" + (ours.dir / "jetstream").string() + "\"") != std::string::npos);
  // /jsz is counted in /varz's http_req_stats as nats-server counts it.
  CHECK(minified(http(a, "/varz").body).find("\"/jsz\":") != std::string::npos);
  for (JsTarget* t : {&ours, &theirs}) {
    INFO("server: " << t->kind);
    const std::string info = info_line(t->server->client_port());
    CHECK(info.find("\"jetstream\":true") != std::string::npos);
  }
}

TEST_CASE("/jsz with JetStream limits and a domain is nats-server's", "[jetstream][jsmonitor][oracle]") {
  if (!have_reference()) {
    WARN("skipped: no " << ServerProcess::nats_binary());
    return;
  }
  const auto conf = std::filesystem::temp_directory_path() / ("forest-jsz-limits-" + std::to_string(::getpid()) + ".conf");
  std::ofstream(conf) << "jetstream { max_memory_store: 1073741824, max_file_store: 2147483648, domain: hub }\n";
  {
    JsTarget ours("forest", "jsz-limits", {"-m", "-1", "-c", conf.string()});
    JsTarget theirs("nats", "jsz-limits", {"-m", "-1", "-c", conf.string()});
    REQUIRE(ours.ready());
    REQUIRE(theirs.ready());
    populate(ours);
    populate(theirs);
    compare_endpoints(ours.server->http_port(), theirs.server->http_port(),
                      {"/jsz", "/jsz?accounts=1", "/jsz?streams=1&config=1", "/healthz?js-enabled-only=true"},
                      (ours.dir / "jetstream").string(), (theirs.dir / "jetstream").string());
    CHECK(minified(http(ours.server->http_port(), "/jsz").body)
              .find(R"("config":{"max_memory":1073741824,"max_storage":2147483648,)") != std::string::npos);
  }
  std::filesystem::remove(conf);
}

TEST_CASE("route INFO says no jetstream while client INFO says it is on", "[jetstream][jsmonitor]") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("forest-js-route-info-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto s = ServerProcess::start(ServerProcess::forest_binary(), {"-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-js", "-sd",
                                                                 dir.string(), "--cluster", "nats://127.0.0.1:-1"});
  REQUIRE(s);
  CHECK(info_line(s->client_port()).find("\"jetstream\":true") != std::string::npos);
  const int route_port = s->route_port();
  REQUIRE(route_port > 0);
  const std::string route_info = info_line(route_port);
  CHECK(route_info.rfind("INFO {", 0) == 0);
  CHECK(route_info.find("\"jetstream\"") == std::string::npos);
  // JetStream serves on this node, and /jsz says so.
  const HttpAnswer jsz = http(s->http_port(), "/jsz");
  CHECK(jsz.status == 200);
  CHECK(jsz.body.find("\"disabled\"") == std::string::npos);
  CHECK(http(s->http_port(), "/healthz?js-enabled-only=true").body == "{\"status\":\"ok\"}");
  s->stop();
  std::filesystem::remove_all(dir);
}
