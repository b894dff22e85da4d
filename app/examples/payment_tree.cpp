#include "payment_tree.hpp"

#include <simdjson.h>

#include <fmt/format.h>

#include "app/core/go_json.hpp"

namespace forest::examples {

namespace {

std::string text(simdjson::dom::element e, std::string_view key, std::string fallback = {}) {
  std::string_view v;
  return e[key].get(v) == simdjson::SUCCESS ? std::string(v) : fallback;
}

// A JSON string as Go's encoding/json writes it (HTML-safe escaping).
std::string go_quoted(std::string_view s) {
  std::string out;
  app::append_go_string(out, s);
  return out;
}

}  // namespace

std::optional<app::Leaf> PaymentTree::parse(std::string_view /*subject*/, std::string_view data) const {
  simdjson::dom::parser p;
  simdjson::dom::element event;
  if (p.parse(data.data(), data.size()).get(event) != simdjson::SUCCESS) return std::nullopt;
  const std::string type = text(event, "type");
  if (type != "charge.succeeded" && type != "charge.failed") return std::nullopt;
  simdjson::dom::element charge;
  if (event.at_pointer("/data/object").get(charge) != simdjson::SUCCESS) return std::nullopt;
  int64_t cents = 0;
  if (charge["amount"].get(cents) != simdjson::SUCCESS) return std::nullopt;
  std::string item = "unknown";
  if (simdjson::dom::element meta; charge["metadata"].get(meta) == simdjson::SUCCESS) item = text(meta, "item_id", item);
  // Struct order, as the Go tree's payment struct marshals.
  std::string json = "{\"customer_id\":" + go_quoted(text(charge, "customer")) +
                     ",\"amount\":" + fmt::format("{}", static_cast<double>(cents) / 100.0) +
                     ",\"currency\":" + go_quoted(text(charge, "currency")) + ",\"item_id\":" + go_quoted(item);
  const bool ok = type == "charge.succeeded";
  if (!ok) json += ",\"reason\":" + go_quoted(text(charge, "failure_message", "unknown"));
  json += "}";
  return app::make_leaf(ok ? "payment.completed" : "payment.failed", std::move(json), name_);
}

}  // namespace forest::examples
