// JSON string quoting exactly as Go's encoding/json does it (HTML-safe, U+2028/U+2029
// escaped, invalid UTF-8 replaced by U+FFFD), so files we rewrite match the Go app's bytes.
#pragma once

#include <string>
#include <string_view>

namespace forest::discovery::detail {

void append_go_quoted(std::string& out, std::string_view s);

}  // namespace forest::discovery::detail
