#include "protocol/parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace forest::protocol {
namespace {

enum class Op : uint8_t {
  pub, hpub, sub, unsub, ping, pong, connect, info, ok, err,
  rs_plus, rs_minus, ls_plus, ls_minus, rmsg, lmsg, hmsg, a_plus, a_minus, msg,
};

// How the bytes after an operation name are read (nats-server's parser states):
// `needs_space`: at least one space or tab, then the arguments (PUB, SUB, ...);
// `free`: optional spaces, then the arguments (CONNECT{...} is accepted);
// `ignored`: everything up to the newline is ignored (PINGxyz answers PONG).
enum class ArgStyle : uint8_t { needs_space, free, ignored };

// Which peer kinds may send an operation (bit per PeerKind).
constexpr uint8_t kFromClient = 1, kFromRoute = 2, kFromServer = 4;
constexpr uint8_t kAnyKind = kFromClient | kFromRoute | kFromServer;
constexpr uint8_t kind_bit(PeerKind k) {
  return k == PeerKind::client ? kFromClient : (k == PeerKind::route ? kFromRoute : kFromServer);
}

struct OpSpec {
  std::string_view name;
  Op op;
  ArgStyle style;
  uint8_t kinds;
};

constexpr std::array<OpSpec, 20> kOps{{
    {"PUB", Op::pub, ArgStyle::needs_space, kFromClient | kFromRoute},
    {"HPUB", Op::hpub, ArgStyle::needs_space, kFromClient | kFromRoute},
    {"SUB", Op::sub, ArgStyle::needs_space, kFromClient | kFromRoute},
    {"UNSUB", Op::unsub, ArgStyle::needs_space, kFromClient | kFromRoute},
    {"PING", Op::ping, ArgStyle::ignored, kAnyKind},
    {"PONG", Op::pong, ArgStyle::ignored, kAnyKind},
    {"CONNECT", Op::connect, ArgStyle::free, kFromClient | kFromRoute},
    {"INFO", Op::info, ArgStyle::free, kAnyKind},
    {"+OK", Op::ok, ArgStyle::ignored, kAnyKind},
    {"-ERR", Op::err, ArgStyle::needs_space, kAnyKind},
    {"RS+", Op::rs_plus, ArgStyle::needs_space, kFromRoute},
    {"RS-", Op::rs_minus, ArgStyle::needs_space, kFromRoute},
    {"LS+", Op::ls_plus, ArgStyle::needs_space, kFromRoute},
    {"LS-", Op::ls_minus, ArgStyle::needs_space, kFromRoute},
    {"RMSG", Op::rmsg, ArgStyle::needs_space, kFromRoute},
    {"LMSG", Op::lmsg, ArgStyle::needs_space, kFromRoute},
    {"HMSG", Op::hmsg, ArgStyle::needs_space, kFromRoute | kFromServer},
    {"A+", Op::a_plus, ArgStyle::needs_space, kFromRoute},
    {"A-", Op::a_minus, ArgStyle::needs_space, kFromRoute},
    {"MSG", Op::msg, ArgStyle::needs_space, kFromServer},
}};

enum class Verdict : uint8_t { match, need_more, invalid };

struct OpMatch {
  Verdict verdict = Verdict::invalid;
  const OpSpec* spec = nullptr;
  std::size_t arg_start = 0;
};

inline char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
inline bool is_space(char c) { return c == ' ' || c == '\t'; }

// Matches the operation at the start of `line`. With `complete`, the line is whole
// (its newline was seen, a trailing CR removed); otherwise more bytes may follow.
OpMatch match_op(std::string_view line, PeerKind kind, bool complete) {
  OpMatch result;
  bool any_prefix = false;
  for (const OpSpec& spec : kOps) {
    if ((spec.kinds & kind_bit(kind)) == 0) continue;
    const std::size_t n = std::min(line.size(), spec.name.size());
    bool same = true;
    for (std::size_t i = 0; i < n; ++i) {
      if (upper(line[i]) != spec.name[i]) {
        same = false;
        break;
      }
    }
    if (!same) continue;
    if (line.size() < spec.name.size()) {
      any_prefix = true;
      continue;
    }
    // The whole name matched.
    std::size_t pos = spec.name.size();
    result.spec = &spec;
    switch (spec.style) {
      case ArgStyle::ignored:
        result.verdict = Verdict::match;
        return result;
      case ArgStyle::needs_space:
        if (pos == line.size()) {
          result.verdict = complete ? Verdict::invalid : Verdict::need_more;
          return result;
        }
        if (!is_space(line[pos])) return result;  // invalid
        [[fallthrough]];
      case ArgStyle::free:
        while (pos < line.size() && is_space(line[pos])) ++pos;
        result.arg_start = pos;
        result.verdict = Verdict::match;
        return result;
    }
  }
  if (any_prefix && !complete) result.verdict = Verdict::need_more;
  return result;
}

}  // namespace

