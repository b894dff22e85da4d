// Unknown monitoring paths: many distinct paths nobody serves, on keep-alive connections, to
// see whether the server keeps something per path (the issue found /varz growing with them).
#include <fmt/format.h>

#include "hostile.hpp"
#include "sock.hpp"

namespace forest::bench {

AttackOutcome attack_unknown_monitor_paths(const AttackTarget& t) {
  using Clock = std::chrono::steady_clock;
  AttackOutcome out;
  const int64_t n = hostile::scaled(20'000, t.scale);
  // A server that stops answering: give up after this many failures in a row.
  constexpr int kMaxConsecutiveFailures = 20;
  auto varz_size = [&] {
    return sock::http_body_size(t.host, t.http_port, "/varz", std::min(t.deadline, Clock::now() + std::chrono::seconds(5)));
  };
  const int64_t varz_before = varz_size();
  const auto start = Clock::now();
  sock::Fd conn;
  int64_t not_found = 0, other_status = 0, failed = 0, connections = 0, sent = 0;
  int consecutive_failures = 0;
  std::string error;
  for (int64_t i = 0; i < n && Clock::now() < t.deadline && consecutive_failures < kMaxConsecutiveFailures; ++i) {
    const auto deadline = std::min(t.deadline, Clock::now() + std::chrono::seconds(5));
    if (!conn.valid()) {
      conn = sock::connect(t.host, t.http_port, deadline, &error);
      if (!conn.valid()) {
        ++failed;
        ++consecutive_failures;
        continue;
      }
      ++connections;
    }
    sock::HttpResponse r;
    ++sent;
    const sock::Status st = sock::http_get(conn.get(), fmt::format("/nimsforest-hostile/unknown-{}", i), true, deadline, &r);
    if (st != sock::Status::ok) {
      ++failed;
      ++consecutive_failures;
      error = sock::status_text(st);
      conn.reset();
      continue;
    }
    consecutive_failures = 0;
    (r.status == 404 ? not_found : other_status) += 1;
    if (r.close) conn.reset();
  }
  conn.reset();
  out.duration_s = hostile::seconds_since(start);
  const int64_t varz_after = varz_size();
  out.figures.push_back({"requests sent", static_cast<double>(sent), Unit::count});
  out.figures.push_back({"answered 404", static_cast<double>(not_found), Unit::count});
  out.figures.push_back({"answered other status", static_cast<double>(other_status), Unit::count});
  out.figures.push_back({"failed requests", static_cast<double>(failed), Unit::count});
  out.figures.push_back({"HTTP connections used", static_cast<double>(connections), Unit::count});
  out.figures.push_back({"requests", out.duration_s, Unit::seconds});
  if (varz_before >= 0) out.figures.push_back({"/varz body before", static_cast<double>(varz_before), Unit::bytes});
  if (varz_after >= 0) out.figures.push_back({"/varz body after", static_cast<double>(varz_after), Unit::bytes});
  if (sent < n) {
    out.error = fmt::format("stopped after {} of {} requests ({} failures in a row, last: {})", sent, n, consecutive_failures, error);
  } else if (varz_before < 0 || varz_after < 0) {
    out.error = "GET /varz failed";
  } else {
    out.ok = true;
  }
  return out;
}

}  // namespace forest::bench
