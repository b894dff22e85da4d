#include "app/core/go_json.hpp"

#include <array>

#include "app/core/json_scan.hpp"

namespace forest::app {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_u00(std::string& out, unsigned char c) {
  out.append("\\u00");
  out.push_back(hex_digits[c >> 4]);
  out.push_back(hex_digits[c & 0xf]);
}

// Bytes 2 and 3 of U+2028 / U+2029 after an E2 at s[i].
bool is_line_separator_at(std::string_view s, std::size_t i) noexcept {
  return i + 2 < s.size() && static_cast<unsigned char>(s[i]) == 0xe2 &&
         static_cast<unsigned char>(s[i + 1]) == 0x80 && (static_cast<unsigned char>(s[i + 2]) & ~1U) == 0xa8;
}

constexpr char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<signed char, 256> base64_values = [] {
  std::array<signed char, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<signed char>(i);
  return t;
}();

std::unexpected<Error> base64_error(std::size_t at) {
  return fail(Errc::bad_base64, "illegal base64 data at input byte " + std::to_string(at));
}

constexpr bool is_newline(char c) noexcept { return c == '\n' || c == '\r'; }

}  // namespace

void append_go_string(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '<': case '>': case '&': append_u00(out, c); break;
        default:
          if (c < 0x20) {
            append_u00(out, c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out.append("\\ufffd");
      ++i;
    } else if (n == 3 && is_line_separator_at(s, i)) {
      out.append("\\u202");
      out.push_back(hex_digits[static_cast<unsigned char>(s[i + 2]) & 0xf]);
      i += 3;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  out.push_back('"');
}

std::expected<void, Error> append_raw_json(std::string& out, std::string_view raw, int outer_depth) {
  if (raw.empty()) {
    out.append("null");
    return {};
  }
  auto span = check_document(raw, outer_depth);
  if (!span) return std::unexpected(std::move(span.error()));
  // The value is valid from here on, so the copy only tracks whether it is inside a string.
  bool in_string = false;
  for (std::size_t i = span->first; i < span->last; ++i) {
    const char c = raw[i];
    if (!in_string) {
      if (is_json_space(c)) continue;
      if (c == '"') in_string = true;
      out.push_back(c);
      continue;
    }
    if (c == '\\') {
      // An escape is kept as written; its second byte is ASCII and never escaped.
      out.push_back(c);
      out.push_back(raw[++i]);
    } else if (c == '"') {
      in_string = false;
      out.push_back(c);
    } else if (c == '<' || c == '>' || c == '&') {
      append_u00(out, static_cast<unsigned char>(c));
    } else if (is_line_separator_at(raw, i)) {
      out.append("\\u202");
      out.push_back(hex_digits[static_cast<unsigned char>(raw[i + 2]) & 0xf]);
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return {};
}

std::expected<std::string, Error> compact_json(std::string_view raw, int outer_depth) {
  std::string out;
  auto r = append_raw_json(out, raw, outer_depth);
  if (!r) return std::unexpected(std::move(r.error()));
  return out;
}

void append_base64(std::string& out, std::string_view bytes) {
  std::size_t i = 0;
  const auto at = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    out.push_back(base64_alphabet[(v >> 18) & 63]);
    out.push_back(base64_alphabet[(v >> 12) & 63]);
    out.push_back(base64_alphabet[(v >> 6) & 63]);
    out.push_back(base64_alphabet[v & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) return;
  const std::uint32_t v = at(i) << 16 | (rest == 2 ? at(i + 1) << 8 : 0);
  out.push_back(base64_alphabet[(v >> 18) & 63]);
  out.push_back(base64_alphabet[(v >> 12) & 63]);
  out.push_back(rest == 2 ? base64_alphabet[(v >> 6) & 63] : '=');
  out.push_back('=');
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  append_base64(out, bytes);
  return out;
}

std::expected<std::string, Error> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::size_t si = 0;
  const auto skip_newlines = [&] {
    while (si < text.size() && is_newline(text[si])) ++si;
  };
  while (true) {
    // One quantum: up to four symbols, or fewer closed by padding.
    std::uint32_t symbols[4] = {0, 0, 0, 0};
    std::size_t count = 4;
    for (std::size_t j = 0; j < 4; ++j) {
      skip_newlines();
      if (si == text.size()) {
        if (j == 0) return out;
        return base64_error(si - j);  // a partial quantum: padding is required
      }
      const char c = text[si++];
      const signed char v = base64_values[static_cast<unsigned char>(c)];
      if (v >= 0) {
        symbols[j] = static_cast<std::uint32_t>(v);
        continue;
      }
      if (c != '=' || j < 2) return base64_error(si - 1);
      if (j == 2) {
        skip_newlines();
        if (si == text.size()) return base64_error(si);
        if (text[si] != '=') return base64_error(si - 1);
        ++si;
      }
      skip_newlines();
      if (si < text.size()) return base64_error(si);  // data after the padding
      count = j;
      break;
    }
    const std::uint32_t v = symbols[0] << 18 | symbols[1] << 12 | symbols[2] << 6 | symbols[3];
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (count >= 3) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (count == 4) out.push_back(static_cast<char>(v & 0xff));
    if (count < 4) return out;
  }
}

bool go_key_matches(std::string_view key, std::string_view name) noexcept {
  std::size_t i = 0;
  for (const char want : name) {
    if (i >= key.size()) return false;
    const char c = key[i];
    if (static_cast<unsigned char>(c) < 0x80) {
      const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
      if (lower != want) return false;
      ++i;
    } else if (want == 's' && key.substr(i, 2) == "\xc5\xbf") {
      i += 2;
    } else if (want == 'k' && key.substr(i, 3) == "\xe2\x84\xaa") {
      i += 3;
    } else {
      return false;
    }
  }
  return i == key.size();
}

std::optional<std::size_t> match_field(std::string_view key, std::span<const std::string_view> names) noexcept {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == key) return i;
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (go_key_matches(key, names[i])) return i;
  }
  return std::nullopt;
}

std::string_view json_kind(std::string_view value) noexcept {
  if (value.empty()) return "value";
  switch (value.front()) {
    case '{': return "object";
    case '[': return "array";
    case '"': return "string";
    case 't': case 'f': return "bool";
    case 'n': return "null";
    default: return "number";
  }
}

std::unexpected<Error> type_error(std::string_view value, std::string_view field, std::string_view go_type) {
  std::string text = "json: cannot unmarshal ";
  text += json_kind(value);
  if (json_kind(value) == "number") {
    text += ' ';
    text += value;
  }
  text += " into Go struct field ";
  text += field;
  text += " of type ";
  text += go_type;
  return fail(Errc::type_mismatch, std::move(text));
}

std::expected<std::optional<std::vector<Member>>, Error> object_members(std::string_view doc,
                                                                        std::string_view go_type) {
  auto span = check_document(doc);
  if (!span) return std::unexpected(std::move(span.error()));
  const std::string_view value = doc.substr(span->first, span->last - span->first);
  if (value == "null") return std::optional<std::vector<Member>>{};
  if (value.front() != '{') {
    return fail(Errc::type_mismatch,
                "json: cannot unmarshal " + std::string(json_kind(value)) + " into Go value of type " + std::string(go_type));
  }
  std::vector<Member> members;
  std::size_t i = skip_json_space(doc, span->first + 1);
  if (doc[i] == '}') return std::optional(std::move(members));
  while (true) {
    auto key_end = scan_value(doc, i, 1);
    if (!key_end) return std::unexpected(std::move(key_end.error()));
    auto key = unquote_json_string(doc.substr(i, *key_end - i));
    if (!key) return std::unexpected(std::move(key.error()));
    i = skip_json_space(doc, *key_end) + 1;  // past the ':'
    i = skip_json_space(doc, i);
    auto value_end = scan_value(doc, i, 1);
    if (!value_end) return std::unexpected(std::move(value_end.error()));
    members.push_back(Member{std::move(*key), doc.substr(i, *value_end - i)});
    i = skip_json_space(doc, *value_end);
    if (doc[i] == '}') break;
    i = skip_json_space(doc, i + 1);  // past the ','
  }
  return std::optional(std::move(members));
}

std::expected<void, Error> decode_string_field(std::string_view value, std::string& out, std::string_view field) {
  if (value == "null") return {};
  if (value.empty() || value.front() != '"') return type_error(value, field, "string");
  auto s = unquote_json_string(value);
  if (!s) return std::unexpected(std::move(s.error()));
  out = std::move(*s);
  return {};
}

void decode_raw_field(std::string_view value, std::string& out) { out.assign(value); }

std::expected<void, Error> decode_bytes_field(std::string_view value, std::optional<std::string>& out,
                                              std::string_view field) {
  if (value == "null") {
    out.reset();
    return {};
  }
  if (value.empty() || value.front() != '"') return type_error(value, field, "[]uint8");
  auto s = unquote_json_string(value);
  if (!s) return std::unexpected(std::move(s.error()));
  auto bytes = base64_decode(*s);
  if (!bytes) return std::unexpected(std::move(bytes.error()));
  out = std::move(*bytes);
  return {};
}

std::expected<void, Error> decode_uint64_field(std::string_view value, std::uint64_t& out, std::string_view field) {
  if (value == "null") return {};
  if (json_kind(value) != "number") return type_error(value, field, "uint64");
  // strconv.ParseUint(s, 10, 64): digits only, so a sign, a fraction or an exponent is refused.
  std::uint64_t n = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return type_error(value, field, "uint64");
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return type_error(value, field, "uint64");
    n = n * 10 + d;
  }
  out = n;
  return {};
}

}  // namespace forest::app
