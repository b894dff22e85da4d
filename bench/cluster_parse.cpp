#include "cluster_parse.hpp"

#include <simdjson.h>

#include <charconv>
#include <sstream>

namespace forest::bench {

int port_from_log(std::string_view log, std::string_view marker) {
  const auto at = log.find(marker);
  if (at == std::string_view::npos) return 0;
  const auto eol = log.find('\n', at);
  if (eol == std::string_view::npos) return 0;
  std::string_view line = log.substr(at + marker.size(), eol - at - marker.size());
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto colon = line.rfind(':');
  if (colon == std::string_view::npos) return 0;
  int port = 0;
  const char* first = line.data() + colon + 1;
  const char* last = line.data() + line.size();
  const auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || end != last || port <= 0 || port > 65535) return 0;
  return port;
}

std::optional<Routez> parse_routez(std::string_view json, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Routez> {
    if (error != nullptr) *error = "/routez: " + why;
    return std::nullopt;
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return fail("not JSON");
  Routez out;
  std::string_view id;
  if (doc["server_id"].get(id) != simdjson::SUCCESS) return fail("no server_id");
  out.server_id = id;
  if (doc["num_routes"].get(out.num_routes) != simdjson::SUCCESS) return fail("no num_routes");
  simdjson::dom::array routes;
  if (doc["routes"].get(routes) == simdjson::SUCCESS) {
    for (simdjson::dom::element r : routes) {
      RouteEntry e;
      std::string_view rid;
      if (r["remote_id"].get(rid) != simdjson::SUCCESS) return fail("a route without remote_id");
      e.remote_id = rid;
      simdjson::dom::array subs;
      if (r["subscriptions_list"].get(subs) == simdjson::SUCCESS) {
        for (simdjson::dom::element s : subs) {
          std::string_view text;
          if (s.get(text) != simdjson::SUCCESS) return fail("a subscription that is not a string");
          e.subs.emplace_back(text);
        }
      }
      out.routes.push_back(std::move(e));
    }
  }
  return out;
}

bool route_has_interest(const RouteEntry& route, std::string_view subject) {
  for (const std::string& s : route.subs) {
    if (s == subject) return true;
    if (s.size() > subject.size() && s.compare(0, subject.size(), subject) == 0 && s[subject.size()] == ' ') return true;
  }
  return false;
}

std::optional<NodeRange> parse_node_range(std::string_view text, int nodes, std::string* error) {
  auto number = [](std::string_view s, int& out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
  };
  NodeRange r;
  const auto dash = text.find('-');
  const bool ok = dash == std::string_view::npos ? number(text, r.first) && number(text, r.last)
                                                 : number(text.substr(0, dash), r.first) && number(text.substr(dash + 1), r.last);
  if (!ok || r.first < 0 || r.last < r.first || r.last >= nodes) {
    if (error != nullptr) {
      *error = "subnodes '" + std::string(text) + "': expected N or N-M with 0 <= N <= M < " + std::to_string(nodes);
    }
    return std::nullopt;
  }
  return r;
}

std::vector<std::string> split_server_command(const std::string& cmd) {
  std::istringstream in(cmd);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  if (!out.empty() && out.front().find('=') != std::string::npos && out.front().front() != '-') {
    out.insert(out.begin(), "/usr/bin/env");
  }
  return out;
}

}  // namespace forest::bench
