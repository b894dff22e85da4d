#include "subject.hpp"

namespace forest::broker {
namespace {

bool has_space(std::string_view token) {
  for (char c : token) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') return true;
  }
  return false;
}

template <typename Fn>
bool for_each_token(std::string_view subject, Fn&& fn) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = subject.find('.', start);
    const std::string_view token =
        subject.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    const bool last = dot == std::string_view::npos;
    if (!fn(token, last)) return false;
    if (last) return true;
    start = dot + 1;
  }
}

}  // namespace

bool is_valid_subject(std::string_view subject) {
  if (subject.empty()) return false;
  bool seen_fwc = false;
  return for_each_token(subject, [&](std::string_view t, bool) {
    if (t.empty() || seen_fwc) return false;
    if (t.size() > 1) return !has_space(t);
    if (t[0] == '>') seen_fwc = true;
    return !has_space(t);
  });
}

bool is_valid_literal_subject(std::string_view subject) {
  if (subject.empty()) return false;
  return for_each_token(subject, [](std::string_view t, bool) {
    if (t.empty()) return false;
    return !(t.size() == 1 && (t[0] == '*' || t[0] == '>'));
  });
}

bool has_wildcard(std::string_view subject) {
  bool found = false;
  for_each_token(subject, [&](std::string_view t, bool) {
    if (t.size() == 1 && (t[0] == '*' || t[0] == '>')) found = true;
    return !found;
  });
  return found;
}

bool subject_matches(std::string_view filter, std::string_view literal) {
  std::size_t f = 0, l = 0;
  for (;;) {
    const std::size_t fdot = filter.find('.', f);
    const std::string_view ft = filter.substr(f, fdot == std::string_view::npos ? std::string_view::npos : fdot - f);
    if (ft == ">") return l <= literal.size() && !literal.substr(l).empty();
    const std::size_t ldot = literal.find('.', l);
    const std::string_view lt = literal.substr(l, ldot == std::string_view::npos ? std::string_view::npos : ldot - l);
    if (ft != "*" && ft != lt) return false;
    const bool fend = fdot == std::string_view::npos, lend = ldot == std::string_view::npos;
    if (fend || lend) return fend && lend;
    f = fdot + 1;
    l = ldot + 1;
  }
}

std::size_t tokenize_subject(std::string_view subject, std::string_view* out, std::size_t max) {
  std::size_t n = 0;
  for_each_token(subject, [&](std::string_view t, bool) {
    if (n < max) out[n] = t;
    ++n;
    return true;
  });
  return n;
}

}  // namespace forest::broker
