#include "workloads.hpp"

#include <nats/nats.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace forest::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStallTimeout = std::chrono::seconds(5);
constexpr std::size_t kBatchBytes = 64 * 1024;

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

}  // namespace

double self_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

namespace {

// Payload layout: [u32 publisher][u32 sequence][u64 scheduled send time ns] then filler.
void stamp(char* payload, std::size_t size, uint32_t publisher, uint32_t seq, uint64_t t) {
  if (size >= 8) {
    std::memcpy(payload, &publisher, 4);
    std::memcpy(payload + 4, &seq, 4);
  }
  if (size >= 16) std::memcpy(payload + 8, &t, 8);
}

// The bytes of the first n messages of a prebuilt batch (all its messages have one size).
std::size_t k_batch_end(const std::vector<std::size_t>& payload_offsets, uint64_t n, std::size_t total) {
  if (n >= payload_offsets.size()) return total;
  return static_cast<std::size_t>(n) * (total / payload_offsets.size());
}

// Per-subscriber bookkeeping of what arrived: a bit per (publisher, sequence).
class Tracker {
 public:
  Tracker(int publishers, uint64_t per_publisher, bool numbered)
      : numbered_(numbered), seen_(static_cast<std::size_t>(publishers)), last_(static_cast<std::size_t>(publishers), -1) {
    if (numbered_) {
      for (auto& s : seen_) s.assign((per_publisher + 63) / 64 + 1, 0);
    }
  }
  void on_message(std::string_view payload) {
    ++received_;
    if (!numbered_ || payload.size() < 8) return;
    uint32_t pub = 0, seq = 0;
    std::memcpy(&pub, payload.data(), 4);
    std::memcpy(&seq, payload.data() + 4, 4);
    if (pub >= seen_.size()) {
      ++duplicated_;  // not a message we sent: count as an anomaly
      return;
    }
    auto& bits = seen_[pub];
    const std::size_t word = seq / 64;
    if (word >= bits.size()) bits.resize(word + 1, 0);
    const uint64_t mask = 1ull << (seq % 64);
    if ((bits[word] & mask) != 0) {
      ++duplicated_;
      return;
    }
    bits[word] |= mask;
    if (static_cast<int64_t>(seq) < last_[pub]) ++reordered_;
    last_[pub] = std::max<int64_t>(last_[pub], seq);
  }
  [[nodiscard]] uint64_t received() const { return received_; }
  [[nodiscard]] uint64_t duplicated() const { return duplicated_; }
  [[nodiscard]] uint64_t reordered() const { return reordered_; }
  [[nodiscard]] bool numbered() const { return numbered_; }
  // Unique messages seen, optionally excluding those another tracker saw (queue groups).
  [[nodiscard]] const std::vector<std::vector<uint64_t>>& bits() const { return seen_; }

