// Helpers for the hand-written CPU kernels: a base class and an OpenMP parallel-for that stays on
// the calling thread when the op runs single-threaded (opThreads = 1, the default per stream).
#pragma once

#include <omp.h>

#include <algorithm>
#include <string>

#include "../backend.hpp"

namespace ts::cpu {

class OwnKernel : public Kernel {
 public:
  explicit OwnKernel(std::string name) : name_(std::move(name)) {}
  std::string impl() const override { return "own:" + name_; }

 private:
  std::string name_;
};

/** Splits [0, n) into at most nthr contiguous chunks of at least `grain` items; f(begin, end). */
template <typename F>
void parallelFor(int64_t n, int nthr, int64_t grain, const F& f) {
  int64_t chunks = grain > 0 ? n / grain : n;
  int t = static_cast<int>(std::min<int64_t>(nthr, chunks));
  if (t <= 1) {
    if (n > 0) f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(t)
  {
    int i = omp_get_thread_num();
    int k = omp_get_num_threads();
    int64_t b = n * i / k, e = n * (i + 1) / k;
    if (b < e) f(b, e);
  }
}

/** Row-major strides of a shape (elements). */
inline Shape rowStrides(const Shape& s) {
  Shape st(s.size());
  int64_t v = 1;
  for (size_t i = s.size(); i-- > 0;) st[i] = v, v *= s[i];
  return st;
}

/** Shape left-padded with 1s to `rank`. */
inline Shape leftPad(Shape s, size_t rank) {
  while (s.size() < rank) s.insert(s.begin(), 1);
  return s;
}

/** Strides of `in` read as broadcast into `out`'s rank (0 where the input dim is 1). */
inline Shape broadcastStrides(const Shape& in, const Shape& out) {
  Shape p = leftPad(in, out.size());
  Shape st = rowStrides(p);
  for (size_t i = 0; i < p.size(); i++)
    if (p[i] == 1 && out[i] != 1) st[i] = 0;
  return st;
}

}  // namespace ts::cpu
