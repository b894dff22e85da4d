// Precompiled header of forest-bench (meson's cpp_pch): what broker/pch/broker_pch.hpp says
// holds here too (system headers only, built with the target's flags, -Winvalid-pch, and
// GCC 12's lost diagnostic pragmas).

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility> (broker/asio.hpp).
#include <utility>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
