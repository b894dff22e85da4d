// Subject transforms as nats-server 2.9.10's newTransform / Match (accounts.go): a source
// filter and a destination whose tokens are literals, "$N" or "{{wildcard(N)}}" (the Nth '*'
// of the source) and a trailing '>' that carries the source's '>' tokens. Used by stream
// republish; account mappings and imports are the next users.
//
// nats-server's other mapping functions ({{partition}}, {{split}}, {{SplitFromLeft}}, ...)
// are not implemented: make_subject_transform says so instead of mapping wrongly.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forest::broker {

class SubjectTransform {
 public:
  // The destination for `subject`, or nullopt when `subject` does not match the source.
  [[nodiscard]] std::optional<std::string> apply(std::string_view subject) const;
  [[nodiscard]] const std::string& source() const { return src_; }
  [[nodiscard]] const std::string& destination() const { return dest_; }

 private:
  friend std::expected<SubjectTransform, std::string> make_subject_transform(std::string_view src, std::string_view dest);
  struct DestToken {
    std::string literal;  // when wildcard == 0
    int wildcard = 0;     // 1-based index of the source's '*'
  };
  std::string src_, dest_;
  std::vector<std::string> src_tokens_;
  std::vector<int> src_wildcard_pos_;  // token positions of the source's '*', in order
  std::vector<DestToken> dest_tokens_;
  bool identity_ = false;  // ">" to ">"
  bool literal_dest_ = false;  // a source without wildcards: the destination as it is
  bool full_wildcard_ = false;  // both end in '>'
};

// `subject` with its '*' tokens numbered "$1", "$2"... in order (nats-server's
// transformTokenize): the destination of an import's transform from a source with the same
// wildcards.
[[nodiscard]] std::string number_wildcards(std::string_view subject);

// The error text names the problem (nats-server's words where it has them).
[[nodiscard]] std::expected<SubjectTransform, std::string> make_subject_transform(std::string_view src, std::string_view dest);

}  // namespace forest::broker
