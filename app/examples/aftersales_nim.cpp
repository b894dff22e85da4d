#include "aftersales_nim.hpp"

#include <simdjson.h>

#include <chrono>

#include "app/core/go_json.hpp"

namespace forest::examples {

std::expected<void, forest::Error> AfterSalesNim::handle(const app::Leaf& in) {
  simdjson::dom::parser p;
  simdjson::dom::element payment;
  if (p.parse(in.data.data(), in.data.size()).get(payment) != simdjson::SUCCESS) {
    return std::unexpected(forest::Error{"not a payment: " + in.data, 0, 0});
  }
  std::string_view customer;
  if (payment["customer_id"].get(customer) != simdjson::SUCCESS) customer = "unknown";
  double amount = 0;
  if (payment["amount"].get(amount) != simdjson::SUCCESS) amount = 0;
  const bool failed = in.subject == "payment.failed";
  const auto unix = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  const std::string entity =
      "task-" + std::string(customer) + (failed ? "-failed-" : "-") + std::to_string(unix.count());
  std::string task = "{\"type\":";
  app::append_go_string(task, failed ? "payment_recovery" : "followup");
  task += ",\"customer_id\":";
  app::append_go_string(task, customer);
  task += ",\"payment\":" + in.data + ",\"status\":\"pending\"}";
  if (auto slot = compost(entity, "create", task); !slot) return std::unexpected(slot.error());
  std::string followup = "{\"customer_id\":";
  app::append_go_string(followup, customer);
  followup += ",\"task\":";
  app::append_go_string(followup, entity);
  followup += "}";
  if (auto r = leaf("followup.required", followup); !r) return r;
  if (!failed && amount >= 100) {
    if (auto r = leaf("email.send", followup); !r) return r;
  }
  return {};
}

}  // namespace forest::examples
