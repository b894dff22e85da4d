#include "connect_options.hpp"

#include <simdjson.h>

#include "json_read.hpp"
#include "protocol/parser.hpp"

namespace forest::broker {

// Reads CONNECT's JSON the way Go's json.Unmarshal fills nats-server's struct: absent fields
// keep their defaults, a field of the wrong type fails the whole CONNECT, keys match their
// field case-insensitively and the last of several wins.
bool parse_connect(std::string_view text, ConnectOptions& f) {
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded(text);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) return false;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return false;
  using json::read_bool;
  using json::read_string;
  for (auto field : obj) {
    std::string_view raw_key;
    if (field.unescaped_key().get(raw_key) != simdjson::SUCCESS) return false;
    // Go matches keys to fields case-insensitively: {"USER":..,"PASS":..} authenticates there.
    const std::string key = protocol::fold_json_key(raw_key);
    simdjson::ondemand::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return false;
    bool ok = true;
    if (key == "verbose") {
      ok = read_bool(v, f.verbose);
    } else if (key == "pedantic") {
      ok = read_bool(v, f.pedantic);
    } else if (key == "echo") {
      ok = read_bool(v, f.echo);
    } else if (key == "headers") {
      ok = read_bool(v, f.headers);
    } else if (key == "no_responders") {
      ok = read_bool(v, f.no_responders);
    } else if (key == "protocol") {
      ok = json::read_int(v, f.protocol);
    } else if (key == "name") {
      ok = read_string(v, f.name);
    } else if (key == "lang") {
      ok = read_string(v, f.lang);
    } else if (key == "version") {
      ok = read_string(v, f.version);
    } else if (key == "user") {
      ok = read_string(v, f.user);
    } else if (key == "pass") {
      ok = read_string(v, f.pass);
    } else if (key == "auth_token") {
      ok = read_string(v, f.token);
    } else if (key == "nkey") {
      ok = read_string(v, f.nkey);
    } else if (key == "sig") {
      ok = read_string(v, f.sig);
    } else if (key == "tls_required") {
      bool ignored = false;
      ok = read_bool(v, ignored);
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace forest::broker
