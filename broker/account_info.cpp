#include "account_info.hpp"

#include <utility>

#include "account.hpp"
#include "json_writer.hpp"
#include "options.hpp"
#include "server.hpp"
#include "subject.hpp"
#include "time_text.hpp"

namespace forest::broker {
namespace {

const char* response_type_name(ResponseType t) {
  switch (t) {
    case ResponseType::stream:
      return "Streamed";
    case ResponseType::chunked:
      return "Chunked";
    case ResponseType::singleton:
      break;
  }
  return "Singleton";
}

// jwt.ServiceLatency: a sampling of 0 means the requests' tracing headers decide.
void write_latency(JsonWriter& w, const ServiceLatencyConfig& l) {
  w.begin_object();
  if (l.sampling == 0) {
    w.field("sampling", "headers");
  } else {
    w.field("sampling", l.sampling);
  }
  w.field("results", l.subject).end_object();
}

void write_approved(JsonWriter& w, const std::vector<std::string>& accounts) {
  if (accounts.empty()) return;
  w.key("approved_accounts").begin_array();
  for (const std::string& a : accounts) w.value(a);
  w.end_array();
}

// ExtExport: services first, then streams, as nats-server lists them.
void write_exports(JsonWriter& w, const AccountConfig& a) {
  if (a.service_exports.empty() && a.stream_exports.empty()) return;
  w.key("exports").begin_array();
  for (const ServiceExport& e : a.service_exports) {
    w.begin_object().field("subject", e.subject).field("type", "service");
    w.field("response_type", response_type_name(e.response_type));
    if (e.latency) {
      w.key("service_latency");
      write_latency(w, *e.latency);
    }
    write_approved(w, e.accounts);
    w.end_object();
  }
  for (const StreamExport& e : a.stream_exports) {
    w.begin_object().field("subject", e.subject).field("type", "stream");
    write_approved(w, e.accounts);
    w.end_object();
  }
  w.end_array();
}

const ServiceExport* service_export(const std::vector<AccountConfig>& all, const ServiceImport& i) {
  for (const AccountConfig& a : all) {
    if (a.name != i.account) continue;
    for (const ServiceExport& e : a.service_exports) {
      if (e.subject == i.subject) return &e;
    }
    for (const ServiceExport& e : a.service_exports) {
      if (subject_is_subset(i.subject, e.subject)) return &e;
    }
  }
  return nullptr;
}

// ExtImport: streams first, then services. A service import's "subject" is the local one and
// "to" the exporter's; a stream import's "subject" is the exporter's and "local_subject" ours.
void write_imports(JsonWriter& w, const AccountConfig& a, const std::vector<AccountConfig>& all) {
  if (a.stream_imports.empty() && a.service_imports.empty()) return;
  w.key("imports").begin_array();
  for (const StreamImport& i : a.stream_imports) {
    w.begin_object().field("subject", i.subject).field("account", i.account).field("local_subject", i.to);
    w.field("type", "stream").field("invalid", false).field("share", false).field("tracking", false);
    w.end_object();
  }
  for (const ServiceImport& i : a.service_imports) {
    w.begin_object().field("subject", i.to).field("account", i.account).field("to", i.subject);
    w.field("type", "service").field("invalid", false).field("share", i.share).field("tracking", false);
    if (const ServiceExport* e = service_export(all, i); e != nullptr && e->latency) {
      w.key("latency");
      write_latency(w, *e->latency);
    }
    w.end_object();
  }
  w.end_array();
}

}  // namespace

std::expected<std::string, std::string> account_info_json(Server& server, std::string_view name) {
  Account* account = server.find_account(name);
  if (account == nullptr) {
    std::string error = "Account ";
    error.append(name).append(" does not exist");
    return std::unexpected(std::move(error));
  }
  const auto o = server.options();
  const std::vector<AccountConfig> applied = server.applied_imports();
  const AccountConfig* config = nullptr;
  for (const AccountConfig& a : applied) {
    if (a.name == name) config = &a;
  }
  const SublistStats st = account->sublist().stats();
  JsonWriter w;
  w.begin_object();
  w.field("account_name", account->name());
  w.field("update_time", rfc3339(server.start_time()));
  if (account->name() == o->effective_system_account()) w.field("is_system", true);
  w.field("expired", false).field("complete", true);
  // JetStream serves the global account only (broker/jetstream/README.md).
  w.field("jetstream_enabled", account->name() == kGlobalAccount && o->jetstream.enabled);
  w.field("leafnode_connections", 0);
  w.field("client_connections", account->num_connections());
  w.field("subscriptions", st.subscriptions);
  if (config != nullptr) {
    write_exports(w, *config);
    write_imports(w, *config, applied);
  }
  w.key("sublist_stats").begin_object();
  w.field("num_subscriptions", st.subscriptions).field("num_cache", 0).field("num_inserts", st.inserts);
  w.field("num_removes", st.removes).field("num_matches", st.matches).field("cache_hit_rate", 0);
  w.field("max_fanout", 0).field("avg_fanout", 0);
  w.end_object();
  w.end_object();
  return w.take();
}

}  // namespace forest::broker
