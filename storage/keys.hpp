#pragma once
// Key layout of the four column families (the in-memory backend uses the same keys, so both
// stores run the same engine over the same ordering). Every key of a stream starts with its
// big-endian stream id, so a stream is one contiguous range per family and deleting a stream
// is one range deletion per family. Stream ids are never reused.
//
//   meta       'G'                               -> global record (format, next stream id)
//              'C' sid                           -> stream config record
//              'T' sid                           -> stream state record (rewritten by every op)
//              'D' sid msg_id                    -> dedupe entry (seq, time)
//   messages   sid seq                           -> message (time, subject, headers, data)
//   subjects   sid 'S' subject                   -> per-subject summary (count, first, last)
//              sid 'I' subject 0x00 seq          -> per-subject index entry (stored size)
//   consumers  sid cid 'C'                       -> consumer record (config, delivered, floor)
//              sid cid 'P' sseq                  -> pending entry (consumer seq, time)
//              sid cid 'R' sseq                  -> redelivery count

#include <cstdint>
#include <string>
#include <string_view>

namespace forest::storage::keys {

[[nodiscard]] std::string global();
[[nodiscard]] std::string stream_config(std::uint64_t sid);
[[nodiscard]] std::string stream_state(std::uint64_t sid);
[[nodiscard]] std::string dedupe(std::uint64_t sid, std::string_view msg_id);
[[nodiscard]] std::string dedupe_prefix(std::uint64_t sid);
inline constexpr char stream_config_tag = 'C';

// The whole range of a stream in the messages, subjects and consumers families.
[[nodiscard]] std::string stream_begin(std::uint64_t sid);
[[nodiscard]] std::string stream_end(std::uint64_t sid);

[[nodiscard]] std::string message(std::uint64_t sid, std::uint64_t seq);
[[nodiscard]] std::uint64_t message_seq(std::string_view key);  // seq of a message key

[[nodiscard]] std::string summary(std::uint64_t sid, std::string_view subject);
[[nodiscard]] std::string summary_prefix(std::uint64_t sid);  // all summaries of the stream
[[nodiscard]] std::string_view summary_subject(std::string_view key);  // subject of a summary key
[[nodiscard]] std::string index(std::uint64_t sid, std::string_view subject, std::uint64_t seq);
[[nodiscard]] std::string index_prefix(std::uint64_t sid, std::string_view subject);
[[nodiscard]] std::string index_all(std::uint64_t sid);  // every index entry of the stream
[[nodiscard]] std::uint64_t index_seq(std::string_view key);  // seq of an index key

[[nodiscard]] std::string consumer(std::uint64_t sid, std::uint64_t cid);
[[nodiscard]] std::string consumer_position(std::uint64_t sid, std::uint64_t cid);
[[nodiscard]] std::string consumer_begin(std::uint64_t sid, std::uint64_t cid);
[[nodiscard]] std::string consumer_end(std::uint64_t sid, std::uint64_t cid);
[[nodiscard]] std::string pending(std::uint64_t sid, std::uint64_t cid, std::uint64_t sseq);
[[nodiscard]] std::string redelivered(std::uint64_t sid, std::uint64_t cid, std::uint64_t sseq);
inline constexpr char consumer_tag = 'C';
inline constexpr char position_tag = 'D';  // delivered and ack floor, rewritten per delivery or ack
inline constexpr char pending_tag = 'P';
inline constexpr char redelivered_tag = 'R';
inline constexpr std::size_t consumer_key_size = 17;  // sid cid tag

// The smallest key greater than every key starting with `prefix` (for iterator upper bounds).
[[nodiscard]] std::string prefix_end(std::string prefix);

}  // namespace forest::storage::keys
