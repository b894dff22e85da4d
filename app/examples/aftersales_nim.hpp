// An example nim (the Go app's aftersales-nim): catches payment.completed and payment.failed,
// composts a follow-up task (task-<customer>-<unix> or task-<customer>-failed-<unix>, action
// create) that the decomposer writes to soil, and drops followup.required, plus email.send
// for amounts of 100 or more.
#pragma once

#include "app/layer/tree.hpp"

namespace forest::examples {

class AfterSalesNim final : public app::BaseNim {
 public:
  AfterSalesNim(app::Wind& wind, app::Humus& humus, app::Soil& soil, app::LogFn log = {})
      : BaseNim("aftersales-nim", wind, humus, soil, std::move(log)) {}
  [[nodiscard]] std::vector<std::string> subjects() const override { return {"payment.completed", "payment.failed"}; }
  std::expected<void, forest::Error> handle(const app::Leaf& leaf) override;
};

}  // namespace forest::examples
