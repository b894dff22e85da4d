#pragma once
// Go encoding/json conventions shared by the envelopes (FOREST-APP.md section 0): string
// escaping as json.Marshal writes it, json.RawMessage re-compaction, []byte as padded standard
// base64, and the pieces of struct decoding (object members, Go's case-insensitive key
// matching, the per-kind field decoders with Go's refusals). Pure functions.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app/core/error.hpp"

namespace forest::app {

// --- Encoding -----------------------------------------------------------------------------

// Appends `s` as a JSON string the way Go's encoder (HTML escaping on) writes a string field:
// `"` `\` as \" \\; \b \f \n \r \t short (the Go app builds with Go 1.24; Go before 1.22 wrote
// \b and \f as \u0008 \u000c); other bytes below 0x20 and < > & as \u00XX (lowercase hex);
// U+2028 and U+2029 as \u2028 \u2029; every byte that is not part of valid UTF-8 as \ufffd; DEL
// and everything else as is.
void append_go_string(std::string& out, std::string_view s);

// Appends a json.RawMessage as Go marshals it: an empty (nil) value as `null`; otherwise the
// value checked as JSON and re-compacted: whitespace outside strings removed, < > & and
// U+2028/U+2029 escaped (in strings, where alone they can be), everything else byte for byte
// (escapes and invalid UTF-8 inside strings are kept). `outer_depth` is the nesting of the
// envelope around it: Go refuses a document deeper than 10000 in total. On error nothing is
// appended.
[[nodiscard]] std::expected<void, Error> append_raw_json(std::string& out, std::string_view raw,
                                                         int outer_depth = 0);

// The compacted form of a raw JSON value (append_raw_json into an empty string).
[[nodiscard]] std::expected<std::string, Error> compact_json(std::string_view raw, int outer_depth = 0);

// Standard base64 with padding (Go's base64.StdEncoding).
void append_base64(std::string& out, std::string_view bytes);
[[nodiscard]] std::string base64_encode(std::string_view bytes);
// Decodes as base64.StdEncoding.Decode does: padding required, \r and \n ignored anywhere,
// nothing but newlines after the padding; unused low bits of the last symbol are not checked.
[[nodiscard]] std::expected<std::string, Error> base64_decode(std::string_view text);

// --- Decoding -----------------------------------------------------------------------------

// Whether a decoded object key selects the struct field `name` (ASCII lowercase) under Go's
// case-insensitive matching. Besides ASCII case, Go's Unicode folding lets U+017F (long s)
// match 's' and U+212A (Kelvin sign) match 'k'.
[[nodiscard]] bool go_key_matches(std::string_view key, std::string_view name) noexcept;

// The field a key selects among `names` (struct order): an exact match first, else the first
// case-insensitive one; nullopt for a key Go ignores.
[[nodiscard]] std::optional<std::size_t> match_field(std::string_view key, std::span<const std::string_view> names) noexcept;

struct Member {
  std::string key;         // decoded (escapes resolved)
  std::string_view value;  // the raw value, a view into the input
};

// The members of the top-level object of `doc`, in input order (duplicates kept). The whole
// input is checked first, as Go's Unmarshal does. A top-level `null` gives nullopt (Go leaves
// the struct untouched); any other non-object is a type_mismatch naming `go_type`.
[[nodiscard]] std::expected<std::optional<std::vector<Member>>, Error> object_members(std::string_view doc,
                                                                                      std::string_view go_type);

// Field decoders, one per Go field kind. `field` names the field for messages
// ("Leaf.subject"). `null` leaves the target as it is for a string, time or integer, as Go does.
[[nodiscard]] std::expected<void, Error> decode_string_field(std::string_view value, std::string& out,
                                                             std::string_view field);
// json.RawMessage keeps the raw bytes verbatim, `null` included.
void decode_raw_field(std::string_view value, std::string& out);
// []byte: a base64 string; `null` makes it nil (nullopt).
[[nodiscard]] std::expected<void, Error> decode_bytes_field(std::string_view value, std::optional<std::string>& out,
                                                            std::string_view field);
[[nodiscard]] std::expected<void, Error> decode_uint64_field(std::string_view value, std::uint64_t& out,
                                                             std::string_view field);

// "string", "number", "object", ... for Go's "cannot unmarshal X into" messages.
[[nodiscard]] std::string_view json_kind(std::string_view value) noexcept;
[[nodiscard]] std::unexpected<Error> type_error(std::string_view value, std::string_view field, std::string_view go_type);

}  // namespace forest::app
