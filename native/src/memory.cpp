#include "memory.hpp"

namespace ts {

ArenaPool::Lease ArenaPool::acquire(size_t bytes) {
  size_t want = std::max<size_t>(bytes, 64);
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = idle_.lower_bound(want);
    // Reuse an idle arena unless it is much larger (it would pin memory a bigger task could use).
    if (it != idle_.end() && it->first <= 2 * want + 65536) {
      Lease lease{it->second, it->first};
      idle_.erase(it);
      return lease;
    }
  }
  void* p = backend_.alloc(want);
  std::lock_guard<std::mutex> l(mu_);
  reserved_ += want;
  return {p, want};
}

void ArenaPool::release(Lease lease) {
  if (!lease.ptr) return;
  std::lock_guard<std::mutex> l(mu_);
  idle_.emplace(lease.capacity, lease.ptr);
}

void ArenaPool::trim() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [n, p] : idle_) {
    backend_.dealloc(p, n);
    reserved_ -= n;
  }
  idle_.clear();
}

size_t ArenaPool::reservedBytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return reserved_;
}

void* CachingAllocator::alloc(size_t bytes) {
  size_t want = (std::max<size_t>(bytes, 1) + 511) / 512 * 512;
  std::lock_guard<std::mutex> l(mu_);
  auto it = idle_.lower_bound(want);
  void* p;
  size_t got;
  if (it != idle_.end() && it->first <= 2 * want) {
    p = it->second;
    got = it->first;
    idle_.erase(it);
  } else {
    p = backend_.alloc(want);
    got = want;
    size_[p] = got;
    s_.reserved += got;
    s_.peakReserved = std::max(s_.peakReserved, s_.reserved);
  }
  s_.inUse += got;
  s_.peakInUse = std::max(s_.peakInUse, s_.inUse);
  return p;
}

void CachingAllocator::free(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> l(mu_);
  size_t got = size_.at(p);
  s_.inUse -= got;
  idle_.emplace(got, p);
}

void CachingAllocator::trim() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [n, p] : idle_) {
    backend_.dealloc(p, n);
    size_.erase(p);
    s_.reserved -= n;
  }
  idle_.clear();
}

CachingAllocator::Stats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return s_;
}

void CachingAllocator::resetPeaks() {
  std::lock_guard<std::mutex> l(mu_);
  s_.peakReserved = s_.reserved;
  s_.peakInUse = s_.inUse;
}

}  // namespace ts
