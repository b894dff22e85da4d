// JetStream workloads: js-pub (sync: one publish in flight; async: a window of them), js-consume
// (pull with batch fetch and explicit acks, or push with flow control), kv (put then get).
// They speak the $JS.API subjects real clients use, so they run against any JetStream server.
#include <simdjson.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "workloads.hpp"

namespace forest::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kReplyTimeout = std::chrono::seconds(5);

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

std::string pub_line(std::string_view subject, std::string_view reply, std::string_view payload) {
  std::string out = "PUB ";
  out.append(subject);
  if (!reply.empty()) out.append(" ").append(reply);
  out.append(" ").append(std::to_string(payload.size())).append("\r\n");
  out.append(payload).append("\r\n");
  return out;
}

// The JSON error of a $JS.API reply, or "" when there is none.
std::string api_error(std::string_view json) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return "unparsable reply: " + std::string(json);
  simdjson::dom::element err;
  if (doc["error"].get(err) != simdjson::SUCCESS) return "";
  std::string_view desc = "?";
  int64_t code = 0;
  if (err["description"].get(desc) != simdjson::SUCCESS) desc = "?";
  if (err["err_code"].get(code) != simdjson::SUCCESS) code = 0;
  return std::string(desc) + " (err_code " + std::to_string(code) + ")";
}

// A request over the connection's own inbox; returns the reply payload (headers stripped).
class Requester {
 public:
  Requester(BenchConn& conn, std::string inbox) : conn_(conn), inbox_(std::move(inbox)) {
    conn_.send("SUB " + inbox_ + " 9999\r\n");
    conn_.flush();
  }
  // Messages other than the reply that arrive meanwhile go to `others` (a push consumer's
  // first deliveries can share a read with its create reply).
  std::string request(std::string_view subject, std::string_view payload, const BenchConn::MsgFn* others = nullptr) {
    conn_.send(pub_line(subject, inbox_, payload));
    std::string reply;
    bool got = false;
    const BenchConn::MsgFn fn = [&](const protocol::MessageArgs& a, std::string_view p) {
      if (a.subject != inbox_ || got) {
        if (others != nullptr && *others) (*others)(a, p);
        return;
      }
      reply.assign(a.header_size > 0 ? p.substr(static_cast<std::size_t>(a.header_size)) : p);
      got = true;
    };
    const auto deadline = Clock::now() + kReplyTimeout;
    while (!got && Clock::now() < deadline) {
      if (!conn_.read_once(fn, 100)) throw std::runtime_error("connection closed during a request to " + std::string(subject));
    }
    if (!got) throw std::runtime_error("no reply from " + std::string(subject));
    return reply;
  }

 private:
  BenchConn& conn_;
  std::string inbox_;
};

void create_stream(Requester& req, const std::string& name, const std::string& config_json) {
  (void)req.request("$JS.API.STREAM.DELETE." + name, "");
  const std::string reply = req.request("$JS.API.STREAM.CREATE." + name, config_json);
  if (const std::string e = api_error(reply); !e.empty()) throw std::runtime_error("stream create: " + e);
}

std::string stream_config(const std::string& name, const std::string& subjects_json, const std::string& extra = "") {
  return R"({"name":")" + name + R"(","subjects":)" + subjects_json +
         R"(,"retention":"limits","storage":"file","num_replicas":1,"discard":"old","max_msgs":-1,"max_bytes":-1,"max_age":0)" +
         extra + "}";
}

