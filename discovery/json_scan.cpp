#include "discovery/json_scan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <vector>

namespace forest::discovery {

namespace {

// simdjson's DOM parser refuses documents nested deeper than this (DEFAULT_MAX_DEPTH).
constexpr std::size_t kMaxDepth = 1024;

std::string describe(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (c == '\'') return "\"'\"";
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  static constexpr char hex[] = "0123456789abcdef";
  return std::string("byte 0x") + hex[u >> 4] + hex[u & 0xf];
}

// Recursive descent over the text. Either finds the first error, or (with a target path)
// stops at the start of the target value.
class Scanner {
 public:
  Scanner(std::string_view text, std::span<const std::size_t> target, bool has_target)
      : text_(text), target_(target), has_target_(has_target) {}

  // True when the document is well-formed (or the target was found first).
  bool document() {
    if (text_.empty()) return fail(0, "empty file, expected a JSON value");
    if (text_.starts_with("\xef\xbb\xbf")) return fail(0, "a UTF-8 byte order mark starts the file; JSON must not have one");
    skip_ws();
    if (!value()) return false;
    if (found_) return true;
    skip_ws();
    if (pos_ < text_.size()) return fail(pos_, "unexpected " + describe(text_[pos_]) + " after the JSON value");
    return true;
  }

  [[nodiscard]] const std::optional<SyntaxError>& error() const { return error_; }
  [[nodiscard]] std::optional<std::size_t> found() const {
    return found_ ? std::optional<std::size_t>(found_at_) : std::nullopt;
  }

 private:
  bool fail(std::size_t offset, std::string message) {
    error_ = SyntaxError{offset, std::move(message)};
    return false;
  }
  [[nodiscard]] bool at_end() const { return pos_ >= text_.size(); }
  [[nodiscard]] char peek() const { return text_[pos_]; }

  void skip_ws() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }

  // Returns false to unwind, on an error or when the target is found.
  bool value() {
    if (has_target_ && path_.size() == target_.size() &&
        std::equal(path_.begin(), path_.end(), target_.begin())) {
      found_ = true;
      found_at_ = pos_;
      return false;
    }
    if (at_end()) return fail(pos_, "unexpected end of file, expected a value");
    switch (peek()) {
      case '{': return object();
      case '[': return array();
      case '"': return string("a string");
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return number();
        return fail(pos_, "unexpected " + describe(peek()) + ", expected a value");
    }
  }

  bool enter(std::size_t at) {
    if (path_.size() >= kMaxDepth) return fail(at, "nesting deeper than 1024 levels");
    return true;
  }

  bool object() {
    const std::size_t open = pos_++;
    if (!enter(open)) return false;
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return true;
    }
    for (std::size_t index = 0;; ++index) {
      if (at_end()) return fail(pos_, "unexpected end of file in the object opened at " + where(open) + " (missing '}')");
      if (peek() != '"') {
        if (index > 0 && peek() == '}') return fail(pos_, "unexpected '}' after ',' (trailing comma)");
        return fail(pos_, "unexpected " + describe(peek()) + ", expected a quoted key" +
                              (index == 0 ? std::string(" or '}'") : std::string()));
      }
      if (!string("a key")) return false;
      skip_ws();
      if (at_end()) return fail(pos_, "unexpected end of file after an object key, expected ':'");
      if (peek() != ':') return fail(pos_, "unexpected " + describe(peek()) + " after an object key, expected ':'");
      ++pos_;
      skip_ws();
      path_.push_back(index);
      if (!value()) return false;
      path_.pop_back();
      skip_ws();
      if (at_end()) return fail(pos_, "unexpected end of file in the object opened at " + where(open) + " (missing '}')");
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      if (peek() != ',') return fail(pos_, "unexpected " + describe(peek()) + " in an object, expected ',' or '}'");
      ++pos_;
      skip_ws();
    }
  }

