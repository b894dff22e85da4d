#include "report.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>

namespace forest::bench {
namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <typename Fn>
std::vector<double> collect(const std::vector<WorkloadResult>& rs, Fn fn) {
  std::vector<double> out;
  for (const auto& r : rs) {
    if (r.ok) out.push_back(fn(r));
  }
  return out;
}

std::string human_rate(double r) {
  if (r >= 1e6) return fmt::format("{:.2f}M", r / 1e6);
  if (r >= 1e3) return fmt::format("{:.1f}k", r / 1e3);
  return fmt::format("{:.0f}", r);
}

}  // namespace

std::string human_ns(double ns) {
  if (ns >= 1e9) return fmt::format("{:.2f}s", ns / 1e9);
  if (ns >= 1e6) return fmt::format("{:.2f}ms", ns / 1e6);
  if (ns >= 1e3) return fmt::format("{:.1f}us", ns / 1e3);
  return fmt::format("{:.0f}ns", ns);
}

std::string human_bytes(double b) {
  if (b >= 1024.0 * 1024) return fmt::format("{:.1f}MiB", b / 1024 / 1024);
  if (b >= 1024) return fmt::format("{:.1f}KiB", b / 1024);
  return fmt::format("{:.0f}B", b);
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

namespace {

bool is_latency(const Comparison& c) { return c.workload.rfind("reqrep", 0) == 0; }
bool is_memory(const Comparison& c) { return c.workload.rfind("idle-conns", 0) == 0; }
// forest-bench cluster's mesh-formation rows: no messages, only the time the mesh took.
bool is_mesh(const Comparison& c) { return c.workload.rfind("mesh-", 0) == 0; }

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out.push_back(c);
  }
  return out;
}

// A horizontal grouped bar chart (A and B per row) as inline SVG.
std::string bar_chart(const std::string& title, const std::vector<std::string>& labels,
                      const std::vector<double>& a, const std::vector<double>& b,
                      const std::function<std::string(double)>& fmt_value, const std::string& a_name,
                      const std::string& b_name) {
  const int row_h = 34, left = 230, width = 560, top = 30;
  const int height = top + static_cast<int>(labels.size()) * row_h + 30;
  double max_v = 0;
  for (double v : a) max_v = std::max(max_v, v);
  for (double v : b) max_v = std::max(max_v, v);
  if (max_v <= 0) max_v = 1;
  std::string svg = fmt::format("<h3>{}</h3><svg width=\"{}\" height=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">", escape_html(title),
                                left + width + 120, height);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const int y = top + static_cast<int>(i) * row_h;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>", left - 8, y + 19,
                       escape_html(labels[i]));
    const double wa = width * a[i] / max_v, wb = width * b[i] / max_v;
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"13\" fill=\"#2e7d32\"/>", left, y + 2, wa);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\">{}</text>", left + wa + 4, y + 13, fmt_value(a[i]));
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"13\" fill=\"#1565c0\"/>", left, y + 16, wb);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\">{}</text>", left + wb + 4, y + 27, fmt_value(b[i]));
  }
  const int ly = height - 14;
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"#2e7d32\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">A: {}</text>",
                     left, ly - 10, left + 16, ly, escape_html(a_name));
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"#1565c0\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">B: {}</text>",
                     left + 300, ly - 10, left + 316, ly, escape_html(b_name));
  return svg + "</svg>";
}

}  // namespace

