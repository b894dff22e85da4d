#include "stream_json.hpp"

#include "../json_writer.hpp"
#include "../time_text.hpp"

namespace forest::broker::js {

std::string go_time_json_text(int64_t unix_ns) {
  if (unix_ns == 0) return "0001-01-01T00:00:00Z";
  return rfc3339_from_unix_ns(unix_ns);
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

void write_stream_state(JsonWriter& w, const storage::StreamState& st, const std::map<std::string, uint64_t>* subjects) {
  w.begin_object();
  w.field("messages", st.msgs).field("bytes", st.bytes);
  w.field("first_seq", st.first_seq.value).field("first_ts", go_time_json_text(st.first_ts_ns));
  w.field("last_seq", st.last_seq.value).field("last_ts", go_time_json_text(st.last_ts_ns));
  if (st.num_subjects > 0) w.field("num_subjects", st.num_subjects);
  if (subjects != nullptr && !subjects->empty()) {
    // Go writes map keys sorted, as std::map iterates.
    w.key("subjects").begin_object();
    for (const auto& [subject, count] : *subjects) w.field(subject, count);
    w.end_object();
  }
  if (st.num_deleted > 0) w.field("num_deleted", st.num_deleted);
  if (!st.deleted.empty()) {
    w.key("deleted").begin_array();
    for (const auto seq : st.deleted) w.value(seq.value);
    w.end_array();
  }
  w.field("consumer_count", st.consumer_count);
  w.end_object();
}

void write_stream_info_fields(JsonWriter& w, const StreamConfig& config, int64_t created_ns,
                              const storage::StreamState& st, std::string_view domain,
                              const std::map<std::string, uint64_t>* subjects) {
  w.key("config");
  write_stream_config(w, config);
  w.field("created", rfc3339_from_unix_ns(created_ns));
  w.key("state");
  write_stream_state(w, st, subjects);
  if (!domain.empty()) w.field("domain", domain);
}

void write_stored_message(JsonWriter& w, const storage::StoredMessage& m) {
  w.begin_object();
  w.field("subject", m.subject).field("seq", m.seq.value);
  if (!m.headers.empty()) w.field("hdrs", base64(m.headers));
  if (!m.data.empty()) w.field("data", base64(m.data));
  w.field("time", rfc3339_from_unix_ns(m.time_ns));
  w.end_object();
}

}  // namespace forest::broker::js
