// Small readers for the bodies of $JS.API requests, as nats-server reads them with Go's
// encoding/json (keys without regard to case, unknown fields ignored, a wrong type fails the
// whole request with JSInvalidJSONErr).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace forest::broker::js {

// nats-server's isEmptyRequest: no bytes, or a JSON object without fields.
[[nodiscard]] bool is_empty_request(std::string_view body);

// How Go's json.Unmarshal into a struct takes a whole body before any field is read: not JSON
// (also a value followed by more bytes, which the field readers below cannot see), the literal
// null (accepted, it sets nothing), or a value for the readers.
enum class BodyKind : uint8_t { value, null, malformed };
[[nodiscard]] BodyKind body_kind(std::string_view body);

struct PagedFilterRequest {  // STREAM.NAMES / STREAM.LIST
  int64_t offset = 0;
  std::string subject;
};
struct StreamInfoRequest {
  int64_t offset = 0;
  bool deleted_details = false;
  std::string subjects_filter;
};
struct PurgeRequest {
  uint64_t seq = 0;
  std::string filter;
  uint64_t keep = 0;
};
struct MsgGetRequest {
  uint64_t seq = 0;
  std::string last_by_subj;
  std::string next_by_subj;
};
struct MsgDeleteRequest {
  uint64_t seq = 0;
  bool no_erase = false;
};

// nullopt: the body is not a JSON object of the right field types.
[[nodiscard]] std::optional<PagedFilterRequest> parse_paged_filter(std::string_view body);
[[nodiscard]] std::optional<StreamInfoRequest> parse_stream_info_request(std::string_view body);
[[nodiscard]] std::optional<PurgeRequest> parse_purge_request(std::string_view body);
[[nodiscard]] std::optional<MsgGetRequest> parse_msg_get_request(std::string_view body);
[[nodiscard]] std::optional<MsgDeleteRequest> parse_msg_delete_request(std::string_view body);

}  // namespace forest::broker::js
