#include "pub_headers.hpp"

#include <charconv>

#include "../json_writer.hpp"

namespace forest::broker::js {

std::optional<std::string_view> header_value(std::string_view headers, std::string_view key) {
  std::size_t pos = headers.find("\r\n");  // skip the status line
  while (pos != std::string_view::npos) {
    const std::size_t start = pos + 2;
    const std::size_t end = headers.find("\r\n", start);
    const std::string_view line = headers.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::string_view v = line.substr(key.size() + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      return v;
    }
    pos = end;
  }
  return std::nullopt;
}

namespace {

// nats-server's parseInt64 gives -1 for anything but digits fitting an int64, and the
// expectation becomes uint64(-1): present, and never met.
std::optional<uint64_t> number(std::string_view headers, std::string_view key) {
  auto v = header_value(headers, key);
  if (!v || v->empty()) return std::nullopt;
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size() || n < 0 || (*v)[0] == '-' || (*v)[0] == '+') return UINT64_MAX;
  return static_cast<uint64_t>(n);
}

}  // namespace

PublishHeaders parse_publish_headers(std::string_view headers) {
  PublishHeaders h;
  if (headers.empty()) return h;
  if (auto v = header_value(headers, "Nats-Msg-Id")) h.msg_id.assign(*v);
  if (auto v = header_value(headers, "Nats-Expected-Stream")) h.expected_stream.assign(*v);
  h.expected_last_seq = number(headers, "Nats-Expected-Last-Sequence");
  h.expected_last_subject_seq = number(headers, "Nats-Expected-Last-Subject-Sequence");
  if (auto v = header_value(headers, "Nats-Expected-Last-Msg-Id"); v && !v->empty()) h.expected_last_msg_id.emplace(*v);
  if (auto v = header_value(headers, "Nats-Rollup")) h.rollup.assign(*v);
  return h;
}

std::string pub_ack_json(std::string_view stream, std::string_view domain, uint64_t seq, bool duplicate) {
  JsonWriter name;
  name.value(stream);
  std::string out = "{\"stream\":" + name.str() + ", ";
  if (!domain.empty()) {
    JsonWriter d;
    d.value(domain);
    out += "\"domain\":" + d.str() + ", ";
  }
  out += "\"seq\":" + std::to_string(seq);
  if (duplicate) out += ",\"duplicate\": true";
  out += "}";
  return out;
}

std::string pub_ack_error_json(std::string_view stream, const ApiError& error) {
  JsonWriter w;
  w.begin_object().key("error").raw(api_error_json(error));
  w.field("stream", stream).field("seq", 0).end_object();
  return w.take();
}

}  // namespace forest::broker::js
