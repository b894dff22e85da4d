// Subject syntax: tokens separated by '.', '*' matches one token, '>' the rest (last token only).
// The same rules as nats-server's IsValidSubject / IsValidLiteralSubject.
#pragma once

#include <cstddef>
#include <string_view>

namespace forest::broker {

// A subject a client may subscribe to: non-empty tokens, no whitespace, '>' only as the last token.
[[nodiscard]] bool is_valid_subject(std::string_view subject);

// A subject a message may be published to (what pedantic mode checks): no wildcard tokens.
[[nodiscard]] bool is_valid_literal_subject(std::string_view subject);

// True when the subject has a '*' or '>' token.
[[nodiscard]] bool has_wildcard(std::string_view subject);

// Does the literal subject match the (possibly wildcard) filter?
[[nodiscard]] bool subject_matches(std::string_view filter, std::string_view literal);

// Could one literal subject match both (nats-server's SubjectsCollide)? "foo.*" and "*.bar"
// collide, "foo.*" and "foo.*.baz" do not. Used for overlapping stream subjects.
[[nodiscard]] bool subjects_collide(std::string_view a, std::string_view b);

// Does every subject matching `sub` also match `of` (nats-server's subjectIsSubsetMatch)?
[[nodiscard]] bool subject_is_subset(std::string_view sub, std::string_view of);

// Splits into tokens; returns the token count (tokens past `max` are counted, not stored).
std::size_t tokenize_subject(std::string_view subject, std::string_view* out, std::size_t max);

}  // namespace forest::broker
