// The service's side of /jsz: nats-server 2.9.10's JSInfo (Jsz and accountDetail in
// monitor.go) for a single server with JetStream in the global account. The monitor thread
// asks; the numbers are read on the service thread (which owns the stores) into a snapshot,
// and the JSON is written back on the monitor thread, so the service thread only copies.
#include <sys/sysinfo.h>
#include <sys/vfs.h>

#include <future>

#include "../cluster.hpp"
#include "../json_writer.hpp"
#include "../server.hpp"
#include "../time_text.hpp"
#include "service.hpp"
#include "stream_json.hpp"

namespace forest::broker::js {
namespace {

constexpr int64_t kDefaultAccountLimit = 1024;          // Jsz's default opts.Limit
constexpr int64_t kMaxMemoryFallback = 256LL << 20;      // JetStreamMaxMemDefault
constexpr int64_t kMaxStoreFallback = 1LL << 40;         // JetStreamMaxStoreDefault (1 TB)
// The global account's limits are nats-server's dynamic ones (-1 each); /jsz writes the
// reservation as uint64(-1).
constexpr uint64_t kNoReservation = ~uint64_t{0};
constexpr std::string_view kGlobalAccount = "$G";

// nats-server's diskAvailable: 75% of what the store's file system has free for us.
int64_t disk_available(const std::string& dir) {
  struct statfs fs {};
  if (::statfs(dir.c_str(), &fs) != 0) return kMaxStoreFallback;
  return static_cast<int64_t>(static_cast<uint64_t>(fs.f_bavail) * static_cast<uint64_t>(fs.f_bsize) / 4 * 3);
}

// nats-server's sysmem.Memory, of which it takes 75%.
int64_t max_memory_default() {
  struct sysinfo si {};
  if (::sysinfo(&si) != 0) return kMaxMemoryFallback;
  const auto total = static_cast<int64_t>(si.totalram) * static_cast<int64_t>(si.mem_unit);
  return total > 0 ? total / 4 * 3 : kMaxMemoryFallback;
}

struct StreamSnapshot {
  std::string name;
  int64_t created_ns = 0;
  std::optional<StreamConfig> config;  // only with ?config
  storage::StreamState state;
  std::vector<std::string> consumers;  // ?consumers: each consumer's info JSON object
  std::string sources;  // `"mirror":{..}` or `"sources":[..]` as in STREAM.INFO, or empty
};

// What the service thread copies out for one /jsz answer.
struct JszSnapshot {
  bool running = false;
  JszConfig config;
  uint64_t api_total = 0, api_errors = 0;
  uint64_t memory = 0, storage = 0;
  uint64_t streams = 0, consumers = 0, messages = 0, bytes = 0;
  std::vector<StreamSnapshot> details;  // only with ?streams
};

void write_api(JsonWriter& w, const JszSnapshot& s) {
  w.key("api").begin_object().field("total", s.api_total).field("errors", s.api_errors).end_object();
}

// nats-server's AccountDetail of the global account, with the streams of the snapshot.
void write_account_detail(JsonWriter& w, const JszSnapshot& s, Server& server) {
  w.begin_object();
  w.field("name", kGlobalAccount).field("id", kGlobalAccount);
  w.field("memory", s.memory).field("storage", s.storage);
  w.field("reserved_memory", kNoReservation).field("reserved_storage", kNoReservation);
  w.field("accounts", 0).field("ha_assets", 0);
  write_api(w, s);
  if (!s.details.empty()) {
    // A stream of a server that is not clustered has this server as its leader.
    Cluster* cluster = server.cluster();
    const std::string cluster_name = cluster != nullptr ? cluster->name() : std::string();
    const std::string leader = server.server_name();
    w.key("stream_detail").begin_array();
    for (const StreamSnapshot& d : s.details) {
      w.begin_object();
      w.field("name", d.name).field("created", rfc3339_from_unix_ns(d.created_ns));
      w.key("cluster").begin_object();
      if (!cluster_name.empty()) w.field("name", cluster_name);
      w.field("leader", leader).end_object();
      if (d.config) {
        w.key("config");
        write_stream_config(w, *d.config);
      }
      w.key("state");
      write_stream_state(w, d.state, nullptr);
      if (!d.consumers.empty()) {
        w.key("consumer_detail").begin_array();
        for (const std::string& c : d.consumers) w.raw(c);
        w.end_array();
      }
      if (!d.sources.empty()) w.raw(d.sources);  // one member: "mirror" or "sources"
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
}

}  // namespace

JszConfig jsz_config(const Options& o, const StorePaths& paths) {
  const JetStreamOptions& js = o.jetstream;
  JszConfig c;
  c.store_dir = paths.root;
  c.domain = js.domain;
  if (js.max_memory > 0 && js.max_store > 0) {
    c.max_memory = js.max_memory;
    c.max_store = js.max_store;
    c.compress_ok = true;
  } else {
    // nats-server's dynamic configuration: what is not given (or negative) is estimated.
    c.max_store = js.max_store >= 0 ? js.max_store : disk_available(paths.root);
    c.max_memory = js.max_memory >= 0 ? js.max_memory : max_memory_default();
  }
  return c;
}

std::expected<std::string, JszError> JetStreamService::jsz(const JszOptions& options, std::chrono::milliseconds timeout) {
  const std::string now = rfc3339(std::chrono::system_clock::now());
  JszOptions o = options;
  if (o.limit == 0) o.limit = kDefaultAccountLimit;
  if (!o.account_detail) {  // Jsz's implications; JszAccount has none
    if (o.consumers) o.streams = true;
    if (o.streams) o.accounts = true;
  }
  // Our one JetStream account gets details when asked for by name, or listed from an offset
  // of 0 with room for it. (nats-server's handler panics on a negative offset or limit: here a
  // negative offset counts as 0 and a negative limit lists nothing.)
  const bool detail = o.account == kGlobalAccount || (o.accounts && o.offset <= 0 && o.limit > 0);
  const bool with_streams = detail && o.streams;
  const bool with_config = with_streams && o.config;

  auto done = std::make_shared<std::promise<JszSnapshot>>();
  auto answer = done->get_future();
  // The promise is shared: after a timeout the snapshot is still taken, and dropped.
  const bool with_consumers = with_streams && o.consumers;
  auto take = [this, done, with_streams, with_config, with_consumers] {
    JszSnapshot s;
    s.running = running_;
    if (running_) {
      s.config = jsz_config_;
      s.api_total = api_total_;
      s.api_errors = api_errors_;
      s.streams = streams_.size();
      for (auto& [name, stream] : streams_) {  // (consumer info expires waiting pull requests)
        auto st = state_of(stream);
        if (!st) continue;
        (stream.config.storage == Storage::memory ? s.memory : s.storage) += st->bytes;
        s.messages += st->msgs;
        s.bytes += st->bytes;
        s.consumers += st->consumer_count;
        if (!with_streams) continue;
        StreamSnapshot d{name, stream.created_ns, std::nullopt, std::move(*st), {}, {}};
        if (with_config) d.config = stream.config;
        if (!stream.sources.empty()) {
          // StreamDetail's mirror / sources, as written for STREAM.INFO.
          JsonWriter sw;
          sw.begin_object();
          if (stream.sources.front().mirror) {
            sw.key("mirror");
            write_source_info(sw, stream, stream.sources.front());
          } else {
            sw.key("sources").begin_array();
            for (const SourceCursor& cur : stream.sources) write_source_info(sw, stream, cur);
            sw.end_array();
          }
          sw.end_object();
          std::string obj = sw.take();
          d.sources = obj.substr(1, obj.size() - 2);  // the member, without the braces
        }
        if (with_consumers) {
          // As nats-server's consumer info (no cluster on a single server), config only with ?config.
          for (auto& [cname, c] : stream.consumers) {
            JsonWriter cw;
            cw.begin_object();
            write_consumer_info(cw, stream, *c, with_config);
            cw.end_object();
            d.consumers.push_back(cw.take());
          }
        }
        s.details.push_back(std::move(d));
      }
    }
    done->set_value(std::move(s));
  };
  // A system account request runs on the service thread: waiting there for a post would
  // wait for itself.
  if (server_.service_thread().context().get_executor().running_in_this_thread()) {
    take();
  } else {
    asio::post(server_.service_thread().context(), std::move(take));
  }
  if (answer.wait_for(timeout) != std::future_status::ready) {
    return std::unexpected(JszError{503, "JetStream did not answer within " + format_go_duration(timeout)});
  }
  const JszSnapshot s = answer.get();
  if (!s.running) return std::unexpected(JszError{503, "JetStream not enabled (10076)"});

  JsonWriter w;
  if (o.account_detail) {
    write_account_detail(w, s, server_);
    return w.take();
  }
  w.begin_object();
  w.field("server_id", server_.server_id());
  w.field("now", now);
  w.key("config").begin_object();
  w.field("max_memory", s.config.max_memory).field("max_storage", s.config.max_store);
  if (!s.config.store_dir.empty()) w.field("store_dir", s.config.store_dir);
  if (!s.config.domain.empty()) w.field("domain", s.config.domain);
  if (s.config.compress_ok) w.field("compress_ok", true);
  w.end_object();
  // Reservations count only positive account limits; the global account has none.
  w.field("memory", s.memory).field("storage", s.storage).field("reserved_memory", 0).field("reserved_storage", 0);
  w.field("accounts", 1).field("ha_assets", 0);
  write_api(w, s);
  w.field("streams", s.streams).field("consumers", s.consumers).field("messages", s.messages).field("bytes", s.bytes);
  if (detail) {
    w.key("account_details").begin_array();
    write_account_detail(w, s, server_);
    w.end_array();
  }
  w.end_object();
  return w.take();
}


}  // namespace forest::broker::js
