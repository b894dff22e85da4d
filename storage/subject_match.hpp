#pragma once
// Subject filters as JetStream uses them: tokens split on '.', '*' matches one token, '>'
// the rest. Storage depends on nothing of ours, so this is a small copy of the rules rather
// than broker/subject.hpp.

#include <string_view>

namespace forest::storage {

// True when some token is exactly "*" or ">".
[[nodiscard]] bool subject_has_wildcard(std::string_view subject) noexcept;

// True when the literal `subject` matches `filter`. An empty filter matches everything.
[[nodiscard]] bool subject_matches(std::string_view subject, std::string_view filter) noexcept;

// True when every subject matching `a` also matches `b` (nats-server's subjectIsSubsetMatch):
// "foo.*" is a subset of "foo.*", "*.*" and ">", not of "foo.bar". Empty means ">".
[[nodiscard]] bool subject_is_subset(std::string_view a, std::string_view b) noexcept;

// The longest prefix of `filter` every matching subject starts with: "orders.*.new" gives
// "orders.", ">" gives "", a literal gives itself. Index scans start there.
[[nodiscard]] std::string_view subject_literal_prefix(std::string_view filter) noexcept;

// True for "" and ">" (the filter that matches every message).
[[nodiscard]] inline bool filter_is_all(std::string_view filter) noexcept {
  return filter.empty() || filter == ">";
}

// A subject the store accepts for a message: non-empty and free of NUL bytes (NUL ends the
// subject inside the per-subject index keys).
[[nodiscard]] bool subject_storable(std::string_view subject) noexcept;

}  // namespace forest::storage