// Publishes `count` messages with acks, keeping up to `window` in flight; verifies every ack.
// Returns the number acknowledged; fills `latency` with publish-to-ack times.
uint64_t publish_with_acks(BenchConn& conn, const std::string& subject, uint64_t count, std::size_t size, uint64_t window,
                           Histogram& latency, uint64_t& errors, std::string& first_error) {
  const std::string inbox = "_INBOX.jsbench.acks";
  conn.send("SUB " + inbox + " 4242\r\n");
  conn.flush();
  std::string payload(size, 'x');
  std::vector<uint64_t> sent_at(count, 0);
  uint64_t sent = 0, acked = 0, last_seq = 0;
  const BenchConn::MsgFn on_ack = [&](const protocol::MessageArgs& a, std::string_view p) {
    if (a.subject != inbox) return;
    if (acked < count) latency.record(now_ns() - sent_at[acked]);
    ++acked;
    if (const std::string e = api_error(p); !e.empty()) {
      if (errors++ == 0) first_error = e;
      return;
    }
    // Acks of one stream come back in order with consecutive sequences.
    const auto at = p.find("\"seq\":");
    const uint64_t seq = at == std::string_view::npos ? 0 : std::strtoull(std::string(p.substr(at + 6, 20)).c_str(), nullptr, 10);
    if (seq != last_seq + 1 && errors++ == 0) first_error = "ack sequence " + std::to_string(seq) + " after " + std::to_string(last_seq);
    last_seq = seq;
  };
  std::string batch;
  const auto stall_deadline = [&] { return Clock::now() + kReplyTimeout; };
  auto deadline = stall_deadline();
  while (acked < count) {
    batch.clear();
    while (sent < count && sent - acked < window) {
      if (size >= 8) {
        const auto seq32 = static_cast<uint32_t>(sent);
        std::memset(payload.data(), 0, 4);
        std::memcpy(payload.data() + 4, &seq32, 4);
      }
      sent_at[sent] = now_ns();
      batch += pub_line(subject, inbox, payload);
      ++sent;
    }
    if (!batch.empty()) conn.send(batch);
    const uint64_t before = acked;
    if (!conn.read_once(on_ack, 100)) throw std::runtime_error("connection closed while waiting for acks");
    if (acked != before) deadline = stall_deadline();
    if (Clock::now() > deadline) throw std::runtime_error("no ack for 5s after " + std::to_string(acked) + " acks");
  }
  return acked;
}

WorkloadResult js_pub(const WorkloadSpec& spec, const Endpoint& ep) {
  WorkloadResult r;
  r.name = spec.name();
  r.mode = spec.mode;
  asio::io_context ctx;
  BenchConn conn(ctx, ep, "bench-js-pub");
  Requester req(conn, "_INBOX.jsbench.api");
  create_stream(req, "BENCH", stream_config("BENCH", R"(["bench.js"])"));
  Histogram latency;
  uint64_t errors = 0;
  std::string first_error;
  const auto start = Clock::now();
  r.received = publish_with_acks(conn, "bench.js", spec.msgs, spec.size, std::max<uint64_t>(1, spec.window), latency, errors,
                                 first_error);
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  r.sent = r.expected = spec.msgs;
  r.counted_msgs = r.received;
  r.msgs_per_s = r.elapsed_s > 0 ? static_cast<double>(r.received) / r.elapsed_s : 0;
  r.latency = latency;
  // The stream must hold exactly what was acknowledged.
  simdjson::dom::parser p;
  simdjson::dom::element info;
  uint64_t stored = 0;
  const std::string info_json = req.request("$JS.API.STREAM.INFO.BENCH", "");
  if (p.parse(info_json).get(info) == simdjson::SUCCESS && info["state"]["messages"].get(stored) != simdjson::SUCCESS) {
    stored = 0;
  }
  r.lost = r.expected > stored ? r.expected - stored : 0;
  r.duplicated = stored > r.expected ? stored - r.expected : 0;
  r.ok = errors == 0 && r.lost == 0 && r.duplicated == 0;
  if (!r.ok) r.error = errors > 0 ? first_error : "stream holds " + std::to_string(stored) + " of " + std::to_string(r.expected);
  (void)req.request("$JS.API.STREAM.DELETE.BENCH", "");
  return r;
}

