#include "imports.hpp"

#include <optional>
#include <random>

#include "account.hpp"
#include "client_endpoint.hpp"
#include "client_info.hpp"
#include "json_writer.hpp"
#include "publish.hpp"
#include "sublist.hpp"
#include "subject.hpp"
#include "subject_transform.hpp"

namespace forest::broker {
namespace {

constexpr std::string_view kDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

uint64_t random_u64() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen();
}

// `n` base-62 characters, as nats-server's reply tokens.
std::string random_token(std::size_t n) {
  std::string out(n, '0');
  uint64_t r = random_u64();
  for (char& c : out) {
    c = kDigits[r % kDigits.size()];
    r /= kDigits.size();
  }
  return out;
}

// Imports deliver into other accounts from inside deliver(): a chain of service imports is
// followed (nats-server allows it), a loop is cut here instead of exhausting the stack.
thread_local int import_depth = 0;
constexpr int kMaxImportDepth = 8;

struct DepthGuard {
  bool ok;
  DepthGuard() : ok(++import_depth <= kMaxImportDepth) {}
  ~DepthGuard() { --import_depth; }
};

// How an import names a subject in the other account: as published (same wildcards), one
// literal subject, or a transform.
struct SubjectMap {
  std::optional<SubjectTransform> transform;
  std::string literal;  // empty: as published

  // `from` subscribes, `to` is what the other account sees.
  static SubjectMap make(const std::string& from, const std::string& to) {
    SubjectMap m;
    if (!has_wildcard(from)) {
      if (to != from) m.literal = to;
    } else if (has_wildcard(to) && to != from) {
      auto t = make_subject_transform(from, number_wildcards(to));
      if (t) m.transform = std::move(*t);
    } else if (!has_wildcard(to)) {
      m.literal = to;
    }
    return m;
  }
  [[nodiscard]] std::string apply(std::string_view subject) const {
    if (transform) {
      if (auto s = transform->apply(subject)) return *s;
    }
    return literal.empty() ? std::string(subject) : literal;
  }
};

// A stream import: a subscription in the exporter; its messages go to the importer's own
// local subscribers under the mapped subject.
class StreamImportSink final : public MessageSink {
 public:
  StreamImportSink(Account& importer, SubjectMap map) : importer_(importer), map_(std::move(map)) {}

  bool deliver(Subscription&, const Delivery& msg) override {
    DepthGuard depth;
    if (!depth.ok) return false;
    const std::string subject = map_.apply(msg.subject);
    Delivery d = msg;
    d.subject = subject;
    d.shown_subject = {};
    d.account = importer_.name();
    return route_imported(importer_.sublist(), d, true);
  }

 private:
  Account& importer_;
  SubjectMap map_;
};

// "Nats-Request-Info" as nats-server 2.9 adds it to a request crossing a service import from a
// client: the requester's account and its RTT (omitted while unmeasured, as Go's omitempty
// does for zero), or, for a shared import, the requester in full (`shared`). A request that
// already carries one (a chain of imports) keeps it.
std::string with_request_info(const Delivery& msg, std::string_view account, const ClientInfo* shared) {
  std::string line;
  if (shared != nullptr) {
    JsonWriter w;
    write_client_info(w, *shared);
    line = "Nats-Request-Info: " + w.take() + "\r\n";
  } else {
    line = "Nats-Request-Info: {\"acc\":\"" + std::string(account) + "\"";
    if (msg.sender != nullptr) {
      if (const auto rtt = msg.sender->rtt(); rtt.count() > 0) line += ",\"rtt\":" + std::to_string(rtt.count());
    }
    line += "}\r\n";
  }
  std::string out;
  if (msg.header_size < 0) {
    out.reserve(12 + line.size() + msg.payload.size());
    out.append("NATS/1.0\r\n").append(line).append("\r\n").append(msg.payload);
    return out;
  }
  const std::string_view headers = msg.payload.substr(0, static_cast<std::size_t>(msg.header_size));
  if (headers.find("Nats-Request-Info:") != std::string_view::npos || headers.size() < 2) return std::string(msg.payload);
  out.reserve(msg.payload.size() + line.size());
  out.append(headers.substr(0, headers.size() - 2)).append(line).append("\r\n");
  out.append(msg.payload.substr(static_cast<std::size_t>(msg.header_size)));
  return out;
}

// A service import: a subscription in the importer on the import's subject; a request goes
// to the exporter with a reply subject of the exporter's response map.
class ServiceImportSink final : public MessageSink {
 public:
  ServiceImportSink(Account& importer, Account& exporter, std::shared_ptr<ResponseMap> responses, SubjectMap map,
                    const ServiceExport& exp, bool share)
      : importer_(importer),
        exporter_(exporter),
        responses_(std::move(responses)),
        map_(std::move(map)),
        type_(exp.response_type),
        threshold_(exp.threshold()),
        latency_(exp.latency),
        share_(share) {}