std::size_t split_args(std::string_view line, std::string_view* out, std::size_t max_out) {
  std::size_t count = 0;
  std::size_t i = 0;
  const std::size_t n = line.size();
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) ++i;
    if (i >= n) break;
    const std::size_t start = i;
    while (i < n && !(line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) ++i;
    if (count < max_out) out[count] = line.substr(start, i - start);
    ++count;
  }
  return count;
}

int64_t parse_size(std::string_view text) {
  if (text.empty() || text.size() > 9) return -1;
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// A control line without its newline yet. nats-server checks max_control_line against what it
// holds of such a line at the end of each read, counting the argument bytes only: not the verb,
// not the blanks after it (which it skips without storing), not a CR the read ended on. It
// stores nothing at all for the rest of a PING/PONG/+OK line. Both are matched here, so the
// same lines pass, and what is kept stays bounded by the limit.
ParseStatus Parser::buffer_partial_line(std::string_view piece) {
  if (skip_line_) return ParseStatus::ok;
  line_buf_.append(piece);
  const OpMatch m = match_op(line_buf_, kind_, false);
  if (m.verdict == Verdict::invalid) return ParseStatus::unknown_operation;
  if (m.verdict == Verdict::need_more) return ParseStatus::ok;
  if (m.spec->style == ArgStyle::ignored) {
    line_buf_.assign(m.spec->name);
    skip_line_ = true;
    return ParseStatus::ok;
  }
  // Keep one blank between the verb and its arguments (match_op needs one), drop the others.
  std::size_t arg_start = m.arg_start;
  const std::size_t name_end = m.spec->name.size();
  if (arg_start > name_end + 1) {
    line_buf_.erase(name_end + 1, arg_start - name_end - 1);
    arg_start = name_end + 1;
  }
  std::size_t arg_len = line_buf_.size() - arg_start;
  if (arg_len > 0 && line_buf_.back() == '\r') --arg_len;
  // Like nats-server, only client connections are held to max_control_line; a route's
  // line is still bounded so a lying peer cannot exhaust memory.
  const int64_t limit = kind_ == PeerKind::client ? limits_.max_control_line
                                                  : std::max<int64_t>(limits_.max_control_line, 1 << 20);
  if (limit > 0 && static_cast<int64_t>(arg_len) > limit) return ParseStatus::max_control_line;
  return ParseStatus::ok;
}

ParseStatus Parser::feed(std::string_view data, ParserHandler& handler) {
  std::size_t pos = 0;
  while (pos < data.size()) {
    if (state_ == State::payload) {
      const std::size_t take = std::min(payload_need_ - payload_buf_.size(), data.size() - pos);
      payload_buf_.append(data.data() + pos, take);
      pos += take;
      // The byte after the payload must be CR: fail as soon as it is seen, as nats-server does.
      const std::size_t body = payload_need_ - 2;
      if (payload_buf_.size() > body && payload_buf_[body] != '\r') return ParseStatus::unknown_operation;
      if (payload_buf_.size() < payload_need_) return ParseStatus::ok;
      if (payload_buf_[body + 1] != '\n') return ParseStatus::unknown_operation;
      // The arguments still point into an earlier read buffer: re-read them from our copy.
      const OpMatch m = match_op(pending_line_, kind_, true);
      const std::string_view arg_text = std::string_view(pending_line_).substr(m.arg_start);
      MessageArgs& args = args_;
      ParseStatus st = kind_ == PeerKind::server
                           ? parse_delivery_args(arg_text, msg_has_headers_, args)
                           : parse_message_args(arg_text, msg_is_route_, msg_has_headers_, msg_origin_, args);
      if (st != ParseStatus::ok) return st;
      st = dispatch_message(args, std::string_view(payload_buf_).substr(0, body), handler);
      state_ = State::line_start;
      payload_buf_.clear();
      if (payload_buf_.capacity() > 64 * 1024) payload_buf_.shrink_to_fit();
      if (st != ParseStatus::ok) return st;
      continue;
    }

    const char* start = data.data() + pos;
    if (connect_required_ && line_buf_.empty() && *start != 'C' && *start != 'c') {
      if (!handler.on_op_before_connect()) return ParseStatus::auth_violation;
      connect_required_ = false;
    }
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', data.size() - pos));
    if (nl == nullptr) return buffer_partial_line(std::string_view(start, data.size() - pos));
    std::string_view line;
    const auto piece = static_cast<std::size_t>(nl - start);
    if (skip_line_) {
      line = line_buf_;  // just the verb: the rest of its line is ignored
      skip_line_ = false;
    } else if (!line_buf_.empty()) {
      line_buf_.append(start, piece);
      line = line_buf_;
    } else {
      line = std::string_view(start, piece);
    }
    pos += piece + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    std::size_t consumed = 0;
    const ParseStatus st = parse_line(line, data.substr(pos), consumed, handler);
    line_buf_.clear();
    if (line_buf_.capacity() > 64 * 1024) line_buf_.shrink_to_fit();
    if (st != ParseStatus::ok) return st;
    pos += consumed;
    if (pause_requested_) {
      pause_requested_ = false;
      resume_offset_ = pos;
      return ParseStatus::paused;
    }
  }
  return ParseStatus::ok;
}

ParseStatus Parser::parse_line(std::string_view line, std::string_view rest, std::size_t& consumed,
                               ParserHandler& handler) {
  const OpMatch m = match_op(line, kind_, true);
  if (m.verdict != Verdict::match) return ParseStatus::unknown_operation;
  const Op op = m.spec->op;
  if (connect_required_ && op != Op::connect) {
    // Normally decided at the line's first byte; this catches a line that was already under
    // way when the requirement was set (a reload turned authorization on).
    if (!handler.on_op_before_connect()) return ParseStatus::auth_violation;
    connect_required_ = false;
  }
  const std::string_view arg = line.substr(m.arg_start);
  if (m.spec->style != ArgStyle::ignored && kind_ == PeerKind::client && limits_.max_control_line > 0 &&
      static_cast<int64_t>(arg.size()) > limits_.max_control_line) {
    return ParseStatus::max_control_line;
  }
  auto stop_if = [](bool keep_going) { return keep_going ? ParseStatus::ok : ParseStatus::stopped_by_handler; };

  switch (op) {
    case Op::pub:
    case Op::hpub:
    case Op::rmsg:
    case Op::lmsg:
    case Op::hmsg:
    case Op::msg: {
      const bool delivery = kind_ == PeerKind::server;  // MSG/HMSG read by a client
      const bool route_msg = !delivery && (op == Op::rmsg || op == Op::lmsg || op == Op::hmsg);
      const bool headers = op == Op::hpub || op == Op::hmsg || op == Op::lmsg;
      if (op == Op::hpub && !headers_allowed_) return ParseStatus::headers_not_supported;
      MessageArgs& args = args_;
      ParseStatus st = delivery ? parse_delivery_args(arg, headers, args)
                                : parse_message_args(arg, route_msg, headers, op == Op::lmsg, args);
      if (st != ParseStatus::ok) return st;
      const auto total = static_cast<std::size_t>(args.total_size);
      if (rest.size() >= total + 2) {
        // Whole payload in this buffer: hand it over without copying.
        if (rest[total] != '\r' || rest[total + 1] != '\n') return ParseStatus::unknown_operation;
        consumed = total + 2;
        return dispatch_message(args, rest.substr(0, total), handler);
      }
      if (rest.size() > total && rest[total] != '\r') return ParseStatus::unknown_operation;
      pending_line_.assign(line);
      msg_is_route_ = route_msg;
      msg_has_headers_ = headers;
      msg_origin_ = op == Op::lmsg;
      payload_need_ = total + 2;
      payload_buf_.clear();
      payload_buf_.reserve(payload_need_);
      payload_buf_.append(rest);
      consumed = rest.size();
      state_ = State::payload;
      return ParseStatus::ok;
    }
    case Op::sub: {
      std::string_view a[3];
      const std::size_t n = split_args(arg, a, 3);
      if (n == 2) return stop_if(handler.on_sub(a[0], {}, a[1]));
      if (n == 3) return stop_if(handler.on_sub(a[0], a[1], a[2]));
      return ParseStatus::bad_arguments;
    }
    case Op::unsub: {
      std::string_view a[2];
      const std::size_t n = split_args(arg, a, 2);
      if (n == 1) return stop_if(handler.on_unsub(a[0], -1));
      if (n == 2) return stop_if(handler.on_unsub(a[0], parse_size(a[1])));
      return ParseStatus::bad_arguments;
    }
    case Op::ping: return stop_if(handler.on_ping());
    case Op::pong: return stop_if(handler.on_pong());
    case Op::ok: return stop_if(handler.on_ok());
    case Op::connect: return stop_if(handler.on_connect(arg));
    case Op::info: return stop_if(handler.on_info(arg));
    case Op::err: return stop_if(handler.on_err(arg));
    case Op::rs_plus:
    case Op::rs_minus:
    case Op::ls_plus:
    case Op::ls_minus: {
      // LS+/LS- carry the origin cluster first; we accept and skip it.
      const bool leaf = op == Op::ls_plus || op == Op::ls_minus;
      const bool plus = op == Op::rs_plus || op == Op::ls_plus;
      std::string_view a[5];
      const std::size_t off = leaf ? 1 : 0;
      const std::size_t n = split_args(arg, a, 5);
      RemoteSubArgs r;
      r.leaf = leaf;
      if (n == 2 + off) {
        // plain subscription
      } else if (n == 4 + off || (!plus && n == 3 + off)) {
        r.queue = a[2 + off];
        if (n == 4 + off) r.weight = static_cast<int32_t>(parse_size(a[3 + off]));
      } else {
        return ParseStatus::bad_arguments;
      }
      r.account = a[off];
      r.subject = a[1 + off];
      return stop_if(plus ? handler.on_remote_sub(r) : handler.on_remote_unsub(r));
    }
    case Op::a_plus: return stop_if(handler.on_account_sub(arg));
    case Op::a_minus: return stop_if(handler.on_account_unsub(arg));
  }
  return ParseStatus::unknown_operation;
}

namespace {
// Field by field on purpose: value-initializing the whole struct compiles to `rep stos`, whose
// start-up cost was a fifth of the CPU of a small-message publish.
inline void reset(MessageArgs& a) {
  a.account = {};
  a.subject = {};
  a.sid = {};
  a.reply = {};
  a.size_text = {};
  a.header_size_text = {};
  a.header_size = -1;
  a.total_size = 0;
  a.queues = {};
  a.origin_cluster = false;
}
// The last one or two arguments of every message line: [header size] total size.
inline void read_sizes(const std::string_view* a, std::size_t n, bool with_headers, MessageArgs& out) {
  if (with_headers) {
    out.header_size_text = a[n - 2];
    out.header_size = parse_size(a[n - 2]);
  }
  out.size_text = a[n - 1];
  out.total_size = parse_size(a[n - 1]);
}

inline bool sizes_valid(const MessageArgs& out, bool with_headers) {
  return out.total_size >= 0 && (!with_headers || (out.header_size >= 0 && out.header_size <= out.total_size));
}
}  // namespace

ParseStatus Parser::parse_message_args(std::string_view arg, bool route_msg, bool with_headers, bool origin,
                                       MessageArgs& out) {
  reset(out);
  if (!route_msg) {
    std::string_view a[4];
    const std::size_t max = with_headers ? 4 : 3;
    const std::size_t n = split_args(arg, a, max);
    if (n < max - 1 || n > max) return ParseStatus::bad_arguments;
    out.subject = a[0];
    if (n == max) out.reply = a[1];
    read_sizes(a, n, with_headers, out);
  } else {
    // [origin] account subject [reply | + reply queues... | '|' queues...] [hdr] size
    queue_views_.resize(16);
    std::size_t n = split_args(arg, queue_views_.data(), queue_views_.size());
    if (n > queue_views_.size()) {
      queue_views_.resize(n);
      n = split_args(arg, queue_views_.data(), queue_views_.size());
    }
    const std::size_t fixed = (origin ? 1 : 0) + 2;
    const std::size_t tail = with_headers ? 2 : 1;
    if (n < fixed + tail) return ParseStatus::bad_arguments;
    const std::string_view* a = queue_views_.data();
    out.origin_cluster = origin;
    out.account = a[fixed - 2];
    out.subject = a[fixed - 1];
    const std::size_t middle = n - fixed - tail;
    if (middle == 1) {
      out.reply = a[fixed];
    } else if (middle >= 2) {
      const std::string_view indicator = a[fixed];
      std::size_t first_queue = fixed + 1;
      if (indicator == "+") {
        out.reply = a[fixed + 1];
        first_queue = fixed + 2;
      } else if (indicator != "|") {
        return ParseStatus::bad_arguments;
      }
      out.queues = std::span<const std::string_view>(a + first_queue, n - tail - first_queue);
    }
    read_sizes(a, n, with_headers, out);
  }
  if (!sizes_valid(out, with_headers)) return ParseStatus::bad_arguments;
  if (!route_msg && limits_.max_payload >= 0 && out.total_size > limits_.max_payload) {
    return ParseStatus::max_payload;
  }
  return ParseStatus::ok;
}

// MSG <subject> <sid> [reply] <size> / HMSG <subject> <sid> [reply] <hdr> <size>, as a client reads them.
ParseStatus Parser::parse_delivery_args(std::string_view arg, bool with_headers, MessageArgs& out) {
  reset(out);
  std::string_view a[5];
  const std::size_t max = with_headers ? 5 : 4;
  const std::size_t n = split_args(arg, a, max);
  if (n < max - 1 || n > max) return ParseStatus::bad_arguments;
  out.subject = a[0];
  out.sid = a[1];
  if (n == max) out.reply = a[2];
  read_sizes(a, n, with_headers, out);
  return sizes_valid(out, with_headers) ? ParseStatus::ok : ParseStatus::bad_arguments;
}

ParseStatus Parser::dispatch_message(const MessageArgs& args, std::string_view payload, ParserHandler& handler) {
  return handler.on_message(args, payload) ? ParseStatus::ok : ParseStatus::stopped_by_handler;
}

std::string fold_json_key(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c + 32));
    } else if (key.substr(i, 2) == "\xC5\xBF") {  // U+017F LATIN SMALL LETTER LONG S
      out.push_back('s');
      i += 1;
    } else if (key.substr(i, 3) == "\xE2\x84\xAA") {  // U+212A KELVIN SIGN
      out.push_back('k');
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

inline bool is_json_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The index just past the string starting at `i` (a quote), or the end of the text.
std::size_t json_string_end(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return s.size();
}

// The index just past the value starting at `i`: a string, a bracketed object or array
// (strings inside honoured), or a bare scalar.
std::size_t json_value_end(std::string_view s, std::size_t i) {
  if (i >= s.size()) return i;
  if (s[i] == '"') return json_string_end(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = json_string_end(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_json_blank(s[i])) ++i;
  return i;
}

void append_utf8(std::string& out, unsigned code) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// A quoted key's text with its escapes undone, so an escaped field name ("p\u0061ss") is
// recognised as Go's decoder would recognise it.
std::string unescape_json_key(std::string_view quoted) {
  std::string out;
  std::string_view body = quoted.substr(1);
  if (!body.empty() && body.back() == '"') body.remove_suffix(1);
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 >= body.size()) {
      out.push_back(body[i]);
      continue;
    }
    const char e = body[++i];
    if (e == 'u' && i + 4 < body.size()) {
      unsigned code = 0;
      bool ok = true;
      for (std::size_t k = 1; k <= 4 && ok; ++k) {
        const char h = body[i + k];
        code <<= 4;
        if (h >= '0' && h <= '9') {
          code |= static_cast<unsigned>(h - '0');
        } else if (h >= 'a' && h <= 'f') {
          code |= static_cast<unsigned>(h - 'a' + 10);
        } else if (h >= 'A' && h <= 'F') {
          code |= static_cast<unsigned>(h - 'A' + 10);
        } else {
          ok = false;
        }
      }
      if (ok) {
        append_utf8(out, code);
        i += 4;
        continue;
      }
    }
    out.push_back(e);
  }
  return out;
}

bool is_secret_connect_key(std::string_view quoted_key) {
  const std::string k = fold_json_key(unescape_json_key(quoted_key));
  return k == "auth_token" || k == "sig" || k == "jwt" || k.rfind("pass", 0) == 0;
}

}  // namespace

std::string redact_connect_secrets(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  std::size_t i = 0;
  while (i < json.size()) {
    if (json[i] != '"') {
      out.push_back(json[i++]);
      continue;
    }
    const std::size_t key_end = json_string_end(json, i);
    const std::string_view key = json.substr(i, key_end - i);
    out.append(key);
    i = key_end;
    std::size_t j = i;
    while (j < json.size() && is_json_blank(json[j])) ++j;
    if (j >= json.size() || json[j] != ':' || !is_secret_connect_key(key)) continue;
    ++j;
    while (j < json.size() && is_json_blank(json[j])) ++j;
    out.append(json.substr(i, j - i));  // the colon and the blanks around it
    const std::size_t value_end = json_value_end(json, j);
    if (value_end > j) out.append(json[j] == '"' ? "\"[REDACTED]\"" : "[REDACTED]");
    i = value_end;
  }
  return out;
}

}  // namespace forest::protocol