double Series::median_rate() const { return median(collect(rounds, [](const auto& r) { return r.msgs_per_s; })); }
double Series::min_rate() const {
  auto v = collect(rounds, [](const auto& r) { return r.msgs_per_s; });
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}
double Series::max_rate() const {
  auto v = collect(rounds, [](const auto& r) { return r.msgs_per_s; });
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}
double Series::median_cpu_per_million() const {
  return median(collect(rounds, [](const auto& r) { return r.cpu_per_million(); }));
}
bool Series::cpu_below_resolution() const {
  return std::any_of(rounds.begin(), rounds.end(), [](const auto& r) { return r.ok && r.server_cpu_s < r.server_cpu_resolution_s; });
}
double Series::median_client_cpu() const { return median(collect(rounds, [](const auto& r) { return r.client_cpu_s; })); }
double Series::median_quantile(double q) const {
  return median(collect(rounds, [q](const auto& r) { return r.latency ? static_cast<double>(r.latency->quantile(q)) : 0.0; }));
}
int64_t Series::median_peak_rss() const {
  return static_cast<int64_t>(median(collect(rounds, [](const auto& r) { return static_cast<double>(r.server_peak_rss); })));
}
int64_t Series::median_idle_rss() const {
  return static_cast<int64_t>(median(collect(rounds, [](const auto& r) { return static_cast<double>(r.server_idle_rss); })));
}
double Series::median_mesh_s() const { return median(collect(rounds, [](const auto& r) { return r.mesh_formation_s; })); }
double Series::min_mesh_s() const {
  auto v = collect(rounds, [](const auto& r) { return r.mesh_formation_s; });
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}
double Series::max_mesh_s() const {
  auto v = collect(rounds, [](const auto& r) { return r.mesh_formation_s; });
  return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
}
bool Series::all_ok() const {
  return !rounds.empty() && std::all_of(rounds.begin(), rounds.end(), [](const auto& r) { return r.ok; });
}

std::string render_table(const std::vector<Comparison>& rows) {
  std::string out = fmt::format("{:<28} {:>22} {:>22} {:>7} {:>10} {:>10} {:>7}\n", "workload", "A median (min-max)",
                                "B median (min-max)", "B/A", "A cpu/M", "B cpu/M", "B/A");
  for (const auto& c : rows) {
    if (is_mesh(c)) {
      const double a = c.a.median_mesh_s() * 1e9, b = c.b.median_mesh_s() * 1e9;
      out += fmt::format("{:<28} {:>22} {:>22} {:>7.2f}{}\n", c.workload,
                         fmt::format("{} ({}-{})", human_ns(a), human_ns(c.a.min_mesh_s() * 1e9), human_ns(c.a.max_mesh_s() * 1e9)),
                         fmt::format("{} ({}-{})", human_ns(b), human_ns(c.b.min_mesh_s() * 1e9), human_ns(c.b.max_mesh_s() * 1e9)),
                         a > 0 ? b / a : 0, (c.a.all_ok() && c.b.all_ok()) ? "" : "  FAILED RUNS");
      continue;
    }
    if (is_memory(c)) {
      const double a = static_cast<double>(c.a.median_peak_rss()), b = static_cast<double>(c.b.median_peak_rss());
      out += fmt::format("{:<28} {:>22} {:>22} {:>7.2f}   (idle {} vs {})\n", c.workload, human_bytes(a), human_bytes(b),
                         a > 0 ? b / a : 0, human_bytes(static_cast<double>(c.a.median_idle_rss())),
                         human_bytes(static_cast<double>(c.b.median_idle_rss())));
      continue;
    }
    if (is_latency(c)) {
      for (double q : {0.5, 0.9, 0.99, 0.999}) {
        const double a = c.a.median_quantile(q), b = c.b.median_quantile(q);
        out += fmt::format("{:<28} {:>22} {:>22} {:>7.2f}\n", fmt::format("{} p{}", c.workload, q * 100), human_ns(a),
                           human_ns(b), a > 0 ? b / a : 0);
      }
      continue;
    }
    const double a = c.a.median_rate(), b = c.b.median_rate();
    const double ca = c.a.median_cpu_per_million(), cb = c.b.median_cpu_per_million();
    const bool below = c.a.cpu_below_resolution() || c.b.cpu_below_resolution();
    auto cpu = [](const Series& s, double v) { return s.cpu_below_resolution() ? std::string("<res") : fmt::format("{:.3f}s", v); };
    out += fmt::format("{:<28} {:>22} {:>22} {:>7.2f} {:>10} {:>10} {:>7}{}\n", c.workload,
                       fmt::format("{} ({}-{})", human_rate(a), human_rate(c.a.min_rate()), human_rate(c.a.max_rate())),
                       fmt::format("{} ({}-{})", human_rate(b), human_rate(c.b.min_rate()), human_rate(c.b.max_rate())),
                       a > 0 ? b / a : 0, cpu(c.a, ca), cpu(c.b, cb), below || ca <= 0 ? "-" : fmt::format("{:.2f}", cb / ca),
                       (c.a.all_ok() && c.b.all_ok()) ? "" : "  FAILED RUNS");
  }
  return out;
}

