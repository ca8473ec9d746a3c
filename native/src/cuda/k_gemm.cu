// Tiled SGEMM for Gemm, MatMul (batched, broadcast batch dims) and 1×1 convolutions. A block
// computes a 64×64 output tile; per K-step of 8 it stages an A tile (64×8) and a B tile (8×64) in
// shared memory; each of the 256 threads accumulates a 4×4 register block (rows ty + 16·i, columns
// tx + 16·j, so shared-memory reads are broadcast or conflict-free). Operands are read through
// arbitrary strides, so transposes cost nothing but coalescing.
#include "launch.hpp"

namespace ts::cuda {

namespace {

constexpr int BM = 64, BN = 64, BK = 8, TPB = 256;

__global__ void __launch_bounds__(TPB) gemmKernel(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ Y, GemmArgs g, int64_t nBatch) {
  __shared__ float As[BK][BM + 4];
  __shared__ float Bs[BK][BN + 4];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * BM, n0 = static_cast<int64_t>(blockIdx.x) * BN;
  for (int64_t bz = blockIdx.z; bz < nBatch; bz += gridDim.z) {
    int64_t aOff = 0, bOff = 0, rem = bz;
    for (int d = g.batchRank - 1; d >= 0; d--) {
      int64_t idx = rem % g.batch[d];
      rem /= g.batch[d];
      aOff += idx * g.aBatch[d];
      bOff += idx * g.bBatch[d];
    }
    const float* a = A + aOff;
    const float* b = B + bOff;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < 4; j++) acc[i][j] = 0.f;
    for (int64_t k0 = 0; k0 < g.K; k0 += BK) {
#pragma unroll
      for (int l = 0; l < 2; l++) {
        int e = tid + l * TPB;
        int mm = e / BK, kk = e % BK;
        int64_t m = m0 + mm, k = k0 + kk;
        As[kk][mm] = (m < g.M && k < g.K) ? a[m * g.am + k * g.ak] : 0.f;
        int kb = e / BN, nn = e % BN;
        int64_t kb2 = k0 + kb, n = n0 + nn;
        Bs[kb][nn] = (kb2 < g.K && n < g.N) ? b[kb2 * g.bk + n * g.bn] : 0.f;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < BK; kk++) {
        float av[4], bv[4];
#pragma unroll
        for (int i = 0; i < 4; i++) av[i] = As[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; j++) bv[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
      }
      __syncthreads();
    }
    float* y = Y + bz * g.M * g.N;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      int64_t m = m0 + ty + 16 * i;
      if (m >= g.M) continue;
#pragma unroll
      for (int j = 0; j < 4; j++) {
        int64_t n = n0 + tx + 16 * j;
        if (n >= g.N) continue;
        float v = g.alpha * acc[i][j];
        if (g.c) v += g.c[m * g.cm + n * g.cn];
        y[m * g.N + n] = v;
      }
    }
  }
}

}  // namespace

void launchGemm(const float* a, const float* b, float* y, const GemmArgs& g, cudaStream_t s) {
  if (g.M <= 0 || g.N <= 0) return;
  int64_t nBatch = 1;
  for (int d = 0; d < g.batchRank; d++) nBatch *= g.batch[d];
  if (nBatch <= 0) return;
  int64_t gx = (g.N + BN - 1) / BN, gy = (g.M + BM - 1) / BM;
  dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(nBatch < 65535 ? nBatch : 65535));
  gemmKernel<<<grid, TPB, 0, s>>>(a, b, y, g, nBatch);
}

}  // namespace ts::cuda
