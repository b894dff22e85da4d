#include "demo.hpp"

#include "app/examples/aftersales_nim.hpp"
#include "app/examples/payment_tree.hpp"

namespace forest::examples {

namespace {

// What a Stripe webhook would bring: two payments (one of 150 USD), one failure, one small.
constexpr std::string_view kSamples[] = {
    R"({"type":"charge.succeeded","data":{"object":{"amount":15000,"currency":"usd","customer":"cus_demo1","metadata":{"item_id":"oak-sapling"}}}})",
    R"({"type":"charge.succeeded","data":{"object":{"amount":4250,"currency":"eur","customer":"cus_demo2","metadata":{"item_id":"moss"}}}})",
    R"({"type":"charge.failed","data":{"object":{"amount":9900,"currency":"usd","customer":"cus_demo3","failure_message":"card declined"}}})",
    R"({"type":"charge.succeeded","data":{"object":{"amount":500,"currency":"usd","customer":"cus_demo4"}}})",
};

}  // namespace

struct Demo::Parts {
  PaymentTree tree;
  AfterSalesNim nim;
  forest::KvWatcher watch;
  forest::Subscription trigger;
  Parts(app::Wind& w, app::River& r, app::Humus& h, app::Soil& s, app::LogFn log) : tree(w, r), nim(w, h, s, std::move(log)) {}
};

Demo::Demo(app::Wind& wind, app::River& river, app::Humus& humus, app::Soil& soil, app::LogFn log)
    : parts_(std::make_unique<Parts>(wind, river, humus, soil, log)), wind_(wind), river_(river), soil_(soil), log_(std::move(log)) {}

Demo::~Demo() { stop(); }

std::expected<void, forest::Error> Demo::start() {
  if (auto r = parts_->nim.start(); !r) return r;
  if (auto r = parts_->tree.start(); !r) return r;
  // Keys are single tokens ("task-cus_1-1700000000"): a prefix is filtered here, not by a
  // subject wildcard.
  auto watch = soil_.watch(">", [log = log_](const std::string& key, const std::string& value, uint64_t rev) {
    if (log && key.starts_with("task-")) log("demo: soil " + key + " (revision " + std::to_string(rev) + ") = " + value);
  });
  if (!watch) return std::unexpected(watch.error());
  parts_->watch = std::move(*watch);
  auto trigger = wind_.catch_leaves(kTriggerSubject, [this](const app::Leaf&) { flow_samples(); });
  if (!trigger) return std::unexpected(trigger.error());
  parts_->trigger = std::move(*trigger);
  return {};
}

int Demo::flow_samples() {
  int n = 0;
  for (std::string_view sample : kSamples) {
    if (auto seq = river_.flow("stripe.webhook", sample); seq) {
      ++n;
    } else if (log_) {
      log_("demo: flow failed: " + seq.error().text);
    }
  }
  if (log_) log_("demo: flowed " + std::to_string(n) + " sample payments into river.stripe.webhook");
  return n;
}

void Demo::stop() {
  if (!parts_) return;
  parts_->tree.stop();
  parts_->nim.stop();
  parts_->watch.stop();
  (void)parts_->trigger.unsubscribe();
}

}  // namespace forest::examples
