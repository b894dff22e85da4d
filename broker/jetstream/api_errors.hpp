// JetStream API errors as nats-server reports them: an HTTP-like `code`, the `err_code`
// clients switch on, and the description, all from one table (api_errors.inc, generated from
// nats-server 2.9.10's own table by scripts/gen-js-errors.py).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace forest::broker::js {

enum class JsErr : uint16_t {
#define X(id, code, err_code, description) id,
#include "api_errors.inc"
#undef X
};

struct ApiError {
  int code = 0;
  int err_code = 0;
  std::string description;
};

// The error with its placeholders ("{err}", "{stream}", ...) filled from `args`.
[[nodiscard]] ApiError api_error(JsErr e, std::initializer_list<std::pair<std::string_view, std::string_view>> args = {});

// {"code":..,"err_code":..,"description":"..."}
[[nodiscard]] std::string api_error_json(const ApiError& e);

}  // namespace forest::broker::js