 private:
  bool numbered_;
  std::vector<std::vector<uint64_t>> seen_;
  std::vector<int64_t> last_;
  uint64_t received_ = 0, duplicated_ = 0, reordered_ = 0;
};

// Publishes `count` messages (or for `duration`) with optional pacing; returns the count sent.
// `subject_of(i)` gives the subject of message i; `fixed_subject` says it never changes, which
// lets the generator build its batch once and only patch sequence numbers afterwards (the
// generator must not be what limits the measurement).
template <typename SubjectFn>
uint64_t publish(BenchConn& conn, SubjectFn subject_of, bool fixed_subject, std::string_view reply, uint32_t publisher,
                 uint64_t count, double duration_s, double rate, std::size_t size, bool stamp_time) {
  std::string batch;
  batch.reserve(kBatchBytes + size + 256);
  std::string payload(size, 'x');
  const auto start = Clock::now();
  const auto end = duration_s > 0 ? start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration_s))
                                  : Clock::time_point::max();
  const double interval_ns = rate > 0 ? 1e9 / rate : 0;
  const uint64_t start_ns = now_ns();
  const std::string size_text = std::to_string(size);
  auto append_message = [&](std::string& out, uint64_t i) {
    out.append("PUB ");
    out.append(subject_of(i));
    out.push_back(' ');
    if (!reply.empty()) {
      out.append(reply);
      out.push_back(' ');
    }
    out.append(size_text);
    out.append("\r\n");
    const std::size_t at = out.size();
    out.append(payload);
    out.append("\r\n");
    return at;
  };

  // Unpaced, fixed subject: one prebuilt batch, sequence numbers patched in place.
  if (fixed_subject && interval_ns == 0 && !stamp_time) {
    std::vector<std::size_t> offsets;
    std::string templ;
    while (templ.size() < kBatchBytes) offsets.push_back(append_message(templ, 0));
    const uint64_t per_batch = offsets.size();
    uint64_t i = 0;
    for (;;) {
      if (duration_s > 0 && Clock::now() >= end) break;
      uint64_t n = per_batch;
      if (duration_s <= 0) {
        if (i >= count) break;
        n = std::min<uint64_t>(per_batch, count - i);
      }
      for (uint64_t k = 0; k < n; ++k) stamp(templ.data() + offsets[k], size, publisher, static_cast<uint32_t>(i + k), 0);
      const std::size_t bytes = k_batch_end(offsets, n, templ.size());
      conn.send(std::string_view(templ.data(), bytes));
      i += n;
    }
    return i;
  }

  uint64_t i = 0;
  for (;;) {
    if (duration_s <= 0 && i >= count) break;
    if (duration_s > 0 && (i & 0xff) == 0 && Clock::now() >= end) break;
    uint64_t scheduled = 0;
    if (interval_ns > 0) {
      scheduled = start_ns + static_cast<uint64_t>(static_cast<double>(i) * interval_ns);
      uint64_t now = now_ns();
      if (scheduled > now) {
        if (!batch.empty()) {
          conn.send(batch);
          batch.clear();
        }
        // Sleep for most of the wait, spin the last few microseconds: sending on schedule
        // matters for latency, and a spinning generator would steal CPU from the server.
        while ((now = now_ns()) < scheduled) {
          if (scheduled - now > 20'000) std::this_thread::sleep_for(std::chrono::nanoseconds(scheduled - now - 15'000));
        }
      }
    } else if (stamp_time) {
      scheduled = now_ns();
    }
    const std::size_t at = append_message(batch, i);
    stamp(batch.data() + at, size, publisher, static_cast<uint32_t>(i), scheduled);
    ++i;
    if (batch.size() >= kBatchBytes) {
      conn.send(batch);
      batch.clear();
    }
  }
  if (!batch.empty()) conn.send(batch);
  return i;
}

// The same publishing through libnats (buffered writes, its own flusher thread), so a run can
// show whether our lean generator drives a server at least as hard as the official client.
uint64_t publish_libnats(const Endpoint& ep, const std::string& subject, uint32_t publisher, uint64_t count,
                         double duration_s, std::size_t size) {
  static const bool opened = [] { return nats_Open(-1) == NATS_OK; }();
  if (!opened) throw std::runtime_error("libnats: nats_Open failed");
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  natsOptions_Create(&opts);
  const std::string url = "nats://" + ep.host + ":" + std::to_string(ep.port);
  natsOptions_SetURL(opts, url.c_str());
  const natsStatus st = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (st != NATS_OK) throw std::runtime_error(std::string("libnats connect: ") + natsStatus_GetText(st));
  std::string payload(size, 'x');
  const auto end = duration_s > 0 ? Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration_s))
                                  : Clock::time_point::max();
  uint64_t i = 0;
  for (; duration_s > 0 ? Clock::now() < end : i < count; ++i) {
    stamp(payload.data(), size, publisher, static_cast<uint32_t>(i), 0);
    if (natsConnection_Publish(nc, subject.c_str(), payload.data(), static_cast<int>(size)) != NATS_OK) {
      natsConnection_Destroy(nc);
      throw std::runtime_error("libnats publish failed");
    }
  }
  natsConnection_FlushTimeout(nc, 30000);
  natsConnection_Destroy(nc);
  return i;
}

