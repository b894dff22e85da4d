// The StreamStore members every implementation shares: apply() as a batch of one, and a
// needs_ack() built from the public reads (Engine overrides it with an in-memory answer).

#include "storage/stream_store.hpp"

#include "storage/subject_match.hpp"

namespace forest::storage {

std::expected<ApplyResult, Error> StreamStore::apply(const Op& op) {
  auto outcomes = apply_batch(std::span<const Op>(&op, 1));
  if (!outcomes) return std::unexpected(std::move(outcomes.error()));
  return std::move(outcomes->front());
}

std::expected<bool, Error> StreamStore::needs_ack(std::string_view stream, StreamSeq seq,
                                                  std::string_view except_consumer) const {
  auto names = consumer_names(stream);
  if (!names) return std::unexpected(names.error());
  auto msg = load(stream, seq);
  if (!msg) {
    if (msg.error().code == Errc::end_of_stream) return fail(Errc::message_not_found, "no message found");
    return std::unexpected(msg.error());
  }
  for (const auto& name : *names) {
    if (name == except_consumer) continue;
    auto info = consumer_info(stream, name);
    if (!info) return std::unexpected(info.error());
    if (!subject_matches(msg->subject, info->config.filter_subject)) continue;
    const ConsumerState& st = info->state;
    if (seq <= st.ack_floor.stream) continue;
    if (info->config.ack_policy != AckPolicy::explicit_ack) return true;
    if (seq > st.delivered.stream || st.pending.contains(seq)) return true;
  }
  return false;
}

}  // namespace forest::storage