std::string render_json(const ReportMeta& meta, const std::vector<Comparison>& rows) {
  std::string out = fmt::format("{{\"command\":\"{}\",\"machine\":\"{}\",\"date\":\"{}\",\"rounds\":{},\"workloads\":[",
                                json_escape(meta.command_line), json_escape(meta.machine), meta.date, meta.rounds);
  bool first = true;
  for (const auto& c : rows) {
    if (!first) out += ",";
    first = false;
    auto series = [](const Series& s) {
      std::string rs = "[";
      for (std::size_t i = 0; i < s.rounds.size(); ++i) {
        if (i > 0) rs += ",";
        rs += result_json(s.rounds[i]);
      }
      return fmt::format("{{\"command\":\"{}\",\"median_rate\":{:.1f},\"median_cpu_per_million\":{:.4f},"
                         "\"median_p50_ns\":{:.0f},\"median_p99_ns\":{:.0f},\"median_peak_rss\":{},\"rounds\":{}]}}",
                         json_escape(s.command), s.median_rate(), s.median_cpu_per_million(), s.median_quantile(0.5),
                         s.median_quantile(0.99), s.median_peak_rss(), rs);
    };
    out += fmt::format("{{\"workload\":\"{}\",\"a\":{},\"b\":{}}}", json_escape(c.workload), series(c.a), series(c.b));
  }
  return out + "]}\n";
}

std::string render_csv(const std::vector<Comparison>& rows) {
  std::string out = "workload,server,round,ok,msgs_per_s,sent,received,lost,duplicated,reordered,elapsed_s,server_cpu_s,"
                    "cpu_per_million,client_cpu_s,server_peak_rss,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mesh_formation_s\n";
  for (const auto& c : rows) {
    for (const Series* s : {&c.a, &c.b}) {
      for (std::size_t i = 0; i < s->rounds.size(); ++i) {
        const auto& r = s->rounds[i];
        auto q = [&](double p) { return r.latency ? r.latency->quantile(p) : 0; };
        out += fmt::format("{},{},{},{},{:.1f},{},{},{},{},{},{:.4f},{:.6f},{:.4f},{:.4f},{},{},{},{},{},{},{:.4f}\n", c.workload,
                           s->server, i + 1, r.ok ? 1 : 0, r.msgs_per_s, r.sent, r.received, r.lost, r.duplicated,
                           r.reordered, r.elapsed_s, r.server_cpu_s, r.cpu_per_million(), r.client_cpu_s,
                           r.server_peak_rss, q(0.5), q(0.9), q(0.99), q(0.999), r.latency ? r.latency->max() : 0,
                           r.mesh_formation_s);
      }
    }
  }
  return out;
}

