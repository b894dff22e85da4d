#include "storage/keys.hpp"

#include "storage/codec.hpp"

namespace forest::storage::keys {

using codec::put_be64;

namespace {
std::string tagged(char tag, std::uint64_t sid) {
  std::string k;
  k.reserve(9);
  k.push_back(tag);
  put_be64(k, sid);
  return k;
}
}  // namespace

std::string global() { return "G"; }
std::string stream_config(std::uint64_t sid) { return tagged(stream_config_tag, sid); }
std::string stream_state(std::uint64_t sid) { return tagged('T', sid); }
std::string dedupe_prefix(std::uint64_t sid) { return tagged('D', sid); }
std::string dedupe(std::uint64_t sid, std::string_view msg_id) {
  std::string k = tagged('D', sid);
  k.append(msg_id);
  return k;
}

std::string stream_begin(std::uint64_t sid) {
  std::string k;
  put_be64(k, sid);
  return k;
}
std::string stream_end(std::uint64_t sid) { return stream_begin(sid + 1); }

std::string message(std::uint64_t sid, std::uint64_t seq) {
  std::string k;
  k.reserve(16);
  put_be64(k, sid);
  put_be64(k, seq);
  return k;
}
std::uint64_t message_seq(std::string_view key) { return codec::read_be64(key.substr(8)); }

std::string summary_prefix(std::uint64_t sid) {
  std::string k;
  put_be64(k, sid);
  k.push_back('S');
  return k;
}
std::string summary(std::uint64_t sid, std::string_view subject) {
  std::string k = summary_prefix(sid);
  k.append(subject);
  return k;
}
std::string_view summary_subject(std::string_view key) { return key.substr(9); }

std::string index_all(std::uint64_t sid) {
  std::string k;
  put_be64(k, sid);
  k.push_back('I');
  return k;
}
std::string index_prefix(std::uint64_t sid, std::string_view subject) {
  std::string k = index_all(sid);
  k.reserve(k.size() + subject.size() + 9);
  k.append(subject);
  k.push_back('\0');
  return k;
}
std::string index(std::uint64_t sid, std::string_view subject, std::uint64_t seq) {
  std::string k = index_prefix(sid, subject);
  put_be64(k, seq);
  return k;
}
std::uint64_t index_seq(std::string_view key) { return codec::read_be64(key.substr(key.size() - 8)); }

std::string consumer_begin(std::uint64_t sid, std::uint64_t cid) {
  std::string k;
  k.reserve(26);
  put_be64(k, sid);
  put_be64(k, cid);
  return k;
}
std::string consumer_end(std::uint64_t sid, std::uint64_t cid) { return consumer_begin(sid, cid + 1); }
std::string consumer(std::uint64_t sid, std::uint64_t cid) {
  std::string k = consumer_begin(sid, cid);
  k.push_back(consumer_tag);
  return k;
}
std::string consumer_position(std::uint64_t sid, std::uint64_t cid) {
  std::string k = consumer_begin(sid, cid);
  k.push_back(position_tag);
  return k;
}
std::string pending(std::uint64_t sid, std::uint64_t cid, std::uint64_t sseq) {
  std::string k = consumer_begin(sid, cid);
  k.push_back(pending_tag);
  put_be64(k, sseq);
  return k;
}
std::string redelivered(std::uint64_t sid, std::uint64_t cid, std::uint64_t sseq) {
  std::string k = consumer_begin(sid, cid);
  k.push_back(redelivered_tag);
  put_be64(k, sseq);
  return k;
}

std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto c = static_cast<unsigned char>(prefix.back());
    if (c != 0xff) {
      prefix.back() = static_cast<char>(c + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\xff');  // unreachable for our keys: none is all 0xff
}

}  // namespace forest::storage::keys