struct SubscriberSide {
  std::unique_ptr<BenchConn> conn;
  std::unique_ptr<Tracker> tracker;
  Histogram latency;
  Clock::time_point last_message{};
};

// Subscribers read until they have what the publishers sent (plain: each its share; queue:
// the group together), or until nothing arrives for kStallTimeout after publishing ended.
void run_subscribers(std::vector<SubscriberSide>& subs, bool queue_group, const std::atomic<bool>& publishing_done,
                     const std::atomic<uint64_t>& total_sent, std::atomic<uint64_t>& group_received, bool measure_latency) {
  std::vector<std::thread> threads;
  for (auto& s : subs) {
    threads.emplace_back([&, side = &s] {
      const BenchConn::MsgFn fn = [&, side](const protocol::MessageArgs&, std::string_view payload) {
        side->tracker->on_message(payload);
        if (measure_latency && payload.size() >= 16) {
          uint64_t t = 0;
          std::memcpy(&t, payload.data() + 8, 8);
          const uint64_t now = now_ns();
          side->latency.record(now > t ? now - t : 0);
        }
        if (queue_group) group_received.fetch_add(1, std::memory_order_relaxed);
        side->last_message = Clock::now();
      };
      auto last_progress = Clock::now();
      uint64_t last_count = 0;
      for (;;) {
        const bool done = publishing_done.load();
        const uint64_t target = total_sent.load();
        const uint64_t have = queue_group ? group_received.load() : side->tracker->received();
        if (done && have >= target) break;
        if (!side->conn->read_once(fn, 100)) break;
        const uint64_t now_count = side->tracker->received();
        if (now_count != last_count) {
          last_count = now_count;
          last_progress = Clock::now();
        } else if (done && Clock::now() - last_progress > kStallTimeout) {
          break;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
}

WorkloadResult run_pub_sub_family(const WorkloadSpec& spec, const Placement& where) {
  WorkloadResult r;
  r.mode = spec.mode;
  r.name = spec.name();
  asio::io_context ctx;
  const bool many = spec.mode == "many-subjects";
  const bool queue = spec.mode == "queue";
  const int nsubs = spec.mode == "pub" ? 0 : (many ? 1 : std::max(1, spec.subs));
  const int npubs = spec.mode == "pub" || queue ? std::max(1, spec.pubs) : 1;
  const bool numbered = spec.size >= 8;
  const bool latency = spec.size >= 16 && spec.rate > 0;
  const uint64_t per_pub = spec.duration_s > 0 ? (1ull << 32) - 1 : spec.msgs / static_cast<uint64_t>(npubs);

  std::vector<std::string> subjects;
  if (many) {
    subjects.reserve(spec.subjects);
    for (uint64_t i = 0; i < spec.subjects; ++i) subjects.push_back("ms." + std::to_string(i));
  }

  std::vector<SubscriberSide> subs(static_cast<std::size_t>(nsubs));
  for (int i = 0; i < nsubs; ++i) {
    auto& s = subs[static_cast<std::size_t>(i)];
    const Endpoint& sub_ep = where.subscribers[static_cast<std::size_t>(i) % where.subscribers.size()];
    s.conn = std::make_unique<BenchConn>(ctx, sub_ep, "bench-sub-" + std::to_string(i));
    s.tracker = std::make_unique<Tracker>(npubs, spec.duration_s > 0 ? 1 << 20 : per_pub, numbered);
    if (many) {
      std::string subs_batch;
      for (uint64_t k = 0; k < spec.subjects; ++k) {
        subs_batch += "SUB " + subjects[k] + " " + std::to_string(k + 1) + "\r\n";
        if (subs_batch.size() > kBatchBytes) {
          s.conn->send(subs_batch);
          subs_batch.clear();
        }
      }
      s.conn->send(subs_batch);
    } else {
      s.conn->send(queue ? "SUB bench.q workers 1\r\n" : "SUB bench.s 1\r\n");
    }
    s.conn->flush();
  }
  const std::string subject = queue ? "bench.q" : "bench.s";
  if (nsubs > 0 && !many && where.ready) {
    if (std::string why = where.ready(subject); !why.empty()) {
      r.error = why;
      return r;
    }
  }
  const Endpoint& ep = where.publishers;
  std::vector<std::unique_ptr<BenchConn>> pubs;
  for (int i = 0; i < npubs; ++i) pubs.push_back(std::make_unique<BenchConn>(ctx, ep, "bench-pub-" + std::to_string(i)));

  std::atomic<bool> publishing_done{false};
  std::atomic<uint64_t> total_sent{0};
  std::atomic<uint64_t> group_received{0};
  const uint64_t planned = spec.duration_s > 0 ? UINT64_MAX : per_pub * static_cast<uint64_t>(npubs);
  total_sent.store(planned == UINT64_MAX ? UINT64_MAX : planned);

  const double cpu0 = self_cpu_seconds();
  const auto start = Clock::now();
  std::thread sub_runner;
  if (nsubs > 0) {
    sub_runner = std::thread([&] { run_subscribers(subs, queue, publishing_done, total_sent, group_received, latency); });
  }
  std::vector<std::thread> pub_threads;
  std::vector<uint64_t> sent(static_cast<std::size_t>(npubs), 0);
  std::string error;
  std::mutex error_mu;
  for (int i = 0; i < npubs; ++i) {
    pub_threads.emplace_back([&, i] {
      try {
        const double rate = spec.rate > 0 ? spec.rate / npubs : 0;
        if (spec.generator == "libnats") {
          sent[static_cast<std::size_t>(i)] =
              publish_libnats(ep, subject, static_cast<uint32_t>(i), per_pub, spec.duration_s, spec.size);
          return;
        }
        if (many) {
          sent[static_cast<std::size_t>(i)] =
              publish(*pubs[static_cast<std::size_t>(i)], [&](uint64_t k) -> std::string_view { return subjects[k % subjects.size()]; },
                      false, "", static_cast<uint32_t>(i), per_pub, spec.duration_s, rate, spec.size, latency);
        } else {
          sent[static_cast<std::size_t>(i)] =
              publish(*pubs[static_cast<std::size_t>(i)], [&](uint64_t) -> std::string_view { return subject; }, true, "",
                      static_cast<uint32_t>(i), per_pub, spec.duration_s, rate, spec.size, latency);
        }
        // A barrier: the server has processed everything this publisher sent.
        pubs[static_cast<std::size_t>(i)]->flush();
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mu);
        error = e.what();
      }
    });
  }
  for (auto& t : pub_threads) t.join();
  const auto published_at = Clock::now();
  uint64_t total = 0;
  for (uint64_t s : sent) total += s;
  r.sent = total;
  total_sent.store(total);
  publishing_done.store(true);
  if (sub_runner.joinable()) sub_runner.join();
  const double cpu1 = self_cpu_seconds();
  r.client_cpu_s = cpu1 - cpu0;

  Clock::time_point last = published_at;
  Histogram lat;
  for (auto& s : subs) {
    if (s.last_message > last) last = s.last_message;
    r.received += s.tracker->received();
    r.per_subscriber.push_back(s.tracker->received());
    r.duplicated += s.tracker->duplicated();
    r.reordered += s.tracker->reordered();
    lat.merge(s.latency);
  }
  if (latency) r.latency = lat;
  if (queue) {
    r.expected = total;
    // Across the group every message exactly once: duplicates include one seen by two members.
    if (numbered && subs.size() > 1) {
      for (int p = 0; p < npubs; ++p) {
        const auto& a = subs[0].tracker->bits()[static_cast<std::size_t>(p)];
        for (std::size_t k = 1; k < subs.size(); ++k) {
          const auto& b = subs[k].tracker->bits()[static_cast<std::size_t>(p)];
          for (std::size_t w = 0; w < std::min(a.size(), b.size()); ++w) r.duplicated += static_cast<uint64_t>(std::popcount(a[w] & b[w]));
        }
      }
    }
  } else {
    r.expected = total * static_cast<uint64_t>(nsubs);
  }
  r.lost = r.expected > r.received ? r.expected - r.received : 0;
  const auto end = nsubs > 0 ? last : published_at;
  r.elapsed_s = std::chrono::duration<double>(end - start).count();
  if (spec.mode == "sub") {
    r.counted_msgs = r.received;
  } else {
    r.counted_msgs = total;
  }
  r.msgs_per_s = r.elapsed_s > 0 ? static_cast<double>(r.counted_msgs) / r.elapsed_s : 0;
  r.ok = error.empty() && r.lost == 0 && r.duplicated == 0 && (spec.mode == "queue" || r.reordered == 0);
  if (!error.empty()) {
    r.error = error;
  } else if (!r.ok) {
    r.error = "lost " + std::to_string(r.lost) + ", duplicated " + std::to_string(r.duplicated) + ", reordered " +
              std::to_string(r.reordered);
  }
  return r;
}

WorkloadResult run_reqrep(const WorkloadSpec& spec, const Endpoint& ep) {
  WorkloadResult r;
  r.mode = spec.mode;
  r.name = spec.name();
  asio::io_context ctx;
  const std::size_t size = std::max<std::size_t>(spec.size, 16);
  BenchConn responder(ctx, ep, "bench-responder");
  responder.send("SUB bench.svc 1\r\n");
  responder.flush();
  BenchConn requester(ctx, ep, "bench-requester");
  requester.send("SUB _INBOX.bench 1\r\n");
  requester.flush();

  std::atomic<bool> stop{false};
  std::thread responder_thread([&] {
    std::string out;
    const BenchConn::MsgFn echo = [&](const protocol::MessageArgs& a, std::string_view payload) {
      out.append("PUB ").append(a.reply).append(" ").append(std::to_string(payload.size())).append("\r\n");
      out.append(payload).append("\r\n");
    };
    try {
      while (!stop.load()) {
        if (!responder.read_once(echo, 100)) break;
        if (!out.empty()) {
          responder.send(out);
          out.clear();
        }
      }
    } catch (const std::exception&) {
    }
  });

  Histogram lat;
  uint64_t received = 0, duplicated = 0, reordered = 0;
  std::vector<uint64_t> seen((spec.msgs + 63) / 64 + 1, 0);
  int64_t last_seq = -1;
  const BenchConn::MsgFn on_reply = [&](const protocol::MessageArgs&, std::string_view payload) {
    if (payload.size() < 16) return;
    uint32_t seq = 0;
    uint64_t t = 0;
    std::memcpy(&seq, payload.data() + 4, 4);
    std::memcpy(&t, payload.data() + 8, 8);
    const uint64_t now = now_ns();
    if (seq / 64 >= seen.size() || (seen[seq / 64] & (1ull << (seq % 64))) != 0) {
      ++duplicated;
      return;
    }
    seen[seq / 64] |= 1ull << (seq % 64);
    if (static_cast<int64_t>(seq) < last_seq) ++reordered;
    last_seq = std::max<int64_t>(last_seq, seq);
    ++received;
    lat.record(now > t ? now - t : 0);
  };

  const double cpu0 = self_cpu_seconds();
  const auto start = Clock::now();
  std::string error;
  std::string payload(size, 'x');
  const std::string head = "PUB bench.svc _INBOX.bench " + std::to_string(size) + "\r\n";
  try {
    if (spec.rate <= 0) {
      // Closed loop: one request in flight, as a synchronous requester does.
      for (uint64_t i = 0; i < spec.msgs; ++i) {
        stamp(payload.data(), size, 0, static_cast<uint32_t>(i), now_ns());
        requester.send(head + payload + "\r\n");
        const uint64_t want = received + 1;
        auto deadline = Clock::now() + kStallTimeout;
        while (received < want && Clock::now() < deadline) {
          if (!requester.read_once(on_reply, 100)) throw std::runtime_error("requester connection closed");
        }
        if (received < want) throw std::runtime_error("no reply within 5s for request " + std::to_string(i));
      }
      r.sent = spec.msgs;
    } else {
      // Open loop: requests leave on schedule; latency counts from the scheduled time, so a
      // slow reply cannot hide the requests queued behind it (no coordinated omission).
      std::atomic<bool> sending_done{false};
      std::thread reader([&] {
        auto last_progress = Clock::now();
        uint64_t last = 0;
        while (!(sending_done.load() && received >= r.sent)) {
          if (!requester.read_once(on_reply, 100)) break;
          if (received != last) {
            last = received;
            last_progress = Clock::now();
          } else if (sending_done.load() && Clock::now() - last_progress > kStallTimeout) {
            break;
          }
        }
      });
      r.sent = publish(requester, [](uint64_t) -> std::string_view { return "bench.svc"; }, true, "_INBOX.bench", 0,
                       spec.msgs, spec.duration_s, spec.rate, size, true);
      sending_done.store(true);
      reader.join();
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  const auto end = Clock::now();
  stop.store(true);
  responder_thread.join();
  r.client_cpu_s = self_cpu_seconds() - cpu0;
  r.received = received;
  r.expected = r.sent;
  r.duplicated = duplicated;
  r.reordered = reordered;
  r.lost = r.expected > received ? r.expected - received : 0;
  r.elapsed_s = std::chrono::duration<double>(end - start).count();
  r.counted_msgs = received;
  r.msgs_per_s = r.elapsed_s > 0 ? static_cast<double>(received) / r.elapsed_s : 0;
  r.latency = lat;
  r.ok = error.empty() && r.lost == 0 && r.duplicated == 0;
  r.error = !error.empty() ? error : (r.ok ? "" : "lost " + std::to_string(r.lost) + ", duplicated " + std::to_string(r.duplicated));
  return r;
}

}  // namespace

std::string WorkloadSpec::name() const {
  if (!label.empty()) return label;
  auto size_text = [](std::size_t s) {
    if (s >= 1024 && s % 1024 == 0) return std::to_string(s / 1024) + "KiB";
    return std::to_string(s) + "B";
  };
  const std::string gen = generator == "lean" ? "" : "-" + generator;
  if (mode == "pub") return "pub-" + std::to_string(pubs) + "p-" + size_text(size) + gen;
  if (mode == "sub" || mode == "pubsub") return mode + "-1x" + std::to_string(subs) + "-" + size_text(size) + gen;
  if (mode == "queue") return "queue-" + std::to_string(pubs) + "p" + std::to_string(subs) + "q-" + size_text(size);
  if (mode == "many-subjects") return "many-subjects-" + std::to_string(subjects) + "-" + size_text(size);
  if (mode == "reqrep") return rate > 0 ? "reqrep-" + std::to_string(static_cast<long>(rate)) + "rps-" + size_text(size)
                                        : "reqrep-" + size_text(size);
  if (mode == "idle-conns") return "idle-conns-" + std::to_string(conns);
  if (mode == "js-pub") return std::string(window <= 1 ? "js-pub-sync-" : "js-pub-async" + std::to_string(window) + "-") + size_text(size);
  if (mode == "js-consume") return "js-consume-" + consumer + (consumer == "pull" ? std::to_string(batch) : "") + "-" + size_text(size);
  if (mode == "kv") return "kv-" + std::to_string(subjects) + "keys-" + size_text(size);
  if (mode == "mesh") return "mesh-" + std::to_string(nodes) + "-nodes";
  return mode;
}

WorkloadResult run_workload(const WorkloadSpec& spec, const Endpoint& ep) {
  try {
    if (is_jetstream_mode(spec.mode)) return run_js_workload(spec, ep);
    if (spec.mode == "reqrep") return run_reqrep(spec, ep);
    if (spec.mode == "pub" || spec.mode == "sub" || spec.mode == "pubsub" || spec.mode == "queue" ||
        spec.mode == "many-subjects") {
      return run_pub_sub_family(spec, Placement{ep, {ep}, nullptr});
    }
    WorkloadResult r;
    r.name = spec.name();
    r.mode = spec.mode;
    r.error = spec.mode == "mesh" ? "mesh runs in a cluster: use forest-bench cluster" : "unknown mode '" + spec.mode + "'";
    return r;
  } catch (const std::exception& e) {
    WorkloadResult r;
    r.name = spec.name();
    r.mode = spec.mode;
    r.error = e.what();
    return r;
  }
}

WorkloadResult run_workload(const WorkloadSpec& spec, const Placement& where) {
  try {
    if (where.subscribers.empty()) throw std::runtime_error("a placement needs at least one subscriber endpoint");
    if (spec.mode == "pub" || spec.mode == "sub" || spec.mode == "pubsub" || spec.mode == "queue") {
      return run_pub_sub_family(spec, where);
    }
    throw std::runtime_error("mode '" + spec.mode + "' runs against one server only");
  } catch (const std::exception& e) {
    WorkloadResult r;
    r.name = spec.name();
    r.mode = spec.mode;
    r.error = e.what();
    return r;
  }
}

std::optional<WorkloadSpec> parse_workload(const std::string& text, std::string* error) {
  WorkloadSpec s;
  const auto colon = text.find(':');
  s.mode = text.substr(0, colon);
  static const std::vector<std::string> kModes = {"pub",           "sub",        "pubsub", "queue", "reqrep",
                                                  "many-subjects", "idle-conns", "js-pub", "js-consume", "kv", "mesh"};
  if (std::find(kModes.begin(), kModes.end(), s.mode) == kModes.end()) {
    if (error != nullptr) *error = "unknown mode '" + s.mode + "'";
    return std::nullopt;
  }
  if (colon == std::string::npos) return s;
  std::stringstream ss(text.substr(colon + 1));
  std::string kv;
  while (std::getline(ss, kv, ',')) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      if (error != nullptr) *error = "expected key=value, got '" + kv + "'";
      return std::nullopt;
    }
    const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    try {
      if (k == "msgs") s.msgs = std::stoull(v);
      else if (k == "size") s.size = std::stoull(v);
      else if (k == "pubs") s.pubs = std::stoi(v);
      else if (k == "subs") s.subs = std::stoi(v);
      else if (k == "rate") s.rate = std::stod(v);
      else if (k == "duration") s.duration_s = std::stod(v);
      else if (k == "subjects") s.subjects = std::stoull(v);
      else if (k == "conns") s.conns = std::stoi(v);
      else if (k == "label") s.label = v;
      else if (k == "gen" && (v == "lean" || v == "libnats")) s.generator = v;
      else if (k == "window") s.window = std::stoull(v);
      else if (k == "batch") s.batch = std::stoull(v);
      else if (k == "consumer" && (v == "pull" || v == "push")) s.consumer = v;
      else if (k == "keys") s.subjects = std::stoull(v);
      else if (k == "nodes") s.nodes = std::stoi(v);
      else if (k == "subnodes") s.sub_nodes = v;
      else {
        if (error != nullptr) *error = "unknown option '" + k + "'";
        return std::nullopt;
      }
    } catch (const std::exception&) {
      if (error != nullptr) *error = "bad value for '" + k + "': " + v;
      return std::nullopt;
    }
  }
  if (s.size > 64 * 1024) {
    if (error != nullptr) *error = "size is at most 64 KiB";
    return std::nullopt;
  }
  return s;
}

}  // namespace forest::bench
