// The demo (forest run --demo, or DEMO=true as in the Go app): plants the example tree and nim
// and flows sample Stripe events through river -> tree -> leaf -> nim -> humus -> soil,
// logging what reaches soil. A leaf on forest.demo.flow (from any node of the forest) flows
// the samples again.
#pragma once

#include <expected>
#include <memory>

#include "app/layer/tree.hpp"

namespace forest::examples {

class Demo {
 public:
  Demo(app::Wind& wind, app::River& river, app::Humus& humus, app::Soil& soil, app::LogFn log);
  ~Demo();
  static constexpr const char* kTriggerSubject = "forest.demo.flow";
  // Starts the tree, the nim, the soil watch and the trigger.
  std::expected<void, forest::Error> start();
  // Flows the sample events; how many went into the river.
  int flow_samples();
  void stop();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
  app::Wind& wind_;
  app::River& river_;
  app::Soil& soil_;
  app::LogFn log_;
};

}  // namespace forest::examples
