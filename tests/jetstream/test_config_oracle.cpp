// Stream and consumer configs checked against the reference: each request goes to
// nats-server 2.9.10 (JetStream on, in a temp store dir) and through our parse, check and
// write functions (streams: STREAM.CREATE; consumers: every CONSUMER.CREATE subject form). The
// config nats-server answers with (defaults filled in) or its error object must be byte for
// byte ours.
//
// Streams the reference creates stay there, so the cases also cover checks against existing
// streams (mirrors, sources, cycles); our lookup sees the same streams.
#include <catch2/catch.hpp>
#include <nats/nats.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "jetstream/consumer_config.hpp"
#include "jetstream/stream_config.hpp"
#include "json_writer.hpp"
#include "server_process.hpp"

using namespace forest::testing;
namespace js = forest::broker::js;
namespace fs = std::filesystem;

namespace {

// The text of the JSON object value of `key` at top level of `json` (brace matching outside
// strings); empty when absent.
std::string object_field(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":{";
  const auto at = json.find(needle);
  if (at == std::string::npos) return "";
  const std::size_t start = at + needle.size() - 1;
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = start; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{') ++depth;
    else if (c == '}' && --depth == 0) return json.substr(start, i - start + 1);
  }
  return "";
}

struct Reference {
  std::unique_ptr<ServerProcess> server;
  natsConnection* nc = nullptr;
  fs::path dir;

