#include "storage/subject_match.hpp"

#include <cstddef>

namespace forest::storage {

namespace {

// Walks '.'-separated tokens without allocating.
class Tokens {
 public:
  explicit Tokens(std::string_view s) : rest_(s), done_(s.empty()) {}
  bool next(std::string_view& token) {
    if (done_) return false;
    std::size_t dot = rest_.find('.');
    if (dot == std::string_view::npos) {
      token = rest_;
      done_ = true;
    } else {
      token = rest_.substr(0, dot);
      rest_.remove_prefix(dot + 1);
    }
    return true;
  }

 private:
  std::string_view rest_;
  bool done_;
};

}  // namespace

bool subject_has_wildcard(std::string_view subject) noexcept {
  Tokens t(subject);
  std::string_view tok;
  while (t.next(tok)) {
    if (tok == "*" || tok == ">") return true;
  }
  return false;
}

bool subject_matches(std::string_view subject, std::string_view filter) noexcept {
  if (filter_is_all(filter)) return true;
  Tokens s(subject);
  Tokens f(filter);
  std::string_view st;
  std::string_view ft;
  while (f.next(ft)) {
    if (ft == ">") return s.next(st);  // '>' needs at least one more token
    if (!s.next(st)) return false;
    if (ft != "*" && ft != st) return false;
  }
  return !s.next(st);
}

bool subject_is_subset(std::string_view a, std::string_view b) noexcept {
  if (b.empty()) b = ">";
  if (a.empty()) a = ">";
  Tokens ta(a);
  Tokens tb(b);
  std::string_view x;
  std::string_view y;
  while (tb.next(y)) {
    if (!ta.next(x)) return false;
    if (y == ">") return true;
    if (y == "*") {
      if (x == ">") return false;  // a's '>' spans tokens b's '*' cannot
      continue;
    }
    if (x != y) return false;  // a literal in b needs the same literal in a
  }
  return !ta.next(x);
}

std::string_view subject_literal_prefix(std::string_view filter) noexcept {
  std::size_t start = 0;
  while (start <= filter.size()) {
    std::size_t dot = filter.find('.', start);
    std::size_t end = dot == std::string_view::npos ? filter.size() : dot;
    std::string_view tok = filter.substr(start, end - start);
    if (tok == "*" || tok == ">") return filter.substr(0, start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return filter;
}

bool subject_storable(std::string_view subject) noexcept {
  return !subject.empty() && subject.find('\0') == std::string_view::npos;
}

}  // namespace forest::storage
