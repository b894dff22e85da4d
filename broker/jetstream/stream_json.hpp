// The JSON of stream replies as nats-server marshals them: StreamInfo (config, created,
// state), StreamState (omitempty fields and Go's zero time), and StoredMsg for STREAM.MSG.GET
// (headers and data in base64, as Go marshals []byte).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "storage/types.hpp"
#include "stream_config.hpp"

namespace forest::broker {
class JsonWriter;
}

namespace forest::broker::js {

// Go's time.Time in JSON; 0 is Go's zero time ("0001-01-01T00:00:00Z"), as nats-server
// reports the first/last time stamps of an empty stream.
[[nodiscard]] std::string go_time_json_text(int64_t unix_ns);

[[nodiscard]] std::string base64(std::string_view bytes);

// The state object; `subjects` (sorted, from subjects_filter) is written when not empty.
void write_stream_state(JsonWriter& w, const storage::StreamState& st, const std::map<std::string, uint64_t>* subjects);

// The fields of StreamInfo (config, created, state, domain) into an object already open.
void write_stream_info_fields(JsonWriter& w, const StreamConfig& config, int64_t created_ns,
                              const storage::StreamState& st, std::string_view domain,
                              const std::map<std::string, uint64_t>* subjects = nullptr);

// {"subject":..,"seq":..,"hdrs":..,"data":..,"time":..} (hdrs and data omitted when empty).
void write_stored_message(JsonWriter& w, const storage::StoredMessage& m);

}  // namespace forest::broker::js