  Reference() {
    dir = fs::temp_directory_path() / ("forest-js-oracle-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    server = ServerProcess::start(ServerProcess::nats_binary(), {"-p", "-1", "-js", "-sd", dir.string()});
    if (server) {
      const std::string url = "nats://127.0.0.1:" + std::to_string(server->client_port());
      if (natsConnection_ConnectTo(&nc, url.c_str()) != NATS_OK) nc = nullptr;
    }
  }
  ~Reference() {
    if (nc != nullptr) natsConnection_Destroy(nc);
    if (server) server->stop();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  std::string request(const std::string& subject, const std::string& body) const {
    natsMsg* reply = nullptr;
    if (natsConnection_Request(&reply, nc, subject.c_str(), body.data(), static_cast<int>(body.size()), 5000) != NATS_OK) {
      return "";
    }
    std::string out(natsMsg_GetData(reply), static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    return out;
  }
};

// The streams the reference has created so far, as our lookup sees them.
std::map<std::string, js::StreamConfig> g_created;

std::string ours(const std::string& body, js::StreamConfig* created) {
  auto parsed = js::parse_stream_config(body);
  if (!parsed) return "error:" + js::api_error_json(parsed.error());
  auto lookup = [](std::string_view name) -> const js::StreamConfig* {
    auto it = g_created.find(std::string(name));
    return it == g_created.end() ? nullptr : &it->second;
  };
  auto checked = js::check_stream_config(*parsed, {}, lookup);
  if (!checked) return "error:" + js::api_error_json(checked.error());
  for (const auto& [name, other] : g_created) {
    if (name != checked->name && js::subjects_overlap(*checked, other)) {
      return "error:" + js::api_error_json(js::api_error(js::JsErr::JSStreamSubjectOverlapErr));
    }
  }
  forest::broker::JsonWriter w;
  js::write_stream_config(w, *checked);
  if (created != nullptr) *created = *checked;
  return w.take();
}

std::string theirs(const Reference& ref, const std::string& name, const std::string& body) {
  const std::string reply = ref.request("$JS.API.STREAM.CREATE." + name, body);
  const std::string error = object_field(reply, "error");
  if (!error.empty()) return "error:" + error;
  return object_field(object_field(reply, "config").empty() ? reply : reply, "config");
}

}  // namespace

TEST_CASE("stream configs: ours equals nats-server 2.9.10's, defaults and errors", "[jetstream][oracle]") {
  if (::access(ServerProcess::nats_binary().c_str(), X_OK) != 0) {
    WARN("skipped: no " << ServerProcess::nats_binary());
    return;
  }
  Reference ref;
  REQUIRE(ref.nc != nullptr);
  g_created.clear();

  // name, request body; in order (later cases see the streams earlier ones created).
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PLAIN", R"({"name":"PLAIN"})"},
      {"ORDERS", R"({"name":"ORDERS","subjects":["orders.*","orders.>"]})"},  // overlap with itself
      {"ORDERS", R"({"name":"ORDERS","subjects":["orders.*","returns.>"],"description":"the orders",)"
                 R"("retention":"workqueue","max_msgs":100,"max_bytes":1048576,"max_age":3600000000000,)"
                 R"("max_msg_size":4096,"discard":"new","storage":"memory","num_replicas":1,)"
                 R"("duplicate_window":60000000000,"allow_direct":true,"deny_delete":true})"},
      {"OVERLAP", R"({"name":"OVERLAP","subjects":["orders.new"]})"},
      {"KV_x", R"({"name":"KV_x","subjects":["$KV.x.>"],"max_msgs_per_subject":5,"discard":"new",)"
               R"("discard_new_per_subject":true,"allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true})"},
      {"AGE", R"({"name":"AGE","max_age":30000000000})"},   // duplicate window from max_age
      {"AGE2", R"({"name":"AGE2","max_age":50000000})"},    // below 100 ms
      {"DUP", R"({"name":"DUP","duplicate_window":-5})"},
      {"DUP2", R"({"name":"DUP2","max_age":1000000000,"duplicate_window":2000000000})"},
      {"ROLL", R"({"name":"ROLL","deny_purge":true,"allow_rollup_hdrs":true})"},
      {"DNP", R"({"name":"DNP","discard_new_per_subject":true})"},
      {"DNP2", R"({"name":"DNP2","discard":"new","discard_new_per_subject":true})"},
      {"API", R"({"name":"API","subjects":["$JS.API.foo"]})"},
      {"BADSUBJ", R"({"name":"BADSUBJ","subjects":["foo..bar"]})"},
      {"DUPSUBJ", R"({"name":"DUPSUBJ","subjects":["a","a"]})"},
      {"REPL", R"({"name":"REPL","num_replicas":-1})"},
      {"REPL6", R"({"name":"REPL6","num_replicas":6})"},
      {"BADJSON", R"({"name":"BADJSON","max_msgs":"ten"})"},
      {"BADENUM", R"({"name":"BADENUM","retention":"forever"})"},
      {"MISMATCH", R"({"name":"OTHER"})"},
      {"M1", R"({"name":"M1","mirror":{"name":"ORDERS"}})"},
      {"M2", R"({"name":"M2","mirror":{"name":"ORDERS"},"subjects":["m2"]})"},
      {"M3", R"({"name":"M3","mirror":{"name":"ORDERS","filter_subject":"nothing.here"}})"},
      {"S1", R"({"name":"S1","sources":[{"name":"ORDERS","opt_start_seq":5},{"name":"PLAIN","filter_subject":"PLAIN"}]})"},
      {"S2", R"({"name":"S2","sources":[{"name":"ORDERS","opt_start_time":"2026-01-02T03:04:05.120-02:30"}]})"},
      {"RP", R"({"name":"RP","subjects":["rp.>"],"republish":{"dest":"out.>"}})"},
      {"RP2", R"({"name":"RP2","subjects":["rp2.>"],"republish":{"src":"other.>","dest":"out2.>"}})"},
      {"RP3", R"({"name":"RP3","subjects":["rp3.>"],"republish":{"src":"rp3.>","dest":"rp3.x.>"}})"},
      {"Cased", R"({"Name":"Cased","SUBJECTS":["cased"],"Max_Msgs":7})"},  // Go matches keys without case
      {"PLACE", R"({"name":"PLACE","placement":{"tags":["a","b"]}})"},
      {"WS", R"({"name":"W S"})"},
  };
  for (const auto& [name, body] : cases) {
    INFO("request " << name << " " << body);
    const std::string reference = theirs(ref, name, body);
    REQUIRE_FALSE(reference.empty());
    // The subject's name must match the config's (checked before the config, as nats-server does).
    std::string mine;
    auto parsed = js::parse_stream_config(body);
    if (parsed && parsed->name != name) {
      mine = "error:" + js::api_error_json(js::api_error(js::JsErr::JSStreamMismatchErr));
    } else {
      js::StreamConfig created;
      mine = ours(body, &created);
      if (mine.rfind("error:", 0) != 0) g_created[created.name] = created;
    }
    CHECK(mine == reference);
  }
}

namespace {

// Drops "name":"..." (an ephemeral's random name) from a config object.
std::string without_name(std::string s) {
  const auto at = s.find("\"name\":\"");
  if (at == std::string::npos) return s;
  const auto end = s.find('"', at + 8);
  return s.erase(at, end - at + 2);  // with the comma after it
}

}  // namespace

TEST_CASE("consumer configs: ours equals nats-server 2.9.10's, defaults and errors", "[jetstream][oracle]") {
  if (::access(ServerProcess::nats_binary().c_str(), X_OK) != 0) {
    WARN("skipped: no " << ServerProcess::nats_binary());
    return;
  }
  Reference ref;
  REQUIRE(ref.nc != nullptr);
  std::map<std::string, js::StreamConfig> streams;
  for (const auto& [name, body] : std::vector<std::pair<std::string, std::string>>{
           {"ORDERS", R"({"name":"ORDERS","subjects":["orders.>"]})"},
           {"WQ", R"({"name":"WQ","subjects":["wq.*"],"retention":"workqueue"})"},
       }) {
    REQUIRE(object_field(ref.request("$JS.API.STREAM.CREATE." + name, body), "error").empty());
    auto checked = js::check_stream_config(*js::parse_stream_config(body), {}, [](std::string_view) { return nullptr; });
    REQUIRE(checked);
    streams[name] = *checked;
  }

  // subject suffix after $JS.API.CONSUMER., request body
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"CREATE.ORDERS", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit"}})"},
      {"CREATE.ORDERS", R"({"stream_name":"ORDERS","config":{"ack_policy":"none","deliver_subject":"push.1","deliver_policy":"last"}})"},
      {"DURABLE.CREATE.ORDERS.D1", R"({"stream_name":"ORDERS","config":{"durable_name":"D1","ack_policy":"explicit",)"
                                   R"("filter_subject":"orders.new","max_deliver":5,"backoff":[1000000000,2000000000],)"
                                   R"("replay_policy":"original","max_ack_pending":20,"description":"d1"}})"},
      {"DURABLE.CREATE.ORDERS.D2", R"({"stream_name":"ORDERS","config":{"durable_name":"OTHER","ack_policy":"explicit"}})"},
      {"DURABLE.CREATE.ORDERS.D3", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit"}})"},
      {"CREATE.ORDERS.N1", R"({"stream_name":"ORDERS","config":{"ack_policy":"all","inactive_threshold":60000000000}})"},
      {"CREATE.ORDERS.N2.orders.x", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","filter_subject":"orders.x"}})"},
      {"CREATE.ORDERS.N3.orders.x", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","filter_subject":"orders.y"}})"},
      {"CREATE.ORDERS", R"({"stream_name":"ORDERS","config":{"durable_name":"X","ack_policy":"explicit"}})"},
      {"CREATE.ORDERS", R"({"stream_name":"WRONG","config":{"ack_policy":"explicit"}})"},
      {"CREATE.ORDERS.B1", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","backoff":[1000000000,2000000000],"max_deliver":2}})"},
      {"CREATE.ORDERS.F1", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","filter_subject":"other.>"}})"},
      {"CREATE.ORDERS.F2", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","filter_subject":">"}})"},
      {"CREATE.ORDERS.P1", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","deliver_policy":"by_start_sequence"}})"},
      {"CREATE.ORDERS.P2", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","deliver_policy":"by_start_sequence","opt_start_seq":7}})"},
      {"CREATE.ORDERS.P3", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","opt_start_seq":7}})"},
      {"CREATE.ORDERS.P4", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","deliver_policy":"by_start_time","opt_start_time":"2026-01-02T03:04:05.5+01:00"}})"},
      {"CREATE.ORDERS.P5", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","deliver_policy":"last_per_subject"}})"},
      {"CREATE.ORDERS.H1", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","idle_heartbeat":5000000000}})"},
      {"CREATE.ORDERS.H2", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","deliver_subject":"push.h2","idle_heartbeat":50000000}})"},
      {"CREATE.ORDERS.H3", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","deliver_subject":"push.h3","flow_control":true}})"},
      {"CREATE.ORDERS.H4", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","deliver_subject":"push.h4","flow_control":true,"idle_heartbeat":5000000000,"deliver_group":"g"}})"},
      {"CREATE.ORDERS.C1", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","deliver_subject":"orders.loop"}})"},
      {"CREATE.ORDERS.C2", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","deliver_subject":"push.*"}})"},
      {"CREATE.ORDERS.C3", R"({"stream_name":"ORDERS","config":{"ack_policy":"none","deliver_subject":"push.c3","max_ack_pending":5}})"},
      {"CREATE.ORDERS.R1", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","rate_limit_bps":1000}})"},
      {"CREATE.ORDERS.R2", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","num_replicas":3}})"},
      {"CREATE.ORDERS.S1", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","sample_freq":"50%","max_batch":10,"max_expires":5000000000,"max_bytes":1024,"headers_only":true}})"},
      {"CREATE.ORDERS.S2", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","sample_freq":"abc"}})"},
      {"CREATE.ORDERS.E1", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","max_expires":10}})"},
      {"CREATE.ORDERS.E2", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","max_waiting":-1}})"},
      {"CREATE.ORDERS.M1", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","durable_name":"M1","name":"M2"}})"},
      {"CREATE.WQ.W1", R"({"stream_name":"WQ","config":{"ack_policy":"none"}})"},
      {"CREATE.ORDERS.J1", R"({"stream_name":"ORDERS","config":{"ack_policy":"sometimes"}})"},
      {"CREATE.ORDERS.J2", R"({"stream_name":"ORDERS","config":{"ack_policy":"explicit","max_deliver":"3"}})"},
  };
  for (const auto& [suffix, body] : cases) {
    const std::string subject = "$JS.API.CONSUMER." + suffix;
    INFO("request " << subject << " " << body);
    const std::string reply = ref.request(subject, body);
    REQUIRE_FALSE(reply.empty());
    std::string reference = object_field(reply, "error");
    reference = reference.empty() ? object_field(reply, "config") : "error:" + reference;

    std::string mine;
    auto subj = js::parse_consumer_create_subject(subject);
    REQUIRE(subj);
    auto req = js::parse_consumer_create(body);
    if (!req) {
      mine = "error:" + js::api_error_json(req.error());
    } else if (auto ok = js::check_consumer_request(*subj, *req); !ok) {
      mine = "error:" + js::api_error_json(ok.error());
    } else if (!streams.contains(req->stream_name)) {
      mine = "error:" + js::api_error_json(js::api_error(js::JsErr::JSStreamNotFoundErr));
    } else if (auto checked = js::check_consumer_config(req->config, streams[req->stream_name]); !checked) {
      mine = "error:" + js::api_error_json(checked.error());
    } else {
      forest::broker::JsonWriter w;
      js::write_consumer_config(w, *checked);
      mine = w.take();
      if (checked->name.empty() && !checked->durable()) reference = without_name(reference);
    }
    CHECK(mine == reference);
  }
}
