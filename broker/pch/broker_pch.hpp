// Precompiled header of forest_broker (meson's cpp_pch). Meson compiles it with the target's
// own flags (release, ASan+UBSan, TSan alike) and force-includes it (-include) before every
// source of the target; -Winvalid-pch with -Werror turns a PCH that cannot be used into an
// error instead of a silent fallback. -Db_pch=false builds without it.
//
// Only system headers, and only those most sources here parse anyway: no project header, no
// macro of ours, so a source means the same with or without it. Not here on purpose:
// simdjson.h (five sources use it, and its `#pragma GCC target` regions are pragma state: see
// below) and Boost.Beast (one source): every source pays to load what is here, about 1 s for
// Boost.Asio, so only what most sources parse anyway earns its place.
// No #pragma once: GCC compiles this as a main file and would warn.
//
// GCC 12 does not keep a header's `#pragma GCC diagnostic` state in a PCH. libstdc++'s
// char_traits.h silences GCC 12's -Warray-bounds false positives on std::string copies that
// way, so with the PCH one can surface (-O3) where the build without it is clean: two spots
// were reworded for it (broker/config/conf_parser.cpp, bench/hostile_crowd.cpp). A new error
// inside char_traits.h that -Db_pch=false does not show is that; reword the string code.

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility> (broker/asio.hpp).
#include <utility>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>