WorkloadResult js_consume(const WorkloadSpec& spec, const Endpoint& ep) {
  WorkloadResult r;
  r.name = spec.name();
  r.mode = spec.mode;
  asio::io_context ctx;
  BenchConn conn(ctx, ep, "bench-js-consume");
  Requester req(conn, "_INBOX.jsbench.api");
  create_stream(req, "BENCHC", stream_config("BENCHC", R"(["bench.jsc"])"));
  {
    // Fill the stream first (not measured).
    Histogram ignored;
    uint64_t errors = 0;
    std::string first_error;
    publish_with_acks(conn, "bench.jsc", spec.msgs, spec.size, 256, ignored, errors, first_error);
    if (errors > 0) throw std::runtime_error("filling the stream: " + first_error);
  }
  const bool push = spec.consumer == "push";
  const std::string deliver = "bench.jsc.deliver";
  std::string config = R"({"stream_name":"BENCHC","config":{"durable_name":"C","ack_policy":"explicit","deliver_policy":"all","max_ack_pending":)" +
                       std::to_string(std::max<uint64_t>(spec.batch * 4, 1024));
  if (push) config += R"(,"deliver_subject":")" + deliver + R"(","flow_control":true,"idle_heartbeat":1000000000)";
  config += "}}";
  if (push) {
    conn.send("SUB " + deliver + " 77\r\n");
    conn.flush();
  }

  const std::string inbox = "_INBOX.jsbench.fetch";
  if (!push) {
    conn.send("SUB " + inbox + " 88\r\n");
    conn.flush();
  }
  std::vector<uint64_t> seen((spec.msgs + 63) / 64 + 1, 0);
  uint64_t received = 0, duplicated = 0, reordered = 0, in_batch = 0;
  int64_t last = -1;
  std::string acks;
  const BenchConn::MsgFn on_msg = [&](const protocol::MessageArgs& a, std::string_view p) {
    if (a.header_size >= 0 && static_cast<std::size_t>(a.header_size) == p.size()) {
      // Status messages: flow control must be answered; heartbeats and fetch ends are not data.
      if (p.find("FlowControl") != std::string_view::npos && !a.reply.empty()) acks += pub_line(a.reply, "", "");
      if (p.find(" 404") != std::string_view::npos || p.find(" 408") != std::string_view::npos) in_batch = spec.batch;
      return;
    }
    std::string_view body = a.header_size > 0 ? p.substr(static_cast<std::size_t>(a.header_size)) : p;
    if (body.size() >= 8) {
      uint32_t seq = 0;
      std::memcpy(&seq, body.data() + 4, 4);
      if (seq / 64 < seen.size() && (seen[seq / 64] & (1ull << (seq % 64))) != 0) {
        ++duplicated;
      } else if (seq / 64 < seen.size()) {
        seen[seq / 64] |= 1ull << (seq % 64);
        if (static_cast<int64_t>(seq) < last) ++reordered;
        last = std::max<int64_t>(last, seq);
      }
    }
    ++received;
    ++in_batch;
    if (!a.reply.empty()) acks += pub_line(a.reply, "", "");  // explicit ack
  };
  const auto start = Clock::now();
  const std::string created = req.request("$JS.API.CONSUMER.DURABLE.CREATE.BENCHC.C", config, &on_msg);
  if (const std::string e = api_error(created); !e.empty()) throw std::runtime_error("consumer create: " + e);
  auto deadline = Clock::now() + kReplyTimeout;
  const std::string next = "$JS.API.CONSUMER.MSG.NEXT.BENCHC.C";
  const std::string fetch = R"({"batch":)" + std::to_string(spec.batch) + R"(,"expires":2000000000})";
  in_batch = spec.batch;
  while (received < spec.msgs) {
    if (!push && in_batch >= spec.batch) {
      conn.send(pub_line(next, inbox, fetch));
      in_batch = 0;
    }
    const uint64_t before = received;
    if (!conn.read_once(on_msg, 100)) throw std::runtime_error("connection closed while consuming");
    if (!acks.empty()) {
      conn.send(acks);
      acks.clear();
    }
    if (received != before) deadline = Clock::now() + kReplyTimeout;
    if (Clock::now() > deadline) break;
  }
  conn.flush(on_msg);
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  r.sent = r.expected = spec.msgs;
  r.received = received;
  r.duplicated = duplicated;
  r.reordered = reordered;
  r.lost = spec.msgs > received ? spec.msgs - received : 0;
  r.counted_msgs = received;
  r.msgs_per_s = r.elapsed_s > 0 ? static_cast<double>(received) / r.elapsed_s : 0;
  r.ok = r.lost == 0 && r.duplicated == 0 && r.reordered == 0;
  if (!r.ok) r.error = "lost " + std::to_string(r.lost) + ", duplicated " + std::to_string(duplicated) + ", reordered " + std::to_string(reordered);
  (void)req.request("$JS.API.STREAM.DELETE.BENCHC", "");
  return r;
}

