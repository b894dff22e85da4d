#include "app/core/error.hpp"

namespace forest::app {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::syntax: return "syntax";
    case Errc::too_deep: return "too_deep";
    case Errc::type_mismatch: return "type_mismatch";
    case Errc::bad_time: return "bad_time";
    case Errc::bad_base64: return "bad_base64";
    case Errc::empty_subject: return "empty_subject";
    case Errc::empty_source: return "empty_source";
    case Errc::empty_data: return "empty_data";
    case Errc::zero_ts: return "zero_ts";
  }
  return "unknown";
}

}  // namespace forest::app
