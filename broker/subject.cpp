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

namespace {

constexpr std::size_t kMaxTokens = 256;

bool is_fwc(std::string_view t) { return t == ">"; }
bool is_pwc(std::string_view t) { return t == "*"; }

}  // namespace

bool subjects_collide(std::string_view a, std::string_view b) {
  if (a == b) return true;
  std::string_view ta[kMaxTokens], tb[kMaxTokens];
  const std::size_t na = tokenize_subject(a, ta, kMaxTokens);
  const std::size_t nb = tokenize_subject(b, tb, kMaxTokens);
  if (na > kMaxTokens || nb > kMaxTokens) return false;  // longer than any valid use; never equal
  const std::size_t n = na < nb ? na : nb;
  for (std::size_t i = 0; i < n; ++i) {
    if (is_fwc(ta[i]) || is_fwc(tb[i])) return true;  // the rest of either matches
    if (is_pwc(ta[i]) || is_pwc(tb[i])) continue;
    if (ta[i] != tb[i]) return false;
  }
  // Every shared token agreed and no '>' came first: only equal lengths can match one subject
  // ('>' needs at least one token, so "foo.>" never matches "foo").
  return na == nb;
}

bool subject_is_subset(std::string_view sub, std::string_view of) {
  std::string_view ts[kMaxTokens], to[kMaxTokens];
  const std::size_t ns = tokenize_subject(sub, ts, kMaxTokens);
  const std::size_t no = tokenize_subject(of, to, kMaxTokens);
  if (ns > kMaxTokens || no > kMaxTokens) return false;
  for (std::size_t i = 0; i < no; ++i) {
    if (is_fwc(to[i])) return i < ns;  // '>' needs at least one token of `sub` here
    if (i >= ns) return false;
    if (is_fwc(ts[i])) return false;  // `sub` matches more tokens than `of` allows here
    if (is_pwc(to[i])) continue;
    if (is_pwc(ts[i]) || ts[i] != to[i]) return false;
  }
  return ns == no;
}

}  // namespace forest::broker