  bool deliver(Subscription&, const Delivery& msg) override {
    // Only where the request was published (nats-server checks service imports on a client's
    // inbound message, never on a routed one): the other servers would forward it again.
    if (msg.origin == MessageOrigin::route) return false;
    DepthGuard depth;
    if (!depth.ok) return false;
    const std::string subject = map_.apply(msg.subject);
    // A shared import names the requester in full, in the request's header and in its latency
    // report (nats-server's getClientInfo(share)).
    std::optional<ClientInfo> shared;
    if (share_ && msg.sender != nullptr) {
      shared = responder_info(msg.sender->snapshot(false), responses_->server());
      shared->rtt = msg.sender->rtt();
    }
    std::unique_ptr<LatencyTracking> tracking = sample(msg, shared);
    std::string reply;
    if (!msg.reply.empty()) {
      reply = responses_->add(importer_, msg.reply, type_, threshold_, std::move(tracking));
    } else if (tracking) {
      // Nobody can answer a request without a reply subject.
      responses_->publish_report(*tracking, failed_report(400, tracking->requestor, tracking->forwarded_at,
                                                          std::move(tracking->headers)));
    }
    const std::string payload = with_request_info(msg, importer_.name(), shared ? &*shared : nullptr);
    const auto header_size = static_cast<int64_t>(payload.find("\r\n\r\n") + 4);
    // The requester stays the sender, so a chain of imports reports (and measures) it too.
    const Delivery d{subject, reply, header_size, payload, exporter_.name(), MessageOrigin::local, {}, msg.sender};
    const bool delivered = route_imported(exporter_.sublist(), d, false);
    if (!delivered && !reply.empty()) responses_->remove_undelivered(reply);
    return delivered;
  }

 private:
  // A sampled request's tracking (null when the export does not track or the dice said no).
  std::unique_ptr<LatencyTracking> sample(const Delivery& msg, const std::optional<ClientInfo>& shared) const {
    if (!latency_) return nullptr;
    const std::string_view headers =
        msg.header_size > 0 ? msg.payload.substr(0, static_cast<std::size_t>(msg.header_size)) : std::string_view{};
    SampleDecision decision = should_sample(*latency_, headers);
    if (!decision.sample) return nullptr;
    auto t = std::make_unique<LatencyTracking>();
    t->subject = latency_->subject;
    if (shared) {
      t->requestor = *shared;
    } else if (msg.sender != nullptr) {
      // Without `share` nats-server reports a requester's account and RTT only (no snapshot needed).
      ClientInfo requestor;
      requestor.account = importer_.name();
      requestor.rtt = msg.sender->rtt();
      t->requestor = std::move(requestor);
    }
    t->headers = std::move(decision.headers);
    t->forwarded_at = std::chrono::system_clock::now();
    t->forwarded_steady = std::chrono::steady_clock::now();
    return t;
  }

 private:
  Account& importer_;
  Account& exporter_;
  std::shared_ptr<ResponseMap> responses_;
  SubjectMap map_;
  ResponseType type_;
  Duration threshold_;
  std::optional<ServiceLatencyConfig> latency_;
  bool share_;  // the import's `share`: reports name the requester in full
};

SubPtr make_sub(std::shared_ptr<MessageSink> sink, const std::string& subject, bool node_local) {
  auto sub = std::make_shared<Subscription>();
  sub->sink = std::move(sink);
  sub->subject = subject;
  sub->sid = "import";
  sub->node_local = node_local;
  sub->import_sink = true;
  return sub;
}

template <typename Export>
const Export* find_export(const std::vector<Export>& exports, const std::string& subject) {
  for (const Export& e : exports) {
    if (e.subject == subject) return &e;
  }
  for (const Export& e : exports) {
    if (subject_is_subset(subject, e.subject)) return &e;
  }
  return nullptr;
}

}  // namespace

