#include "subject_transform.hpp"

#include <charconv>

#include "subject.hpp"

namespace forest::broker {
namespace {

std::vector<std::string> split_tokens(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

std::optional<int> parse_index(std::string_view digits) {
  int n = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || p != digits.data() + digits.size() || n <= 0) return std::nullopt;
  return n;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

std::string number_wildcards(std::string_view subject) {
  std::string out;
  int n = 0;
  bool first = true;
  for (const std::string& token : split_tokens(subject)) {
    if (!first) out.push_back('.');
    first = false;
    if (token == "*") {
      out.push_back('$');
      out.append(std::to_string(++n));
    } else {
      out.append(token);
    }
  }
  return out;
}

std::expected<SubjectTransform, std::string> make_subject_transform(std::string_view src, std::string_view dest) {
  if (src.empty()) src = ">";
  if (!is_valid_subject(src) || !is_valid_subject(dest)) return std::unexpected("invalid subject");
  SubjectTransform t;
  t.src_.assign(src);
  t.dest_.assign(dest);
  t.src_tokens_ = split_tokens(src);
  const auto dtoks = split_tokens(dest);
  const bool src_fwc = t.src_tokens_.back() == ">";
  const bool dest_fwc = dtoks.back() == ">";
  for (std::size_t i = 0; i < t.src_tokens_.size(); ++i) {
    if (t.src_tokens_[i] == "*") t.src_wildcard_pos_.push_back(static_cast<int>(i));
  }
  for (const auto& d : dtoks) {
    if (d == "*") return std::unexpected("invalid subject");  // no wildcards in the destination
  }
  if (src_fwc != dest_fwc) return std::unexpected("invalid subject");
  t.full_wildcard_ = src_fwc;
  if (src == ">" && dest == ">") {
    t.identity_ = true;
    return t;
  }
  if (t.src_wildcard_pos_.empty() && !src_fwc) {
    t.literal_dest_ = true;
    return t;
  }
  std::size_t used = 0;
  for (const auto& d : dtoks) {
    SubjectTransform::DestToken tok;
    if (d.size() > 1 && d[0] == '$') {
      // "$N"; anything else starting with '$' stays a literal (as nats-server leaves it).
      if (auto n = parse_index(std::string_view(d).substr(1))) tok.wildcard = *n;
    } else if (d.starts_with("{{") && d.ends_with("}}")) {
      std::string_view fn = trim(std::string_view(d).substr(2, d.size() - 4));
      constexpr std::string_view kWildcard = "wildcard(";
      if (fn.size() > kWildcard.size() && fn.substr(0, kWildcard.size()) == kWildcard && fn.back() == ')') {
        auto n = parse_index(trim(fn.substr(kWildcard.size(), fn.size() - kWildcard.size() - 1)));
        if (!n) return std::unexpected("invalid mapping function " + d);
        tok.wildcard = *n;
      } else {
        return std::unexpected("mapping function " + d + " is not supported by forest-server yet");
      }
    }
    if (tok.wildcard > static_cast<int>(t.src_wildcard_pos_.size())) {
      return std::unexpected("mapping destination " + d + " uses a wildcard index out of range");
    }
    if (tok.wildcard > 0) {
      ++used;
    } else {
      tok.literal = d;
    }
    t.dest_tokens_.push_back(std::move(tok));
  }
  if (used < t.src_wildcard_pos_.size()) return std::unexpected("mapping destination does not use all the wildcards");
  return t;
}

std::optional<std::string> SubjectTransform::apply(std::string_view subject) const {
  if (identity_) return std::string(subject);
  if (!subject_matches(src_, subject)) return std::nullopt;
  if (literal_dest_) return dest_;
  const auto toks = split_tokens(subject);
  std::string out;
  for (std::size_t i = 0; i < dest_tokens_.size(); ++i) {
    const DestToken& d = dest_tokens_[i];
    if (d.wildcard == 0 && d.literal == ">") {
      // The source's '>' tokens, from its position on.
      for (std::size_t j = src_tokens_.size() - 1; j < toks.size(); ++j) {
        out.append(toks[j]);
        if (j + 1 < toks.size()) out.push_back('.');
      }
      return out;
    }
    out.append(d.wildcard > 0 ? toks[static_cast<std::size_t>(src_wildcard_pos_[static_cast<std::size_t>(d.wildcard - 1)])]
                              : d.literal);
    if (i + 1 < dest_tokens_.size()) out.push_back('.');
  }
  return out;
}

}  // namespace forest::broker
