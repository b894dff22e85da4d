#include "app/core/json_scan.hpp"

#include <string>

namespace forest::app {

namespace {

std::unexpected<Error> syntax_error(std::string_view in, std::size_t pos, std::string_view looking_for) {
  if (pos >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
  std::string text = describe_byte_at(in, pos);
  text += ' ';
  text += looking_for;
  return fail(Errc::syntax, std::move(text));
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits at s[i..i+4) as a number, or -1 (Go's getu4 without the "\u").
int hex4(std::string_view s, std::size_t i) noexcept {
  if (i + 4 > s.size()) return -1;
  int v = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    const int h = hex_value(s[k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// A string token starting at in[pos] == '"'; returns one past the closing quote.
std::expected<std::size_t, Error> scan_string(std::string_view in, std::size_t pos) {
  std::size_t i = pos + 1;
  while (true) {
    if (i >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
    const auto c = static_cast<unsigned char>(in[i]);
    if (c == '"') return i + 1;
    if (c < 0x20) return syntax_error(in, i, "in string literal");
    if (c != '\\') {
      ++i;
      continue;
    }
    if (i + 1 >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
    switch (in[i + 1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        i += 2;
        break;
      case 'u':
        for (std::size_t k = i + 2; k < i + 6; ++k) {
          if (k >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
          if (hex_value(in[k]) < 0) return syntax_error(in, k, "in \\u hexadecimal character escape");
        }
        i += 6;
        break;
      default:
        return syntax_error(in, i + 1, "in string escape code");
    }
  }
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? starting at in[pos].
std::expected<std::size_t, Error> scan_number(std::string_view in, std::size_t pos) {
  std::size_t i = pos;
  if (in[i] == '-') {
    ++i;
    if (i >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
    if (!is_digit(in[i])) return syntax_error(in, i, "in numeric literal");
  }
  if (in[i] == '0') {
    ++i;
  } else {
    while (i < in.size() && is_digit(in[i])) ++i;
  }
  if (i < in.size() && in[i] == '.') {
    ++i;
    if (i >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
    if (!is_digit(in[i])) return syntax_error(in, i, "after decimal point in numeric literal");
    while (i < in.size() && is_digit(in[i])) ++i;
  }
  if (i < in.size() && (in[i] == 'e' || in[i] == 'E')) {
    ++i;
    if (i < in.size() && (in[i] == '+' || in[i] == '-')) ++i;
    if (i >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
    if (!is_digit(in[i])) return syntax_error(in, i, "in exponent of numeric literal");
    while (i < in.size() && is_digit(in[i])) ++i;
  }
  return i;
}

std::expected<std::size_t, Error> scan_literal(std::string_view in, std::size_t pos, std::string_view word) {
  for (std::size_t k = 0; k < word.size(); ++k) {
    if (pos + k >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
    if (in[pos + k] != word[k]) return syntax_error(in, pos + k, "in literal (expecting a word)");
  }
  return pos + word.size();
}

}  // namespace

std::string describe_byte_at(std::string_view in, std::size_t pos) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string text = "invalid character ";
  const auto c = static_cast<unsigned char>(in[pos]);
  if (c == '\'') {
    text += "'\\''";
  } else if (c == '"') {
    text += "'\"'";
  } else if (c >= 0x20 && c < 0x7f) {
    text += '\'';
    text += static_cast<char>(c);
    text += '\'';
  } else {
    text += "'\\x";
    text += hex[c >> 4];
    text += hex[c & 0xf];
    text += '\'';
  }
  text += " at offset ";
  text += std::to_string(pos);
  return text;
}

std::expected<std::size_t, Error> scan_value(std::string_view in, std::size_t pos, int outer_depth, int max_depth) {
  // What the scan expects next; `open` holds the open containers, '{' or '['.
  enum class Want { value, key, after_value };
  std::string open;
  Want want = Want::value;
  std::size_t i = pos;
  while (true) {
    switch (want) {
      case Want::value: {
        if (i >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
        const char c = in[i];
        if (c == '{' || c == '[') {
          if (outer_depth + static_cast<int>(open.size()) + 1 > max_depth) {
            return fail(Errc::too_deep, "exceeded max depth at offset " + std::to_string(i));
          }
          open.push_back(c);
          i = skip_json_space(in, i + 1);
          const char close = c == '{' ? '}' : ']';
          if (i < in.size() && in[i] == close) {
            open.pop_back();
            ++i;
            want = Want::after_value;
          } else {
            want = c == '{' ? Want::key : Want::value;
          }
          break;
        }
        std::expected<std::size_t, Error> end;
        if (c == '"') {
          end = scan_string(in, i);
        } else if (c == '-' || is_digit(c)) {
          end = scan_number(in, i);
        } else if (c == 't') {
          end = scan_literal(in, i, "true");
        } else if (c == 'f') {
          end = scan_literal(in, i, "false");
        } else if (c == 'n') {
          end = scan_literal(in, i, "null");
        } else {
          return syntax_error(in, i, "looking for beginning of value");
        }
        if (!end) return std::unexpected(std::move(end.error()));
        i = *end;
        want = Want::after_value;
        break;
      }
      case Want::key: {
        if (i >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
        if (in[i] != '"') return syntax_error(in, i, "looking for beginning of object key string");
        auto end = scan_string(in, i);
        if (!end) return std::unexpected(std::move(end.error()));
        i = skip_json_space(in, *end);
        if (i >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
        if (in[i] != ':') return syntax_error(in, i, "after object key");
        i = skip_json_space(in, i + 1);
        want = Want::value;
        break;
      }
      case Want::after_value: {
        if (open.empty()) return i;
        i = skip_json_space(in, i);
        if (i >= in.size()) return fail(Errc::syntax, "unexpected end of JSON input");
        const bool in_object = open.back() == '{';
        if (in[i] == ',') {
          i = skip_json_space(in, i + 1);
          want = in_object ? Want::key : Want::value;
        } else if (in[i] == (in_object ? '}' : ']')) {
          open.pop_back();
          ++i;
        } else {
          return syntax_error(in, i, in_object ? "after object key:value pair" : "after array element");
        }
        break;
      }
    }
  }
}

std::expected<Span, Error> check_document(std::string_view in, int outer_depth, int max_depth) {
  const std::size_t first = skip_json_space(in, 0);
  auto end = scan_value(in, first, outer_depth, max_depth);
  if (!end) return std::unexpected(std::move(end.error()));
  const std::size_t rest = skip_json_space(in, *end);
  if (rest != in.size()) return syntax_error(in, rest, "after top-level value");
  return Span{first, *end};
}

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto in_range = [&](std::size_t k, unsigned lo, unsigned hi) {
    return k < s.size() && b(k) >= lo && b(k) <= hi;
  };
  const unsigned c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return in_range(i + 1, 0x80, 0xbf) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    // E0 needs A0.. (no overlong forms), ED stops at 9F (no surrogates).
    const unsigned lo = c == 0xe0 ? 0xa0 : 0x80;
    const unsigned hi = c == 0xed ? 0x9f : 0xbf;
    return in_range(i + 1, lo, hi) && in_range(i + 2, 0x80, 0xbf) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    // F0 needs 90.. (no overlong forms), F4 stops at 8F (nothing beyond U+10FFFF).
    const unsigned lo = c == 0xf0 ? 0x90 : 0x80;
    const unsigned hi = c == 0xf4 ? 0x8f : 0xbf;
    return in_range(i + 1, lo, hi) && in_range(i + 2, 0x80, 0xbf) && in_range(i + 3, 0x80, 0xbf) ? 4 : 0;
  }
  return 0;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

std::expected<std::string, Error> unquote_json_string(std::string_view token) {
  if (token.size() < 2 || token.front() != '"' || token.back() != '"') {
    return fail(Errc::syntax, "not a JSON string");
  }
  const std::string_view s = token.substr(1, token.size() - 2);
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c < 0x20) return fail(Errc::syntax, "invalid character in string literal");
    if (c == '\\') {
      if (i + 1 >= s.size()) return fail(Errc::syntax, "unterminated string escape");
      const char e = s[i + 1];
      i += 2;
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          const int r = hex4(s, i);
          if (r < 0) return fail(Errc::syntax, "invalid \\u escape in string literal");
          i += 4;
          auto cp = static_cast<char32_t>(r);
          if (cp >= 0xd800 && cp < 0xe000) {
            // Only a high surrogate directly followed by an escaped low one makes a pair; the
            // following escape is otherwise left for the next round, as Go does.
            const int r2 = i + 1 < s.size() && s[i] == '\\' && s[i + 1] == 'u' ? hex4(s, i + 2) : -1;
            if (cp < 0xdc00 && r2 >= 0xdc00 && r2 < 0xe000) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (static_cast<char32_t>(r2) - 0xdc00);
              i += 6;
            } else {
              cp = 0xfffd;
            }
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return fail(Errc::syntax, "invalid escape in string literal");
      }
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      append_utf8(out, 0xfffd);
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace forest::app
