#include "jetstream/api_errors.hpp"

#include <array>

#include "json_writer.hpp"

namespace forest::broker::js {
namespace {

struct Row {
  int code;
  int err_code;
  std::string_view description;
};

constexpr std::array kRows = {
#define X(id, code, err_code, description) Row{code, err_code, description},
#include "api_errors.inc"
#undef X
};

}  // namespace

ApiError api_error(JsErr e, std::initializer_list<std::pair<std::string_view, std::string_view>> args) {
  const Row& row = kRows[static_cast<std::size_t>(e)];
  ApiError out{row.code, row.err_code, std::string(row.description)};
  for (const auto& [name, value] : args) {
    std::string placeholder;  // appended, not "{" + name + "}": g++ 12 -Wrestrict misfires on that
    placeholder.append("{").append(name).append("}");
    for (auto at = out.description.find(placeholder); at != std::string::npos;
         at = out.description.find(placeholder, at + value.size())) {
      out.description.replace(at, placeholder.size(), value);
    }
  }
  return out;
}

std::string api_error_json(const ApiError& e) {
  JsonWriter w;
  w.begin_object().field("code", e.code).field("err_code", e.err_code).field("description", e.description).end_object();
  return w.take();
}

}  // namespace forest::broker::js
