// The one place Boost.Asio is included from. Boost 1.74's awaitable.hpp uses std::exchange
// without including <utility>, so it must come first (DESIGN.md, toolchain facts).
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace forest {
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
}  // namespace forest
