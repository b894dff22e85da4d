// Precompiled header of the test executables that use it (meson's cpp_pch; tests/meson.build
// says which): what broker/pch/broker_pch.hpp says holds here too (system headers only, built
// with each target's flags, -Winvalid-pch, and GCC 12's lost diagnostic pragmas). No source
// of those targets defines a CATCH_CONFIG_* macro: the runner is Debian's prebuilt
// Catch2WithMain, and the micro-benchmarks, which do define some, do not use this header.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>
