#include "app/core/leaf.hpp"

#include <array>

#include "app/core/go_json.hpp"

namespace forest::app {

namespace {

constexpr std::array<std::string_view, 4> leaf_fields = {"subject", "data", "source", "ts"};

std::unexpected<Error> leaf_error(Error e) {
  e.text = "failed to unmarshal leaf: " + e.text;
  return std::unexpected(std::move(e));
}

}  // namespace

Leaf make_leaf(std::string subject, std::string data, std::string source) {
  return Leaf{std::move(subject), std::move(data), std::move(source), GoTime::now_utc()};
}

std::expected<std::string, Error> encode_leaf(const Leaf& leaf) {
  std::string out;
  out.reserve(48 + leaf.subject.size() + leaf.data.size() + leaf.source.size());
  out.append("{\"subject\":");
  append_go_string(out, leaf.subject);
  out.append(",\"data\":");
  if (auto r = append_raw_json(out, leaf.data, 1); !r) return std::unexpected(std::move(r.error()));
  out.append(",\"source\":");
  append_go_string(out, leaf.source);
  out.append(",\"ts\":\"");
  if (auto r = append_go_time(out, leaf.ts); !r) return std::unexpected(std::move(r.error()));
  out.append("\"}");
  return out;
}

std::expected<Leaf, Error> decode_leaf(std::string_view json) {
  auto members = object_members(json, "core.Leaf");
  if (!members) return leaf_error(std::move(members.error()));
  Leaf leaf;
  if (!*members) return leaf;
  for (const Member& m : **members) {
    const auto field = match_field(m.key, leaf_fields);
    if (!field) continue;
    std::expected<void, Error> r;
    switch (*field) {
      case 0: r = decode_string_field(m.value, leaf.subject, "Leaf.subject"); break;
      case 1: decode_raw_field(m.value, leaf.data); break;
      case 2: r = decode_string_field(m.value, leaf.source, "Leaf.source"); break;
      case 3: r = decode_time_field(m.value, leaf.ts); break;
      default: break;
    }
    if (!r) return leaf_error(std::move(r.error()));
  }
  return leaf;
}

std::expected<void, Error> validate_leaf(const Leaf& leaf) {
  if (leaf.subject.empty()) return fail(Errc::empty_subject, "leaf subject is required");
  if (leaf.source.empty()) return fail(Errc::empty_source, "leaf source is required");
  if (leaf.data.empty()) return fail(Errc::empty_data, "leaf data is required");
  if (leaf.ts.is_zero()) return fail(Errc::zero_ts, "leaf timestamp is required");
  return {};
}

}  // namespace forest::app
