// Launch geometry shared by the elementwise, spatial and reduction kernels: 256-thread blocks and a
// grid capped so a grid-stride loop covers any element count.
#pragma once

#include <cstdint>

namespace ts::cuda {

constexpr int kBlock = 256;

/** Blocks for n elements at kBlock threads each, at least 1 and at most 65535·32 (the loop covers the rest). */
inline unsigned grid(int64_t n) {
  int64_t g = (n + kBlock - 1) / kBlock;
  if (g < 1) g = 1;
  if (g > 65535LL * 32) g = 65535LL * 32;
  return static_cast<unsigned>(g);
}

}  // namespace ts::cuda

// One thread per element; int64 indices so tensors past 2^31 elements stay correct.
#define GRID_STRIDE(i, n) for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); i += static_cast<int64_t>(blockDim.x) * gridDim.x)
