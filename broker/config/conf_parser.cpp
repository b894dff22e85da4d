// A recursive-descent reader for nats-server's configuration format:
//   key: value | key = value | key value | key { ... }
//   values: "double", 'single', bare strings, integers with size suffixes (1K, 1MB, 2GiB),
//   floats, booleans (true/false/yes/no/on/off), [arrays], {maps}, (block strings),
//   $variables (earlier keys in any enclosing map, then the environment), include <file>.
//   comments: # and //.  Entries end at a newline, ',' or ';'.
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/conf_value.hpp"

namespace forest::config {

std::string SourcePos::describe() const {
  std::ostringstream out;
  out << (file ? *file : std::string("<config>")) << ":" << line << ":" << column;
  return out.str();
}

const ConfValue* ConfValue::find(std::string_view key) const {
  for (auto it = map.rbegin(); it != map.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

std::string_view ConfValue::type_name() const {
  switch (type) {
    case Type::string: return "string";
    case Type::integer: return "integer";
    case Type::floating: return "float";
    case Type::boolean: return "boolean";
    case Type::map: return "map";
    case Type::array: return "array";
  }
  return "value";
}

namespace {

constexpr int kMaxIncludeDepth = 10;
constexpr int kMaxNesting = 64;

class Reader {
 public:
  Reader(std::string_view text, std::shared_ptr<const std::string> file, int include_depth,
         std::vector<ConfValue*>* scopes)
      : text_(text), file_(std::move(file)), include_depth_(include_depth), scopes_(scopes) {}

  std::expected<void, ConfError> read_document(ConfValue& top) {
    top.type = ConfValue::Type::map;
    top.pos = here();
    scopes_->push_back(&top);
    auto r = read_entries(top, /*closing=*/'\0');
    scopes_->pop_back();
    return r;
  }

 private:
  // ---- positions and errors
  SourcePos here() const { return SourcePos{file_, line_, col_}; }
  std::unexpected<ConfError> fail(const SourcePos& at, const std::string& what) const {
    return std::unexpected(ConfError{at.describe() + ": " + what});
  }
  std::unexpected<ConfError> fail(const std::string& what) const { return fail(here(), what); }

  bool eof() const { return pos_ >= text_.size(); }
  char peek(std::size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  char get() {
    const char c = text_[pos_++];
    if (c == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    return c;
  }

  static bool is_blank(char c) { return c == ' ' || c == '\t'; }
  static bool is_nl(char c) { return c == '\n' || c == '\r'; }

  void skip_comment() {
    while (!eof() && peek() != '\n') get();
  }
  bool at_comment() const { return peek() == '#' || (peek() == '/' && peek(1) == '/'); }

  // Skips blanks, newlines, comments and (where allowed) separators between entries.
  void skip_space(bool newlines, bool separators) {
    while (!eof()) {
      const char c = peek();
      if (is_blank(c) || (newlines && is_nl(c)) || (separators && (c == ',' || c == ';'))) {
        get();
      } else if (at_comment()) {
        skip_comment();
      } else {
        return;
      }
    }
  }

  // ---- entries
  std::expected<void, ConfError> read_entries(ConfValue& map, char closing) {
    for (;;) {
      skip_space(true, true);
      if (eof()) {
        if (closing != '\0') return fail(std::string("expected '") + closing + "' before the end of the file");
        return {};
      }
      if (peek() == closing) {
        get();
        return {};
      }
      if (peek() == '}' || peek() == ']') return fail(std::string("unexpected '") + peek() + "'");
      auto r = read_entry(map);
      if (!r) return r;
    }
  }

  std::expected<void, ConfError> read_entry(ConfValue& map) {
    const SourcePos key_pos = here();
    std::string key;
    if (peek() == '"' || peek() == '\'') {
      auto q = read_quoted();
      if (!q) return std::unexpected(q.error());
      key = std::move(*q);
    } else {
      while (!eof()) {
        const char c = peek();
        if (is_blank(c) || is_nl(c) || c == '=' || c == ':' || c == '{' || c == '[' || c == '}' || c == ']' ||
            c == ',' || c == ';' || c == '#') {
          break;
        }
        key.push_back(get());
      }
    }
    if (key.empty()) return fail(key_pos, "expected a key");

    // `include <file>` merges another file's keys here.
    if (key == "include" && (is_blank(peek()))) {
      skip_space(false, false);
      return read_include(map, key_pos);
    }

    // Separator: '=', ':' or whitespace; a '{' or '[' may follow the key directly.
    skip_space(false, false);
    if (peek() == '=' || peek() == ':') {
      get();
      skip_space(false, false);
    }
    if (eof() || is_nl(peek()) || at_comment()) return fail(key_pos, "expected a value for key '" + key + "'");

    ConfValue value;
    auto r = read_value(value, 0);
    if (!r) return r;
    value.key_pos = key_pos;
    map.map.emplace_back(std::move(key), std::move(value));
    return end_of_entry('}');
  }

  // After a value: blanks, then a comment, newline, ',' / ';', the closing bracket, or the end.
  std::expected<void, ConfError> end_of_entry(char closing) {
    skip_space(false, false);
    if (eof() || is_nl(peek()) || peek() == ',' || peek() == ';' || peek() == closing || peek() == '}') return {};
    return fail(std::string("unexpected '") + peek() + "' after a value (expected a newline, ',' or ';')");
  }

  std::expected<void, ConfError> read_include(ConfValue& map, const SourcePos& at) {
    std::string rel;
    if (peek() == '"' || peek() == '\'') {
      auto q = read_quoted();
      if (!q) return std::unexpected(q.error());
      rel = std::move(*q);
    } else {
      while (!eof() && !is_blank(peek()) && !is_nl(peek()) && peek() != ';' && peek() != ',' && peek() != '}') {
        rel.push_back(get());
      }
    }
    if (rel.empty()) return fail(at, "include needs a file name");
    if (include_depth_ >= kMaxIncludeDepth) return fail(at, "includes nested too deeply");
    std::filesystem::path base = file_ ? std::filesystem::path(*file_).parent_path() : std::filesystem::path();
    const std::string path = (base / rel).string();
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(at, "cannot open include file '" + path + "'");
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();
    // The included keys join the current map, so they see (and are seen as) its variables.
    Reader inner(text, std::make_shared<const std::string>(path), include_depth_ + 1, scopes_);
    auto r = inner.read_entries(map, '\0');
    if (!r) return r;
    return end_of_entry('}');
  }

  // ---- values
  std::expected<void, ConfError> read_value(ConfValue& out, int depth) {
    if (depth > kMaxNesting) return fail("values nested too deeply");
    out.pos = here();
    const char c = peek();
    if (c == '{') {
      get();
      out.type = ConfValue::Type::map;
      scopes_->push_back(&out);
      auto r = read_entries(out, '}');
      scopes_->pop_back();
      return r;
    }
    if (c == '[') {
      get();
      out.type = ConfValue::Type::array;
      return read_array(out, depth);
    }
    if (c == '"' || c == '\'') {
      auto q = read_quoted();
      if (!q) return std::unexpected(q.error());
      out.type = ConfValue::Type::string;
      out.str = std::move(*q);
      return {};
    }
    if (c == '(') return read_block(out);
    // A bare word: variable, number, boolean or string.
    std::string word;
    while (!eof()) {
      const char d = peek();
      // Like nats-server's lexer, '#' and '//' inside a bare word are part of it (URLs).
      if (is_blank(d) || is_nl(d) || d == ',' || d == ';' || d == '}' || d == ']') break;
      word.push_back(get());
    }
    if (word.empty()) return fail(out.pos, "expected a value");
    if (word[0] == '$' && word.size() > 1) return resolve_variable(word.substr(1), out);
    classify_word(word, out);
    return {};
  }

  std::expected<void, ConfError> read_array(ConfValue& out, int depth) {
    for (;;) {
      skip_space(true, true);
      if (eof()) return fail(out.pos, "unterminated array (expected ']')");
      if (peek() == ']') {
        get();
        return {};
      }
      ConfValue item;
      auto r = read_value(item, depth + 1);
      if (!r) return r;
      out.array.push_back(std::move(item));
      skip_space(false, false);
      if (!eof() && !is_nl(peek()) && peek() != ',' && peek() != ']' && peek() != ';') {
        return fail(std::string("unexpected '") + peek() + "' in array (expected ',' or ']')");
      }
    }
  }

  // ( ... ) block: raw text up to a ')' alone on its line.
  std::expected<void, ConfError> read_block(ConfValue& out) {
    const SourcePos start = here();
    get();  // '('
    std::string body;
    while (!eof()) {
      if (peek() == '\n') {
        std::size_t p = pos_ + 1;
        while (p < text_.size() && is_blank(text_[p])) ++p;
        if (p < text_.size() && text_[p] == ')' && (p + 1 == text_.size() || is_nl(text_[p + 1]))) {
          while (pos_ <= p) get();
          out.type = ConfValue::Type::string;
          out.str = std::move(body);
          return {};
        }
      }
      body.push_back(get());
    }
    return fail(start, "unterminated block string (expected ')' on a line of its own)");
  }

  std::expected<std::string, ConfError> read_quoted() {
    const SourcePos start = here();
    const char quote = get();
    std::string s;
    while (!eof()) {
      const char c = get();
      if (c == quote) return s;
      if (c == '\n') break;
      if (c == '\\' && quote == '"' && !eof()) {
        const char e = get();
        switch (e) {
          case 'n': s.push_back('\n'); break;
          case 't': s.push_back('\t'); break;
          case 'r': s.push_back('\r'); break;
          case '"': s.push_back('"'); break;
          case '\\': s.push_back('\\'); break;
          case 'x': {
            if (pos_ + 2 > text_.size()) return fail("bad \\x escape");
            const std::string hex{get(), get()};
            char* end = nullptr;
            const long v = std::strtol(hex.c_str(), &end, 16);
            if (end != hex.c_str() + 2) return fail("bad \\x escape '\\x" + hex + "'");
            s.push_back(static_cast<char>(v));
            break;
          }
          default: return fail("unknown escape '\\" + std::string(1, e) + "'");
        }
        continue;
      }
      s.push_back(c);
    }
    return fail(start, "unterminated string (expected " + std::string(1, quote) + ")");
  }

  std::expected<void, ConfError> resolve_variable(const std::string& name, ConfValue& out) {
    const SourcePos at = out.pos;
    for (auto it = scopes_->rbegin(); it != scopes_->rend(); ++it) {
      if (ConfValue* found = const_cast<ConfValue*>((*it)->find(name))) {
        found->referenced_as_variable = true;
        out = *found;
        out.pos = at;
        out.referenced_as_variable = false;
        return {};
      }
    }
    if (const char* env = std::getenv(name.c_str())) {
      // An environment value is read as a value of its own (so "4222" is a number).
      const std::string text = std::string("v: ") + env;
      std::vector<ConfValue*> no_scopes;
      ConfValue doc;
      Reader inner(text, std::make_shared<const std::string>("$" + name), include_depth_ + 1, &no_scopes);
      auto r = inner.read_document(doc);
      if (!r || doc.map.empty()) return fail(at, "environment variable '" + name + "' has a value that cannot be read");
      out = doc.map.front().second;
      out.pos = at;
      return {};
    }
    return fail(at, "variable reference for '" + name + "' can not be found");
  }

  static void classify_word(const std::string& word, ConfValue& out) {
    std::string lower;
    for (char c : word) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (lower == "true" || lower == "yes" || lower == "on") {
      out.type = ConfValue::Type::boolean;
      out.boolean = true;
      return;
    }
    if (lower == "false" || lower == "no" || lower == "off") {
      out.type = ConfValue::Type::boolean;
      out.boolean = false;
      return;
    }
    // Integer with an optional size suffix (k=1000, kb/ki/kib=1024, ... up to e/eb).
    std::size_t digits = 0;
    if (!lower.empty() && lower[0] == '-') digits = 1;
    const std::size_t first_digit = digits;
    while (digits < lower.size() && std::isdigit(static_cast<unsigned char>(lower[digits]))) ++digits;
    if (digits > first_digit) {
      const std::string suffix = lower.substr(digits);
      static const std::pair<const char*, int64_t> kSuffixes[] = {
          {"", 1},
          {"k", 1000LL}, {"kb", 1LL << 10}, {"ki", 1LL << 10}, {"kib", 1LL << 10},
          {"m", 1000LL * 1000}, {"mb", 1LL << 20}, {"mi", 1LL << 20}, {"mib", 1LL << 20},
          {"g", 1000LL * 1000 * 1000}, {"gb", 1LL << 30}, {"gi", 1LL << 30}, {"gib", 1LL << 30},
          {"t", 1000LL * 1000 * 1000 * 1000}, {"tb", 1LL << 40}, {"ti", 1LL << 40}, {"tib", 1LL << 40},
          {"p", 1000LL * 1000 * 1000 * 1000 * 1000}, {"pb", 1LL << 50}, {"pi", 1LL << 50}, {"pib", 1LL << 50},
          {"e", 1000LL * 1000 * 1000 * 1000 * 1000 * 1000}, {"eb", 1LL << 60}, {"ei", 1LL << 60}, {"eib", 1LL << 60},
      };
      for (const auto& [name, mult] : kSuffixes) {
        if (suffix != name) continue;
        errno = 0;
        char* end = nullptr;
        const long long n = std::strtoll(lower.c_str(), &end, 10);
        if (errno == ERANGE || (n != 0 && (n > INT64_MAX / mult || n < INT64_MIN / mult))) break;
        out.type = ConfValue::Type::integer;
        out.integer = static_cast<int64_t>(n) * mult;
        return;
      }
      // A float: digits '.' digits and nothing else.
      if (suffix.size() > 1 && suffix[0] == '.' &&
          suffix.find_first_not_of("0123456789", 1) == std::string::npos) {
        out.type = ConfValue::Type::floating;
        out.floating = std::strtod(word.c_str(), nullptr);
        return;
      }
    }
    // Anything else (host:port, 1.2.3.4, "2m" quoted or not-a-number) stays a string.
    out.type = ConfValue::Type::string;
    out.str = word;
  }

  std::string_view text_;
  std::shared_ptr<const std::string> file_;
  int include_depth_;
  std::vector<ConfValue*>* scopes_;
  std::size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

}  // namespace

std::expected<ConfValue, ConfError> parse_config(std::string_view text, const std::string& file_name) {
  ConfValue top;
  std::vector<ConfValue*> scopes;
  Reader reader(text, std::make_shared<const std::string>(file_name), 0, &scopes);
  auto r = reader.read_document(top);
  if (!r) return std::unexpected(r.error());
  return top;
}

std::expected<ConfValue, ConfError> parse_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(ConfError{path + ": cannot open the configuration file"});
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_config(buf.str(), path);
}

}  // namespace forest::config