ResponseMap::ResponseMap(Account& exporter, LatencyServer server)
    : exporter_(exporter), server_(std::move(server)), prefix_("_R_." + random_token(6) + ".") {}

std::string ResponseMap::add(Account& importer, std::string_view reply, ResponseType type, Duration threshold,
                             std::unique_ptr<LatencyTracking> tracking) {
  const auto now = Clock::now();
  Failed failed;
  std::string subject;
  {
    std::lock_guard lock(mu_);
    sweep_locked(now, failed);
    const auto deadline = now + std::chrono::duration_cast<Clock::duration>(threshold);
    // nats-server measures singleton services only (its config refuses latency on the others).
    if (type != ResponseType::singleton) tracking.reset();
    for (;;) {
      subject = prefix_ + random_token(6);
      if (!entries_.contains(subject)) break;
    }
    entries_.emplace(subject, Entry{&importer, std::string(reply), type, deadline, std::move(tracking)});
    importer.add_owed_replies(1);
  }
  report_failed(failed);
  return subject;
}

void ResponseMap::remove_undelivered(const std::string& subject) {
  Failed failed;
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(subject); it != entries_.end()) erase_locked(it, 503, failed);
  }
  report_failed(failed);
}

void ResponseMap::erase_locked(std::unordered_map<std::string, Entry>::iterator it, int status, Failed& failed) {
  it->second.importer->add_owed_replies(-1);
  if (it->second.tracking && status != 0) failed.emplace_back(status, std::move(it->second.tracking));
  entries_.erase(it);
}

void ResponseMap::report_failed(Failed& failed) {
  for (auto& [status, t] : failed) {
    publish_report(*t, failed_report(status, t->requestor, t->forwarded_at, std::move(t->headers)));
  }
  failed.clear();
}

void ResponseMap::publish_report(const LatencyTracking& t, const LatencyReport& report) {
  const std::string json = latency_json(report, std::chrono::system_clock::now());
  const Delivery d{t.subject, {}, -1, json, exporter_.name(), MessageOrigin::local, {}};
  (void)route_imported(exporter_.sublist(), d, false);
}

void ResponseMap::forget(Account& importer, std::string_view subject) {
  // The replies to `subject` (a requester's inbox, maybe a wildcard one) whose last
  // subscriber in the importer is gone lead nowhere any more (nats-server's
  // checkForReverseEntry on unsubscribe).
  std::vector<std::pair<std::string, std::string>> candidates;  // (_R_ subject, reply)
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, e] : entries_) {
      if (e.importer == &importer && subject_matches(subject, e.reply)) candidates.emplace_back(key, e.reply);
    }
  }
  Failed failed;
  for (const auto& [key, reply] : candidates) {
    const MatchResultPtr interest = importer.sublist().match(reply);
    if (!interest->plain.empty() || !interest->queues.empty()) continue;
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end()) erase_locked(it, 408, failed);
  }
  report_failed(failed);
}

void ResponseMap::expire() {
  Failed failed;
  {
    std::lock_guard lock(mu_);
    sweep_locked(Clock::now(), failed);
  }
  report_failed(failed);
}

std::size_t ResponseMap::pending() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void ResponseMap::sweep_locked(Clock::time_point now, Failed& failed) {
  // At most once a second: expired entries go (their reply subjects lead nowhere from then on).
  if (now < next_sweep_) return;
  next_sweep_ = now + std::chrono::seconds(1);
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.deadline <= now) erase_locked(it, 504, failed);
    it = next;
  }
}

