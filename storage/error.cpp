#include "storage/error.hpp"

namespace forest::storage {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::stream_not_found: return "stream_not_found";
    case Errc::consumer_not_found: return "consumer_not_found";
    case Errc::message_not_found: return "message_not_found";
    case Errc::end_of_stream: return "end_of_stream";
    case Errc::stream_exists: return "stream_exists";
    case Errc::consumer_exists: return "consumer_exists";
    case Errc::max_msgs: return "max_msgs";
    case Errc::max_bytes: return "max_bytes";
    case Errc::max_msgs_per_subject: return "max_msgs_per_subject";
    case Errc::msg_too_large: return "msg_too_large";
    case Errc::header_too_large: return "header_too_large";
    case Errc::wrong_last_sequence: return "wrong_last_sequence";
    case Errc::wrong_last_msg_id: return "wrong_last_msg_id";
    case Errc::rollup_not_permitted: return "rollup_not_permitted";
    case Errc::sealed: return "sealed";
    case Errc::deny_delete: return "deny_delete";
    case Errc::deny_purge: return "deny_purge";
    case Errc::purge_arg_mismatch: return "purge_arg_mismatch";
    case Errc::max_consumers: return "max_consumers";
    case Errc::wq_requires_explicit_ack: return "wq_requires_explicit_ack";
    case Errc::wq_multiple_unfiltered: return "wq_multiple_unfiltered";
    case Errc::wq_not_unique: return "wq_not_unique";
    case Errc::wq_not_deliver_all: return "wq_not_deliver_all";
    case Errc::no_ack_policy: return "no_ack_policy";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::corrupt: return "corrupt";
    case Errc::io: return "io";
    case Errc::open_failed: return "open_failed";
    case Errc::locked: return "locked";
    case Errc::closed: return "closed";
  }
  return "unknown";
}

}  // namespace forest::storage
