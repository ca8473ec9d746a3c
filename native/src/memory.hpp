// Activation memory. Planned/trace runs take one arena per in-flight task from an ArenaPool (arenas
// are reused across tasks, so steady-state runs allocate nothing). Caching runs use a size-bucketed
// caching allocator shared by all tasks — the baseline, like PyTorch's: blocks rounded to 512 bytes,
// best fit among cached blocks no larger than twice the request, never returned to the device until
// trim().
#pragma once

#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backend.hpp"

namespace ts {

class ArenaPool {
 public:
  explicit ArenaPool(Backend& b) : backend_(b) {}
  ~ArenaPool() { trim(); }
  struct Lease {
    void* ptr = nullptr;
    size_t capacity = 0;
  };
  Lease acquire(size_t bytes);
  void release(Lease l);
  /** Frees idle arenas. */
  void trim();
  size_t reservedBytes() const;

 private:
  Backend& backend_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> idle_;
  size_t reserved_ = 0;
};

class CachingAllocator {
 public:
  explicit CachingAllocator(Backend& b) : backend_(b) {}
  ~CachingAllocator() { trim(); }
  void* alloc(size_t bytes);
  void free(void* p);
  void trim();
  struct Stats {
    size_t reserved = 0, inUse = 0, peakReserved = 0, peakInUse = 0;
  };
  Stats stats() const;
  /** Starts a new peak window (peaks = current values). */
  void resetPeaks();

 private:
  Backend& backend_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> idle_;
  std::unordered_map<void*, size_t> size_;
  Stats s_;
};

}  // namespace ts