bool ResponseMap::deliver(Subscription&, const Delivery& msg) {
  DepthGuard depth;
  if (!depth.ok) return false;
  Account* importer = nullptr;
  std::string reply;
  std::unique_ptr<LatencyTracking> tracking;
  Failed failed;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(std::string(msg.subject));
    if (it == entries_.end()) return false;
    if (it->second.deadline <= Clock::now()) {
      erase_locked(it, 504, failed);
    } else {
      importer = it->second.importer;
      reply = it->second.reply;
      if (it->second.type == ResponseType::singleton) {
        tracking = std::move(it->second.tracking);
        erase_locked(it, 0, failed);
      }
    }
  }
  if (importer == nullptr) {
    report_failed(failed);
    return false;
  }
  if (tracking) {
    // The responder as nats-server reports it: every detail of a client of this server; a
    // response from a route has none (nats-server would merge the responder's server's own
    // measurement, which forest-server does not exchange).
    std::optional<ClientInfo> responder;
    if (msg.sender != nullptr) responder = responder_info(msg.sender->snapshot(false), server_);
    const auto service_rtt = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - tracking->forwarded_steady);
    publish_report(*tracking, measured_report(tracking->requestor, std::move(responder), tracking->forwarded_at,
                                              service_rtt, std::move(tracking->headers)));
  }
  Delivery d = msg;
  d.subject = reply;
  d.shown_subject = {};
  d.account = importer->name();
  d.origin = MessageOrigin::local;
  return route_imported(importer->sublist(), d, false);
}

// Nothing to unsubscribe at the end: the accounts' indexes, which hold the sinks, go with the
// server (after its threads and routes have stopped).
Imports::~Imports() = default;

std::shared_ptr<ResponseMap> Imports::responses_for(Account& exporter) {
  std::lock_guard lock(mu_);
  auto& map = responses_[exporter.name()];
  if (!map) {
    map = std::make_shared<ResponseMap>(exporter, server_);
    SubPtr sub = make_sub(map, map->prefix() + ">", false);
    if (exporter.subscribe(sub)) response_subs_.push_back({&exporter, std::move(sub)});
  }
  return map;
}

Imports::Imports(std::function<Account*(std::string_view)> find, const std::vector<Account*>& accounts,
                 LatencyServer server)
    : find_(std::move(find)), server_(std::move(server)) {
  for (Account* a : accounts) a->set_subscription_watcher(this);
}

void Imports::subscription_gone(Account& account, std::string_view subject) {
  std::vector<std::shared_ptr<ResponseMap>> maps;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, map] : responses_) maps.push_back(map);
  }
  for (const auto& map : maps) map->forget(account, subject);
}

void Imports::clear() {
  for (const Installed& i : installed_) i.account->unsubscribe(i.sub);
  installed_.clear();
}

std::vector<AccountConfig> Imports::applied() const {
  std::lock_guard lock(mu_);
  return applied_;
}

void Imports::apply(const std::vector<AccountConfig>& accounts) {
  clear();
  {
    std::lock_guard lock(mu_);
    applied_ = accounts;
  }
  auto config_of = [&](const std::string& name) -> const AccountConfig* {
    for (const AccountConfig& a : accounts) {
      if (a.name == name) return &a;
    }
    return nullptr;
  };
  for (const AccountConfig& a : accounts) {
    Account* importer = find_(a.name);
    if (importer == nullptr) continue;
    for (const StreamImport& i : a.stream_imports) {
      Account* exporter = find_(i.account);
      if (exporter == nullptr) continue;
      auto sink = std::make_shared<StreamImportSink>(*importer, SubjectMap::make(i.subject, i.to));
      SubPtr sub = make_sub(std::move(sink), i.subject, false);
      if (exporter->subscribe(sub)) installed_.push_back({exporter, std::move(sub)});
    }
    for (const ServiceImport& i : a.service_imports) {
      Account* exporter = find_(i.account);
      const AccountConfig* ec = config_of(i.account);
      if (exporter == nullptr || ec == nullptr) continue;
      const ServiceExport* e = find_export(ec->service_exports, i.subject);
      auto sink = std::make_shared<ServiceImportSink>(*importer, *exporter, responses_for(*exporter),
                                                      SubjectMap::make(i.to, i.subject), e ? *e : ServiceExport{}, i.share);
      SubPtr sub = make_sub(std::move(sink), i.to, true);
      if (importer->subscribe(sub)) installed_.push_back({importer, std::move(sub)});
    }
  }
}

void Imports::expire_responses() {
  std::vector<std::shared_ptr<ResponseMap>> maps;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, map] : responses_) maps.push_back(map);
  }
  for (const auto& map : maps) map->expire();
}

std::size_t Imports::pending_responses(const std::string& exporter) const {
  std::lock_guard lock(mu_);
  auto it = responses_.find(exporter);
  return it == responses_.end() ? 0 : it->second->pending();
}

}  // namespace forest::broker