std::string render_html(const ReportMeta& meta, const std::vector<Comparison>& rows) {
  const std::string a_name = rows.empty() ? "A" : rows.front().a.command;
  const std::string b_name = rows.empty() ? "B" : rows.front().b.command;
  std::string html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>forest-bench report</title>"
                     "<style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}"
                     "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
                     ".bad{color:#b71c1c;font-weight:bold}pre{background:#f5f5f5;padding:1em}</style></head><body>";
  html += "<h1>forest-bench: A vs B</h1>";
  html += fmt::format("<p><b>A</b>: <code>{}</code><br><b>B</b>: <code>{}</code><br>Rounds: {} (ABBA order), medians shown. "
                      "Machine: {}. Date: {}.</p><p>Command:</p><pre>{}</pre>",
                      escape_html(a_name), escape_html(b_name), meta.rounds, escape_html(meta.machine), meta.date,
                      escape_html(meta.command_line));
  html += "<table><tr><th>workload</th><th>A median</th><th>B median</th><th>B/A</th><th>A server CPU/M msgs</th>"
          "<th>B server CPU/M msgs</th><th>B/A</th><th>bench CPU A / B (s)</th><th>runs ok</th></tr>";
  std::vector<std::string> labels;
  std::vector<double> ra, rb, ca, cb;
  for (const auto& c : rows) {
    if (is_latency(c) || is_memory(c) || is_mesh(c)) continue;
    const double a = c.a.median_rate(), b = c.b.median_rate();
    const bool ok = c.a.all_ok() && c.b.all_ok();
    html += fmt::format("<tr><td>{}</td><td>{}/s</td><td>{}/s</td><td>{:.2f}</td><td>{:.3f}s</td><td>{:.3f}s</td><td>{:.2f}</td>"
                        "<td>{:.2f} / {:.2f}</td><td class=\"{}\">{}</td></tr>",
                        c.workload, human_rate(a), human_rate(b), a > 0 ? b / a : 0, c.a.median_cpu_per_million(),
                        c.b.median_cpu_per_million(),
                        c.a.median_cpu_per_million() > 0 ? c.b.median_cpu_per_million() / c.a.median_cpu_per_million() : 0,
                        c.a.median_client_cpu(), c.b.median_client_cpu(), ok ? "" : "bad", ok ? "yes" : "NO");
    labels.push_back(c.workload);
    ra.push_back(a);
    rb.push_back(b);
    ca.push_back(c.a.median_cpu_per_million());
    cb.push_back(c.b.median_cpu_per_million());
  }
  html += "</table>";
  if (!labels.empty()) {
    html += bar_chart("Throughput (messages/s, median)", labels, ra, rb, [](double v) { return human_rate(v); }, a_name, b_name);
    html += bar_chart("Server CPU seconds per million messages (median, lower is better)", labels, ca, cb,
                      [](double v) { return fmt::format("{:.3f}s", v); }, a_name, b_name);
  }
  for (const auto& c : rows) {
    if (!is_latency(c)) continue;
    std::vector<std::string> ql;
    std::vector<double> qa, qb;
    for (double q : {0.5, 0.9, 0.99, 0.999}) {
      ql.push_back(fmt::format("p{}", q * 100));
      qa.push_back(c.a.median_quantile(q));
      qb.push_back(c.b.median_quantile(q));
    }
    html += bar_chart("Latency percentiles: " + c.workload + " (lower is better)", ql, qa, qb,
                      [](double v) { return human_ns(v); }, a_name, b_name);
  }
  bool any_mesh = false;
  for (const auto& c : rows) {
    if (!is_mesh(c)) continue;
    if (!any_mesh) html += "<h3>Mesh formation (joining nodes launched until every node has a route to every other)</h3>"
                           "<table><tr><th>cluster</th><th>A median (min-max)</th><th>B median (min-max)</th><th>B/A</th></tr>";
    any_mesh = true;
    html += fmt::format("<tr><td>{}</td><td>{} ({}-{})</td><td>{} ({}-{})</td><td>{:.2f}</td></tr>", c.workload,
                        human_ns(c.a.median_mesh_s() * 1e9), human_ns(c.a.min_mesh_s() * 1e9), human_ns(c.a.max_mesh_s() * 1e9),
                        human_ns(c.b.median_mesh_s() * 1e9), human_ns(c.b.min_mesh_s() * 1e9), human_ns(c.b.max_mesh_s() * 1e9),
                        c.a.median_mesh_s() > 0 ? c.b.median_mesh_s() / c.a.median_mesh_s() : 0);
  }
  if (any_mesh) html += "</table>";
  for (const auto& c : rows) {
    if (!is_memory(c)) continue;
    html += bar_chart("Server memory: " + c.workload, {"idle RSS", "RSS with connections"},
                      {static_cast<double>(c.a.median_idle_rss()), static_cast<double>(c.a.median_peak_rss())},
                      {static_cast<double>(c.b.median_idle_rss()), static_cast<double>(c.b.median_peak_rss())},
                      [](double v) { return human_bytes(v); }, a_name, b_name);
  }
  html += "<h2>Every run</h2><pre>" + escape_html(render_csv(rows)) + "</pre></body></html>\n";
  return html;
}

