// The in-memory store: the engine over MemKv. Nothing survives the process; sync() and the
// durability policy have nothing to do.

#include "storage/engine.hpp"
#include "storage/kv.hpp"

namespace forest::storage {

std::unique_ptr<StreamStore> open_memory_store() {
  // An empty MemKv always opens: the engine writes its format record and is ready.
  auto engine = detail::Engine::open(make_mem_kv(), false, "memory store");
  if (!engine) return nullptr;
  return std::move(*engine);
}

}  // namespace forest::storage
