#include "forest/message.hpp"

#include <cctype>
#include <charconv>

namespace forest {

namespace {

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string> Message::header(std::string_view name) const {
  std::string_view rest = headers;
  const std::size_t first = rest.find("\r\n");
  if (first == std::string_view::npos) return std::nullopt;
  rest.remove_prefix(first + 2);  // the NATS/1.0 status line
  while (!rest.empty()) {
    const std::size_t end = rest.find("\r\n");
    const std::string_view line = rest.substr(0, end);
    if (line.empty()) break;
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && same_name(trim(line.substr(0, colon)), name)) {
      return std::string(trim(line.substr(colon + 1)));
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 2);
  }
  return std::nullopt;
}

int Message::status() const {
  // "NATS/1.0 503 No Responders\r\n...": the code follows the version.
  constexpr std::string_view kVersion = "NATS/1.0 ";
  if (headers.size() < kVersion.size() + 3 || headers.compare(0, kVersion.size(), kVersion) != 0) return 0;
  int code = 0;
  const char* begin = headers.data() + kVersion.size();
  const auto [ptr, ec] = std::from_chars(begin, begin + 3, code);
  return ec == std::errc() && ptr == begin + 3 ? code : 0;
}

Headers& Headers::add(std::string_view name, std::string_view value) {
  block_.append(name).append(": ").append(value).append("\r\n");
  return *this;
}

}  // namespace forest
