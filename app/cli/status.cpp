#include "status.hpp"

#include <simdjson.h>

#include <chrono>
#include <string_view>

#include "http_get.hpp"

namespace forest::cli {

namespace {

using namespace std::chrono_literals;

std::string str(simdjson::dom::element e, std::string_view key) {
  auto v = e[key].get_string();
  return v.error() ? std::string() : std::string(v.value());
}

int64_t num(simdjson::dom::element e, std::string_view key) {
  auto v = e[key].get_int64();
  if (!v.error()) return v.value();
  auto u = e[key].get_uint64();
  return u.error() ? 0 : static_cast<int64_t>(u.value());
}

bool flag(simdjson::dom::element e, std::string_view key) {
  auto v = e[key].get_bool();
  return !v.error() && v.value();
}

}  // namespace

int show_status(const std::string& monitor_url, std::ostream& out, std::ostream& err) {
  // Fills `keep` with the body of a 200 answer; false (and why, on `err`) otherwise.
  auto fetch = [&](const std::string& path, simdjson::padded_string& keep) {
    auto r = http_get(monitor_url, path, 5s);
    if (!r) {
      err << "forest status: " << r.error() << "\n";
      return false;
    }
    if (r->status != 200) {
      err << "forest status: " << path << " answered HTTP " << r->status << "\n";
      return false;
    }
    keep = simdjson::padded_string(r->body);
    return true;
  };
  simdjson::padded_string varz_text, routez_text, jsz_text;
  if (!fetch("/varz", varz_text)) return 1;
  simdjson::dom::parser p1, p2, p3;
  simdjson::dom::element varz;
  if (p1.parse(varz_text).get(varz)) {
    err << "forest status: /varz is not JSON\n";
    return 1;
  }
  out << "node:        " << str(varz, "server_name") << " (" << str(varz, "server_id") << ")\n";
  out << "version:     forest " << str(varz, "forest_version") << ", nats-server " << str(varz, "version") << " protocol\n";
  out << "uptime:      " << str(varz, "uptime") << "\n";
  out << "clients:     " << num(varz, "connections") << " connected, port " << num(varz, "port") << "\n";
  simdjson::dom::element cluster;
  if (!varz["cluster"].get(cluster)) {
    const std::string name = str(cluster, "name");
    if (!name.empty()) out << "cluster:     " << name << ", port " << num(cluster, "cluster_port") << "\n";
  }

  simdjson::dom::element routez;
  if (fetch("/routez", routez_text) && !p2.parse(routez_text).get(routez)) {
    out << "routes:      " << num(routez, "num_routes") << "\n";
    simdjson::dom::array routes;
    if (!routez["routes"].get(routes)) {
      for (simdjson::dom::element r : routes) {
        out << "  " << str(r, "remote_name") << " " << str(r, "ip") << ":" << num(r, "port")
            << (flag(r, "did_solicit") ? " (dialed)" : " (accepted)") << "\n";
      }
    }
  }

  simdjson::dom::element jsz;
  if (!fetch("/jsz?streams=true&consumers=true", jsz_text) || p3.parse(jsz_text).get(jsz)) {
    out << "jetstream:   not available\n";
    return 0;
  }
  if (flag(jsz, "disabled")) {
    out << "jetstream:   disabled\n";
    return 0;
  }
  out << "jetstream:   " << num(jsz, "streams") << " streams, " << num(jsz, "consumers") << " consumers, "
      << num(jsz, "messages") << " messages, " << num(jsz, "bytes") << " bytes\n";
  simdjson::dom::array accounts;
  if (jsz["account_details"].get(accounts)) return 0;
  for (simdjson::dom::element a : accounts) {
    simdjson::dom::array streams;
    if (a["stream_detail"].get(streams)) continue;
    for (simdjson::dom::element s : streams) {
      simdjson::dom::element state;
      int64_t msgs = 0;
      if (!s["state"].get(state)) msgs = num(state, "messages");
      out << "  stream " << str(s, "name") << ": " << msgs << " messages\n";
      simdjson::dom::array consumers;
      if (s["consumer_detail"].get(consumers)) continue;
      for (simdjson::dom::element c : consumers) {
        out << "    consumer " << str(c, "name") << ": " << num(c, "num_pending") << " pending, "
            << num(c, "num_ack_pending") << " awaiting ack\n";
      }
    }
  }
  return 0;
}

}  // namespace forest::cli
