// Encoders for what the server writes: MSG/HMSG to clients, RMSG/HMSG and RS+/RS- to routes,
// and the fixed control lines. Appends to a caller-owned buffer; allocation-free once the
// buffer has grown.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace forest::protocol {

inline constexpr std::string_view kCrLf = "\r\n";
inline constexpr std::string_view kPing = "PING\r\n";
inline constexpr std::string_view kPong = "PONG\r\n";
inline constexpr std::string_view kOk = "+OK\r\n";

inline void append_number(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  (void)ec;  // 24 bytes hold any uint64_t
  // The (pointer, length) overload: GCC 12 reports a false -Wrestrict through the iterator one.
  out.append(buf, static_cast<std::size_t>(end - buf));
}

// `-ERR '<text>'\r\n`, the form every nats-server error takes.
inline void append_err(std::string& out, std::string_view text) {
  out.append("-ERR '");
  out.append(text);
  out.append("'\r\n");
}

// "[<header size> ]<total size>\r\n<payload>\r\n": the common end of every message line.
inline void append_sizes_and_payload(std::string& out, int64_t header_size, std::string_view payload) {
  if (header_size >= 0) {
    append_number(out, static_cast<uint64_t>(header_size));
    out.push_back(' ');
  }
  append_number(out, payload.size());
  out.append(kCrLf);
  out.append(payload);
  out.append(kCrLf);
}

// MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n, or HMSG with the header size first.
// `header_size` < 0 means no headers. Sizes are written from the numbers, so a receiver that
// cannot take headers gets the body only (as nats-server does).
inline void append_client_msg(std::string& out, std::string_view subject, std::string_view sid,
                              std::string_view reply, int64_t header_size, std::string_view payload) {
  if (header_size >= 0) {
    out.append("HMSG ");
  } else {
    out.append("MSG ");
  }
  out.append(subject);
  out.push_back(' ');
  out.append(sid);
  out.push_back(' ');
  if (!reply.empty()) {
    out.append(reply);
    out.push_back(' ');
  }
  append_sizes_and_payload(out, header_size, payload);
}

// RMSG <account> <subject> [+ reply q1 q2 | '|' q1 q2 | reply] <size>, or HMSG (route form).
template <typename QueueRange>
void append_route_msg(std::string& out, std::string_view account, std::string_view subject,
                      std::string_view reply, const QueueRange& queues, int64_t header_size,
                      std::string_view payload) {
  out.append(header_size >= 0 ? "HMSG " : "RMSG ");
  out.append(account);
  out.push_back(' ');
  out.append(subject);
  out.push_back(' ');
  const bool has_queues = !std::empty(queues);
  if (has_queues) {
    if (!reply.empty()) {
      out.append("+ ");
      out.append(reply);
      out.push_back(' ');
    } else {
      out.append("| ");
    }
    for (const auto& q : queues) {
      out.append(q);
      out.push_back(' ');
    }
  } else if (!reply.empty()) {
    out.append(reply);
    out.push_back(' ');
  }
  append_sizes_and_payload(out, header_size, payload);
}

// RS+ <account> <subject> [<queue> <weight>] / RS- <account> <subject> [<queue>]
inline void append_route_sub(std::string& out, bool add, std::string_view account, std::string_view subject,
                             std::string_view queue, int32_t weight) {
  out.append(add ? "RS+ " : "RS- ");
  out.append(account);
  out.push_back(' ');
  out.append(subject);
  if (!queue.empty()) {
    out.push_back(' ');
    out.append(queue);
    if (add) {
      out.push_back(' ');
      append_number(out, static_cast<uint64_t>(weight < 0 ? 0 : weight));
    }
  }
  out.append(kCrLf);
}

}  // namespace forest::protocol