std::string render_single(const WorkloadResult& r) {
  std::string out = fmt::format("{}: {} — {}/s over {:.2f}s; sent {}, received {}/{} (lost {}, dup {}, reordered {}); bench CPU {:.2f}s",
                                r.name, r.ok ? "ok" : "FAILED: " + r.error, human_rate(r.msgs_per_s), r.elapsed_s, r.sent,
                                r.received, r.expected, r.lost, r.duplicated, r.reordered, r.client_cpu_s);
  if (r.latency && r.latency->count() > 0) {
    out += fmt::format("\n  latency p50 {} p90 {} p99 {} p99.9 {} max {}", human_ns(static_cast<double>(r.latency->quantile(0.5))),
                       human_ns(static_cast<double>(r.latency->quantile(0.9))), human_ns(static_cast<double>(r.latency->quantile(0.99))),
                       human_ns(static_cast<double>(r.latency->quantile(0.999))), human_ns(static_cast<double>(r.latency->max())));
  }
  return out + "\n";
}

std::string result_json(const WorkloadResult& r) {
  auto q = [&](double p) { return r.latency ? r.latency->quantile(p) : 0; };
  std::string per_sub = "[";
  for (std::size_t i = 0; i < r.per_subscriber.size(); ++i) per_sub += fmt::format("{}{}", i > 0 ? "," : "", r.per_subscriber[i]);
  per_sub += "]";
  return fmt::format("{{\"name\":\"{}\",\"ok\":{},\"error\":\"{}\",\"msgs_per_s\":{:.1f},\"sent\":{},\"received\":{},"
                     "\"expected\":{},\"lost\":{},\"duplicated\":{},\"reordered\":{},\"elapsed_s\":{:.4f},"
                     "\"server_cpu_s\":{:.6f},\"server_cpu_resolution_s\":{:.9f},\"cpu_per_million\":{:.4f},"
                     "\"client_cpu_s\":{:.4f},\"server_peak_rss\":{},\"mesh_formation_s\":{:.4f},"
                     "\"server_idle_rss\":{},\"per_subscriber\":{},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{},\"p999_ns\":{},\"max_ns\":{}}}",
                     json_escape(r.name), r.ok ? "true" : "false", json_escape(r.error), r.msgs_per_s, r.sent, r.received, r.expected, r.lost,
                     r.duplicated, r.reordered, r.elapsed_s, r.server_cpu_s, r.server_cpu_resolution_s, r.cpu_per_million(),
                     r.client_cpu_s, r.server_peak_rss, r.mesh_formation_s, r.server_idle_rss, per_sub, q(0.5), q(0.9), q(0.99), q(0.999),
                     r.latency ? r.latency->max() : 0);
}

std::string machine_description() {
  utsname u{};
  ::uname(&u);
  std::ifstream cpu("/proc/cpuinfo");
  std::string line, model;
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return fmt::format("{} cores, {}, {} {}", ::sysconf(_SC_NPROCESSORS_ONLN), model.empty() ? "unknown CPU" : model, u.sysname,
                     u.release);
}

}  // namespace forest::bench
