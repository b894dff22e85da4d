#include "hostile_report.hpp"

#include <algorithm>
#include <functional>
#include <optional>

#include <fmt/format.h>

namespace forest::bench {
namespace {

constexpr double kTargetWorstSeconds = 0.050;  // issue 6: the bystander's worst round trip under 50 ms

std::optional<double> median(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<const HostileRun*> runs_of(const std::vector<HostileRun>& runs, const std::string& attack, const std::string& server) {
  std::vector<const HostileRun*> out;
  for (const auto& r : runs) {
    if (r.attack == attack && r.server == server) out.push_back(&r);
  }
  return out;
}

std::string format_value(double v, Unit unit) {
  switch (unit) {
    case Unit::seconds: return human_ns(v * 1e9);
    case Unit::bytes: return human_bytes(v);
    case Unit::flag: return v >= 0.5 ? "yes" : "no";
    case Unit::count: return v == static_cast<double>(static_cast<int64_t>(v)) ? fmt::format("{}", static_cast<int64_t>(v))
                                                                               : fmt::format("{:.1f}", v);
  }
  return "?";
}

// One metric of one server over its rounds: the median and the caveats that go with it.
struct Cell {
  std::optional<double> value;
  std::string note;  // e.g. ">=" prefix reasons, failures
  bool lower_bound = false;
};

Cell probe_cell(const std::vector<const HostileRun*>& rs, const std::function<const ProbeStats&(const HostileRun&)>& pick,
                bool worst) {
  Cell c;
  std::vector<double> v;
  uint64_t unanswered = 0, failures = 0;
  bool disconnected = false;
  for (const auto* r : rs) {
    const ProbeStats& s = pick(*r);
    if (!s.measured) continue;
    v.push_back(static_cast<double>(worst ? s.worst_ns : s.p99_ns) / 1e9);  // shown as seconds
    c.lower_bound = c.lower_bound || (worst && s.worst_is_lower_bound);
    unanswered += s.unanswered;
    failures += s.failures;
    disconnected = disconnected || s.disconnected;
  }
  c.value = median(v);
  if (unanswered > 0) c.note += fmt::format(" ({} unanswered)", unanswered);
  if (failures > 0) c.note += fmt::format(" ({} failed)", failures);
  if (disconnected) c.note += " (disconnected)";
  return c;
}

Cell number_cell(const std::vector<const HostileRun*>& rs, const std::function<std::optional<double>(const HostileRun&)>& pick) {
  std::vector<double> v;
  for (const auto* r : rs) {
    if (auto x = pick(*r)) v.push_back(*x);
  }
  return {median(v), "", false};
}

std::string cell_text(const Cell& c, Unit unit) {
  if (!c.value) return "not measured";
  return (c.lower_bound ? ">=" : "") + format_value(*c.value, unit) + c.note;
}

std::string ratio_text(const Cell& a, const Cell& b) {
  if (!a.value || !b.value || *a.value <= 0) return "-";
  return fmt::format("{:.2f}", *b.value / *a.value);
}

std::string probe_json(const ProbeStats& s) {
  return fmt::format("{{\"measured\":{},\"error\":\"{}\",\"samples\":{},\"p50_ns\":{},\"p99_ns\":{},\"max_ns\":{},"
                     "\"worst_ns\":{},\"worst_is_lower_bound\":{},\"unanswered\":{},\"failures\":{},\"disconnected\":{},"
                     "\"max_send_lag_ns\":{}}}",
                     s.measured, json_escape(s.error), s.samples, s.p50_ns, s.p99_ns, s.max_ns, s.worst_ns,
                     s.worst_is_lower_bound, s.unanswered, s.failures, s.disconnected, s.max_send_lag_ns);
}

std::string csv_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string render_hostile_table(const HostileMeta& meta, const std::vector<Attack>& attacks, const std::vector<HostileRun>& runs) {
  std::string out = fmt::format("A: {}\nB: {}\nrounds: {} (ABBA), scale {}; medians; B/A > 1 means A's figure is lower\n",
                                meta.a_command, meta.b_command, meta.base.rounds, meta.scale);
  for (const auto& attack : attacks) {
    const auto ra = runs_of(runs, attack.name, "A"), rb = runs_of(runs, attack.name, "B");
    if (ra.empty() && rb.empty()) continue;
    out += fmt::format("\n== {}: {}\n{:<44} {:>26} {:>26} {:>7}\n", attack.name, attack.description, "", "A", "B", "B/A");
    auto row = [&](const std::string& label, const Cell& a, const Cell& b, Unit unit) {
      out += fmt::format("  {:<42} {:>26} {:>26} {:>7}\n", label, cell_text(a, unit), cell_text(b, unit), ratio_text(a, b));
    };
    using P = std::function<const ProbeStats&(const HostileRun&)>;
    const P bystander = [](const HostileRun& r) -> const ProbeStats& { return r.bystander; };
    const P new_client = [](const HostileRun& r) -> const ProbeStats& { return r.new_client; };
    const P healthz = [](const HostileRun& r) -> const ProbeStats& { return r.healthz; };
    const Cell a_worst = probe_cell(ra, bystander, true), b_worst = probe_cell(rb, bystander, true);
    row("bystander worst PING->PONG", a_worst, b_worst, Unit::seconds);
    row("bystander p99", probe_cell(ra, bystander, false), probe_cell(rb, bystander, false), Unit::seconds);
    row("new client connection, worst", probe_cell(ra, new_client, true), probe_cell(rb, new_client, true), Unit::seconds);
    row("GET /healthz, worst", probe_cell(ra, healthz, true), probe_cell(rb, healthz, true), Unit::seconds);
    auto num = [&](const std::function<std::optional<double>(const HostileRun&)>& pick) {
      return std::make_pair(number_cell(ra, pick), number_cell(rb, pick));
    };
    const auto measured = [](const HostileRun& r) { return r.error.empty(); };
    const auto [a_after, b_after] = num([&](const HostileRun& r) -> std::optional<double> {
      if (!measured(r) || r.rss_after <= 0) return std::nullopt;
      return static_cast<double>(r.rss_after);
    });
    row("RSS 1 s after the attack", a_after, b_after, Unit::bytes);
    const auto [a_peak, b_peak] = num([&](const HostileRun& r) -> std::optional<double> {
      if (!measured(r) || r.rss_peak <= 0) return std::nullopt;
      return static_cast<double>(r.rss_peak);
    });
    row("RSS peak", a_peak, b_peak, Unit::bytes);
    const auto [a_cpu, b_cpu] = num([&](const HostileRun& r) -> std::optional<double> {
      if (!measured(r)) return std::nullopt;
      return r.server_cpu_s;
    });
    row("server CPU (attack + 1 s)", a_cpu, b_cpu, Unit::seconds);
    const auto [a_time, b_time] = num([&](const HostileRun& r) -> std::optional<double> {
      if (!measured(r)) return std::nullopt;
      return r.outcome.duration_s;
    });
    row("attack duration", a_time, b_time, Unit::seconds);
    // The attack's own figures, by name, in the order they were first reported.
    std::vector<std::pair<std::string, Unit>> names;
    for (const auto* set : {&ra, &rb}) {
      for (const auto* r : *set) {
        for (const auto& f : r->outcome.figures) {
          if (std::none_of(names.begin(), names.end(), [&](const auto& n) { return n.first == f.name; })) names.emplace_back(f.name, f.unit);
        }
      }
    }
    for (const auto& [name, unit] : names) {
      const auto [a, b] = num([&](const HostileRun& r) -> std::optional<double> {
        for (const auto& f : r.outcome.figures) {
          if (f.name == name) return f.value;
        }
        return std::nullopt;
      });
      row(name, a, b, unit);
    }
    for (const auto* set : {&ra, &rb}) {
      for (const auto* r : *set) {
        if (!r->error.empty()) out += fmt::format("  {} round {}: RUN FAILED: {}\n", r->server, r->round, r->error);
        else if (!r->outcome.ok) out += fmt::format("  {} round {}: attack did not complete: {}\n", r->server, r->round, r->outcome.error);
        if (r->error.empty() && !r->server_alive_after) out += fmt::format("  {} round {}: SERVER DIED\n", r->server, r->round);
        if (r->bystander.measured && r->bystander.max_send_lag_ns > 20'000'000) {
          out += fmt::format("  {} round {}: the bench sent a PING {} late (the bench itself was starved)\n", r->server, r->round,
                             human_ns(static_cast<double>(r->bystander.max_send_lag_ns)));
        }
      }
    }
    if (a_worst.value && b_worst.value && a_after.value && b_after.value) {
      const bool met = *a_worst.value < kTargetWorstSeconds && *a_worst.value <= *b_worst.value && !a_worst.lower_bound &&
                       *a_after.value <= *b_after.value;
      out += fmt::format("  issue 6 target for A (worst < 50 ms and <= B, RSS after <= B): {}\n", met ? "met" : "NOT met");
    }
  }
  return out;
}

std::string render_hostile_json(const HostileMeta& meta, const std::vector<HostileRun>& runs) {
  std::string out = fmt::format("{{\"command\":\"{}\",\"machine\":\"{}\",\"date\":\"{}\",\"rounds\":{},\"scale\":{},\"a\":\"{}\",\"b\":\"{}\",\"runs\":[",
                                json_escape(meta.base.command_line), json_escape(meta.base.machine), meta.base.date,
                                meta.base.rounds, meta.scale, json_escape(meta.a_command), json_escape(meta.b_command));
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const HostileRun& r = runs[i];
    std::string figures = "{";
    for (std::size_t k = 0; k < r.outcome.figures.size(); ++k) {
      figures += fmt::format("{}\"{}\":{}", k > 0 ? "," : "", json_escape(r.outcome.figures[k].name), r.outcome.figures[k].value);
    }
    figures += "}";
    out += fmt::format("{}{{\"attack\":\"{}\",\"server\":\"{}\",\"round\":{},\"error\":\"{}\",\"attack_ok\":{},"
                       "\"attack_error\":\"{}\",\"attack_s\":{:.6f},\"figures\":{},\"bystander\":{},\"new_client\":{},"
                       "\"healthz\":{},\"rss_before\":{},\"rss_peak\":{},\"rss_after\":{},\"server_cpu_s\":{:.6f},"
                       "\"cpu_resolution_s\":{:.9f},\"server_alive_after\":{}}}",
                       i > 0 ? "," : "", json_escape(r.attack), r.server, r.round, json_escape(r.error), r.outcome.ok,
                       json_escape(r.outcome.error), r.outcome.duration_s, figures, probe_json(r.bystander),
                       probe_json(r.new_client), probe_json(r.healthz), r.rss_before, r.rss_peak, r.rss_after, r.server_cpu_s,
                       r.cpu_resolution_s, r.server_alive_after);
  }
  return out + "]}\n";
}

std::string render_hostile_csv(const std::vector<HostileRun>& runs) {
  std::string out = "attack,server,round,run_error,attack_ok,attack_error,attack_s,bystander_worst_ns,bystander_worst_lower_bound,"
                    "bystander_p50_ns,bystander_p99_ns,bystander_samples,bystander_unanswered,bystander_disconnected,"
                    "bystander_max_send_lag_ns,new_client_worst_ns,new_client_failures,healthz_worst_ns,healthz_failures,"
                    "rss_before,rss_peak,rss_after,server_cpu_s,server_alive_after,figures\n";
  for (const HostileRun& r : runs) {
    std::string figures;
    for (const auto& f : r.outcome.figures) figures += fmt::format("{}{}={}", figures.empty() ? "" : "; ", f.name, f.value);
    // A probe that did not run leaves its cells empty rather than showing zeros.
    auto m = [](const ProbeStats& s, uint64_t v) { return s.measured ? std::to_string(v) : std::string(); };
    const ProbeStats& b = r.bystander;
    out += fmt::format("{},{},{},{},{},{},{:.6f},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.6f},{},{}\n", r.attack, r.server,
                       r.round, csv_quote(r.error), r.outcome.ok ? 1 : 0, csv_quote(r.outcome.error), r.outcome.duration_s,
                       m(b, b.worst_ns), m(b, b.worst_is_lower_bound ? 1 : 0), m(b, b.p50_ns), m(b, b.p99_ns), m(b, b.samples),
                       m(b, b.unanswered), m(b, b.disconnected ? 1 : 0), m(b, b.max_send_lag_ns),
                       m(r.new_client, r.new_client.worst_ns), m(r.new_client, r.new_client.failures),
                       m(r.healthz, r.healthz.worst_ns), m(r.healthz, r.healthz.failures), r.rss_before, r.rss_peak, r.rss_after,
                       r.server_cpu_s, r.server_alive_after ? 1 : 0, csv_quote(figures));
  }
  return out;
}

}  // namespace forest::bench