WorkloadResult kv(const WorkloadSpec& spec, const Endpoint& ep) {
  WorkloadResult r;
  r.name = spec.name();
  r.mode = spec.mode;
  asio::io_context ctx;
  BenchConn conn(ctx, ep, "bench-kv");
  Requester req(conn, "_INBOX.jsbench.api");
  create_stream(req, "KV_bench",
                stream_config("KV_bench", R"(["$KV.bench.>"])",
                              R"(,"max_msgs_per_subject":1,"allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true)"));
  const uint64_t keys = std::max<uint64_t>(1, spec.subjects);
  std::string value(spec.size, 'v');
  Histogram latency;
  uint64_t errors = 0;
  std::string first_error;
  const auto start = Clock::now();
  // Puts: each key written msgs/keys times; one put in flight (as a KV client's put() does).
  for (uint64_t i = 0; i < spec.msgs; ++i) {
    const uint64_t t0 = now_ns();
    const std::string reply = req.request("$KV.bench.k" + std::to_string(i % keys), value);
    latency.record(now_ns() - t0);
    if (const std::string e = api_error(reply); !e.empty() && errors++ == 0) first_error = "put: " + e;
  }
  // Gets: the last value of each key, by direct get.
  uint64_t got = 0;
  for (uint64_t i = 0; i < spec.msgs; ++i) {
    const std::string key = "$KV.bench.k" + std::to_string(i % keys);
    const uint64_t t0 = now_ns();
    const std::string reply = req.request("$JS.API.DIRECT.GET.KV_bench", R"({"last_by_subj":")" + key + R"("})");
    latency.record(now_ns() - t0);
    if (reply == value) {
      ++got;
    } else if (errors++ == 0) {
      first_error = "get " + key + ": unexpected reply " + reply.substr(0, 80);
    }
  }
  r.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  r.sent = spec.msgs;
  r.expected = spec.msgs;
  r.received = got;
  r.lost = spec.msgs - got;
  r.counted_msgs = spec.msgs * 2;
  r.msgs_per_s = r.elapsed_s > 0 ? static_cast<double>(r.counted_msgs) / r.elapsed_s : 0;
  r.latency = latency;
  r.ok = errors == 0 && r.lost == 0;
  if (!r.ok) r.error = first_error;
  (void)req.request("$JS.API.STREAM.DELETE.KV_bench", "");
  return r;
}

}  // namespace

WorkloadResult run_js_workload(const WorkloadSpec& spec, const Endpoint& ep) {
  const double cpu0 = self_cpu_seconds();
  WorkloadResult r = spec.mode == "js-pub" ? js_pub(spec, ep) : (spec.mode == "js-consume" ? js_consume(spec, ep) : kv(spec, ep));
  r.client_cpu_s = self_cpu_seconds() - cpu0;
  return r;
}

}  // namespace forest::bench
