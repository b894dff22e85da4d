#include "discovery/json_write.hpp"

#include <cstdint>

namespace forest::discovery::detail {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence at s[i] (a byte >= 0x80) and its code point, or 0.
std::size_t utf8_length(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

void append_u_escape(std::string& out, unsigned v) {
  out += "\\u";
  out += kHex[(v >> 12) & 0xf];
  out += kHex[(v >> 8) & 0xf];
  out += kHex[(v >> 4) & 0xf];
  out += kHex[v & 0xf];
}

}  // namespace

void append_go_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '<':
        case '>':
        case '&': append_u_escape(out, c); break;
        default:
          if (c < 0x20) {
            append_u_escape(out, c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    std::uint32_t cp = 0;
    const std::size_t len = utf8_length(s, i, cp);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    // JavaScript treats these two as line ends inside strings; Go escapes them.
    if (cp == 0x2028 || cp == 0x2029) {
      append_u_escape(out, cp);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += '"';
}

}  // namespace forest::discovery::detail
