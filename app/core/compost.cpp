#include "app/core/compost.hpp"

#include <array>

#include "app/core/go_json.hpp"

namespace forest::app {

namespace {
constexpr std::array<std::string_view, 6> compost_fields = {"entity", "action", "data", "nim", "ts", "slot"};
}  // namespace

std::expected<std::string, Error> encode_compost(const Compost& compost) {
  std::string out;
  out.reserve(80 + compost.entity.size() + compost.data.size() + compost.nim.size());
  out.append("{\"entity\":");
  append_go_string(out, compost.entity);
  out.append(",\"action\":");
  append_go_string(out, compost.action);
  out.append(",\"data\":");
  if (auto r = append_raw_json(out, compost.data, 1); !r) return std::unexpected(std::move(r.error()));
  out.append(",\"nim\":");
  append_go_string(out, compost.nim);
  out.append(",\"ts\":\"");
  if (auto r = append_go_time(out, compost.ts); !r) return std::unexpected(std::move(r.error()));
  out.append("\",\"slot\":");
  out.append(std::to_string(compost.slot));
  out.push_back('}');
  return out;
}

std::expected<Compost, Error> decode_compost(std::string_view json) {
  auto members = object_members(json, "core.Compost");
  if (!members) return std::unexpected(std::move(members.error()));
  Compost compost;
  if (!*members) return compost;
  for (const Member& m : **members) {
    const auto field = match_field(m.key, compost_fields);
    if (!field) continue;
    std::expected<void, Error> r;
    switch (*field) {
      case 0: r = decode_string_field(m.value, compost.entity, "Compost.entity"); break;
      case 1: r = decode_string_field(m.value, compost.action, "Compost.action"); break;
      case 2: decode_raw_field(m.value, compost.data); break;
      case 3: r = decode_string_field(m.value, compost.nim, "Compost.nim"); break;
      case 4: r = decode_time_field(m.value, compost.ts); break;
      case 5: r = decode_uint64_field(m.value, compost.slot, "Compost.slot"); break;
      default: break;
    }
    if (!r) return std::unexpected(std::move(r.error()));
  }
  return compost;
}

}  // namespace forest::app
