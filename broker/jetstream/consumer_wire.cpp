#include "consumer_wire.hpp"

#include <array>
#include <charconv>
#include <random>

#include <fmt/format.h>

#include "../json_read.hpp"
#include "../options.hpp"

namespace forest::broker::js {
namespace {

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n";
  const auto b = s.find_first_not_of(space);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(space) - b + 1);
}

std::optional<uint64_t> digits(std::string_view d) {
  if (d.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : d) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

std::string ack_reply_subject(std::string_view stream, std::string_view consumer, uint64_t deliveries, uint64_t sseq,
                              uint64_t dseq, int64_t time_ns, uint64_t pending) {
  return fmt::format("$JS.ACK.{}.{}.{}.{}.{}.{}.{}", stream, consumer, deliveries, sseq, dseq, time_ns, pending);
}

std::optional<AckSubjectInfo> parse_ack_subject(std::string_view subject) {
  std::array<std::string_view, 9> t;
  std::size_t n = 0, start = 0;
  for (std::size_t i = 0; i <= subject.size(); ++i) {
    if (i == subject.size() || subject[i] == '.') {
      if (n == t.size()) return std::nullopt;
      t[n++] = subject.substr(start, i - start);
      start = i + 1;
    }
  }
  if (n != t.size() || t[0] != "$JS" || t[1] != "ACK") return std::nullopt;
  auto dc = digits(t[4]), sseq = digits(t[5]), dseq = digits(t[6]);
  if (!dc || !sseq || !dseq) return std::nullopt;
  return AckSubjectInfo{*dc, *sseq, *dseq};
}

AckBody parse_ack_body(std::string_view body) {
  AckBody a;
  if (body.empty() || body == "+ACK" || body == "+OK") {
    a.kind = AckKind::ack;
  } else if (starts_with(body, "+NXT")) {
    a.kind = AckKind::next;
    a.next_request = body.substr(4);
  } else if (starts_with(body, "-NAK")) {
    a.kind = AckKind::nak;
    const std::string_view arg = trim(body.substr(4));
    if (!arg.empty()) {
      int64_t delay = 0;
      bool ok = false;
      if (arg.front() == '{') {
        ok = json::for_each_field(arg, [&](std::string_view k, json::value v) {
          if (json::key_is(k, "delay")) return json::read_int(v, delay);
          return true;
        });
      } else if (auto d = parse_go_duration(std::string(arg))) {
        delay = std::chrono::duration_cast<std::chrono::nanoseconds>(*d).count();
        ok = true;
      }
      if (ok) {
        a.nak_delay_ns = delay;
      } else {
        a.bad_nak_delay = true;
      }
    }
  } else if (body == "+WPI") {
    a.kind = AckKind::progress;
  } else if (body == "+TERM") {
    a.kind = AckKind::term;
  }
  return a;
}

std::expected<NextRequest, std::string> parse_next_request(std::string_view body) {
  NextRequest r;
  const std::string_view req = trim(body);
  if (req.empty()) return r;
  if (req.front() == '{') {
    int64_t batch = 0;
    const bool ok = json::for_each_field(req, [&](std::string_view k, json::value v) {
      if (json::key_is(k, "batch")) return json::read_int(v, batch);
      if (json::key_is(k, "expires")) return json::read_int(v, r.expires_ns);
      if (json::key_is(k, "max_bytes")) return json::read_int(v, r.max_bytes);
      if (json::key_is(k, "no_wait")) return json::read_bool(v, r.no_wait);
      if (json::key_is(k, "idle_heartbeat")) return json::read_int(v, r.heartbeat_ns);
      return true;
    });
    if (!ok) return std::unexpected("json: cannot unmarshal the request");
    if (r.heartbeat_ns > 0 && r.heartbeat_ns > r.expires_ns / 2) return std::unexpected("heartbeat value too large");  // (hb*2 > expires, without overflow)
    r.batch = batch;
    return r;
  }
  int64_t n = 0;
  auto [p, ec] = std::from_chars(req.data(), req.data() + req.size(), n);
  if (ec == std::errc() && p == req.data() + req.size()) r.batch = n;
  return r;
}

std::string status_headers(int code, std::string_view text) { return fmt::format("NATS/1.0 {} {}\r\n\r\n", code, text); }

std::string pending_status_headers(int code, std::string_view text, int64_t msgs, int64_t bytes) {
  return fmt::format("NATS/1.0 {} {}\r\nNats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n\r\n", code, text, msgs,
                     bytes);
}

std::string heartbeat_headers(uint64_t last_dseq, uint64_t last_sseq, std::string_view stalled_on) {
  std::string h = fmt::format("NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {}\r\nNats-Last-Stream: {}\r\n",
                              last_dseq, last_sseq);
  if (!stalled_on.empty()) h += fmt::format("Nats-Consumer-Stalled: {}\r\n", stalled_on);
  h += "\r\n";
  return h;
}

std::string random_token(std::string_view alphabet, std::size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(n, alphabet.front());
  for (char& ch : out) ch = alphabet[rng() % alphabet.size()];
  return out;
}

std::string headers_only(std::string_view headers, std::size_t data_len) {
  std::string h;
  if (headers.size() >= 4) {
    h.assign(headers.substr(0, headers.size() - 2));  // drop the blank line's CRLF
  } else {
    h = "NATS/1.0\r\n";
  }
  h += fmt::format("Nats-Msg-Size: {}\r\n\r\n", data_len);
  return h;
}

}  // namespace forest::broker::js
