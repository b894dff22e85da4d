#include "app/core/river_data.hpp"

#include <array>

#include "app/core/go_json.hpp"

namespace forest::app {

namespace {
constexpr std::array<std::string_view, 3> river_fields = {"subject", "data", "ts"};
}  // namespace

std::expected<std::string, Error> encode_river_data(const RiverData& river) {
  std::string out;
  out.reserve(48 + river.subject.size() + (river.data ? river.data->size() * 4 / 3 : 0));
  out.append("{\"subject\":");
  append_go_string(out, river.subject);
  out.append(",\"data\":");
  if (river.data) {
    out.push_back('"');
    append_base64(out, *river.data);
    out.push_back('"');
  } else {
    out.append("null");
  }
  out.append(",\"ts\":\"");
  if (auto r = append_go_time(out, river.ts); !r) return std::unexpected(std::move(r.error()));
  out.append("\"}");
  return out;
}

std::expected<RiverData, Error> decode_river_data(std::string_view json) {
  auto members = object_members(json, "core.RiverData");
  if (!members) return std::unexpected(std::move(members.error()));
  RiverData river;
  if (!*members) return river;
  for (const Member& m : **members) {
    const auto field = match_field(m.key, river_fields);
    if (!field) continue;
    std::expected<void, Error> r;
    switch (*field) {
      case 0: r = decode_string_field(m.value, river.subject, "RiverData.subject"); break;
      case 1: r = decode_bytes_field(m.value, river.data, "RiverData.data"); break;
      case 2: r = decode_time_field(m.value, river.ts); break;
      default: break;
    }
    if (!r) return std::unexpected(std::move(r.error()));
  }
  return river;
}

}  // namespace forest::app