  bool array() {
    const std::size_t open = pos_++;
    if (!enter(open)) return false;
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return true;
    }
    for (std::size_t index = 0;; ++index) {
      if (at_end()) return fail(pos_, "unexpected end of file in the array opened at " + where(open) + " (missing ']')");
      if (peek() == ']') return fail(pos_, "unexpected ']' after ',' (trailing comma)");
      path_.push_back(index);
      if (!value()) return false;
      path_.pop_back();
      skip_ws();
      if (at_end()) return fail(pos_, "unexpected end of file in the array opened at " + where(open) + " (missing ']')");
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      if (peek() != ',') return fail(pos_, "unexpected " + describe(peek()) + " in an array, expected ',' or ']'");
      ++pos_;
      skip_ws();
    }
  }

  static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  // One UTF-8 sequence starting at pos_ (a byte >= 0x80); strict like simdjson: no overlongs,
  // no surrogates, nothing above U+10FFFF.
  bool utf8_sequence() {
    const auto b0 = static_cast<unsigned char>(peek());
    std::size_t len = 0;
    std::uint32_t cp = 0;
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
      return fail(pos_, "invalid UTF-8 (" + describe(peek()) + ")");
    }
    for (std::size_t i = 1; i < len; ++i) {
      if (pos_ + i >= text_.size()) return fail(pos_, "invalid UTF-8 (sequence cut off by the end of file)");
      const auto b = static_cast<unsigned char>(text_[pos_ + i]);
      if ((b & 0xc0) != 0x80) return fail(pos_, "invalid UTF-8 (" + describe(peek()) + " is not followed by a continuation byte)");
      cp = (cp << 6) | (b & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return fail(pos_, "invalid UTF-8 (overlong, surrogate or out-of-range sequence)");
    }
    pos_ += len;
    return true;
  }

  bool string(const char* what) {
    const std::size_t open = pos_++;
    for (;;) {
      if (at_end()) return fail(pos_, std::string("unexpected end of file in ") + what + " started at " + where(open) + " (missing '\"')");
      const char c = peek();
      const auto u = static_cast<unsigned char>(c);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (u < 0x20) return fail(pos_, "control character " + describe(c) + " in a string (it must be escaped)");
      if (u >= 0x80) {
        if (!utf8_sequence()) return false;
        continue;
      }
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) return fail(pos_ + 1, "unexpected end of file in an escape sequence");
        const char e = text_[pos_ + 1];
        if (e == 'u') {
          for (std::size_t i = 2; i < 6; ++i) {
            if (pos_ + i >= text_.size()) return fail(pos_ + i, "unexpected end of file in a \\u escape");
            if (!is_hex(text_[pos_ + i])) return fail(pos_, "invalid \\u escape (expected 4 hex digits)");
          }
          pos_ += 6;
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return fail(pos_, "invalid escape sequence '\\" + std::string(1, e) + "'");
        }
        pos_ += 2;
        continue;
      }
      ++pos_;
    }
  }

  bool digits() {
    const std::size_t start = pos_;
    while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    return pos_ > start;
  }

  bool number() {
    const std::size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (at_end() || !(peek() >= '0' && peek() <= '9')) return fail(start, "invalid number (a digit must follow '-')");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') return fail(start, "invalid number (leading zero)");
    } else {
      digits();
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digits()) return fail(start, "invalid number (a digit must follow '.')");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digits()) return fail(start, "invalid number (a digit must follow the exponent)");
    }
    if (!representable(text_.substr(start, pos_ - start))) {
      return fail(start, "number out of range (simdjson takes 64-bit integers and finite doubles)");
    }
    return true;
  }

  // What simdjson's DOM refuses although RFC 8259 allows it: integers past 64 bits, doubles
  // that overflow to infinity.
  static bool representable(std::string_view n) {
    if (n.find_first_of(".eE") != std::string_view::npos) {
      const std::string copy(n);
      return std::isfinite(std::strtod(copy.c_str(), nullptr));
    }
    const bool negative = n.front() == '-';
    if (negative) n.remove_prefix(1);
    // 9223372036854775808 is -INT64_MIN; 18446744073709551615 is UINT64_MAX.
    const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
    if (n.size() != limit.size()) return n.size() < limit.size();
    return n <= limit;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      const bool truncated = pos_ + word.size() > text_.size() &&
                             word.starts_with(text_.substr(pos_));
      return fail(truncated ? text_.size() : pos_,
                  std::string(truncated ? "unexpected end of file in '" : "invalid literal, expected '") +
                      std::string(word) + "'");
    }
    pos_ += word.size();
    return true;
  }

  [[nodiscard]] std::string where(std::size_t offset) const {
    const TextPosition p = position_at(text_, offset);
    return std::to_string(p.line) + ":" + std::to_string(p.column);
  }

  std::string_view text_;
  std::span<const std::size_t> target_;
  bool has_target_;
  std::size_t pos_ = 0;
  std::vector<std::size_t> path_;
  std::optional<SyntaxError> error_;
  bool found_ = false;
  std::size_t found_at_ = 0;
};

}  // namespace

TextPosition position_at(std::string_view text, std::size_t offset) {
  TextPosition p;
  if (offset > text.size()) offset = text.size();
  for (std::size_t i = 0; i < offset; ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else if ((u & 0xc0) != 0x80) {
      ++p.column;  // continuation bytes belong to the code point before them
    }
  }
  return p;
}

std::optional<SyntaxError> find_syntax_error(std::string_view text) {
  Scanner s(text, {}, false);
  if (s.document()) return std::nullopt;
  return s.error();
}

std::optional<std::size_t> find_value_offset(std::string_view text, std::span<const std::size_t> path) {
  Scanner s(text, path, true);
  (void)s.document();
  return s.found();
}

}  // namespace forest::discovery
