// An example tree (the Go app's payment-tree): observes river.stripe.webhook, reads a Stripe
// charge event ({"type":"charge.succeeded"|"charge.failed","data":{"object":{amount (cents),
// currency, customer, metadata.item_id, failure_message}}}) and drops payment.completed or
// payment.failed with {customer_id, amount (dollars), currency, item_id, reason?}.
#pragma once

#include "app/layer/tree.hpp"

namespace forest::examples {

class PaymentTree final : public app::BaseTree {
 public:
  PaymentTree(app::Wind& wind, app::River& river) : BaseTree("payment-tree", wind, river) {}
  [[nodiscard]] std::vector<std::string> patterns() const override { return {"river.stripe.webhook"}; }
  [[nodiscard]] std::optional<app::Leaf> parse(std::string_view subject, std::string_view data) const override;
};

}  // namespace forest::examples
