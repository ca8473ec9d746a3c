// Reductions: Softmax (max-subtracted, like oneDNN's), LayerNormalization (two-pass variance) and
// ReduceSum / ReduceMean over any set of axes. A block per row when rows are long, a thread per
// row otherwise.
#include <cfloat>

#include "grid.hpp"
#include "launch.hpp"

namespace ts::cuda {

namespace {

/** Block-wide reduction (sum or max) of one value per thread; every thread gets the result. */
template <bool Max>
__device__ float blockReduce(float v) {
  __shared__ float part[kBlock / 32];
  __shared__ float result;
  for (int o = 16; o > 0; o /= 2) {
    float u = __shfl_down_sync(0xffffffffu, v, o);
    v = Max ? fmaxf(v, u) : v + u;
  }
  int lane = threadIdx.x % 32, wid = threadIdx.x / 32;
  if (lane == 0) part[wid] = v;
  __syncthreads();
  if (wid == 0) {
    int nw = (blockDim.x + 31) / 32;
    v = lane < nw ? part[lane] : (Max ? -FLT_MAX : 0.f);
    for (int o = 16; o > 0; o /= 2) {
      float u = __shfl_down_sync(0xffffffffu, v, o);
      v = Max ? fmaxf(v, u) : v + u;
    }
    if (lane == 0) result = v;
  }
  __syncthreads();
  float r = result;
  __syncthreads();  // `result` and `part` are reused by the next call
  return r;
}

/** Softmax over contiguous rows: one block per row. */
__global__ void softmaxRowKernel(const float* __restrict__ x, float* __restrict__ y, int64_t D) {
  const float* p = x + blockIdx.x * D;
  float* q = y + blockIdx.x * D;
  float m = -FLT_MAX;
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) m = fmaxf(m, p[k]);
  m = blockReduce<true>(m);
  float s = 0.f;
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) s += expf(p[k] - m);
  s = blockReduce<false>(s);
  for (int64_t k = threadIdx.x; k < D; k += blockDim.x) q[k] = expf(p[k] - m) / s;
}

/** Softmax over a strided axis: one thread per (outer, inner) column. */
__global__ void softmaxColKernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer, int64_t D, int64_t inner) {
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < outer * inner; c += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    int64_t o = c / inner, in = c % inner;
    const float* p = x + o * D * inner + in;
    float* q = y + o * D * inner + in;
    float m = -FLT_MAX;
    for (int64_t k = 0; k < D; k++) m = fmaxf(m, p[k * inner]);
    float s = 0.f;
    for (int64_t k = 0; k < D; k++) s += expf(p[k * inner] - m);
    for (int64_t k = 0; k < D; k++) q[k * inner] = expf(p[k * inner] - m) / s;
  }
}

__global__ void layerNormKernel(const float* __restrict__ x, const float* __restrict__ scale, const float* __restrict__ bias, float* __restrict__ y, int64_t inner, float eps) {
  const float* p = x + blockIdx.x * inner;
  float* q = y + blockIdx.x * inner;
  float s = 0.f;
  for (int64_t k = threadIdx.x; k < inner; k += blockDim.x) s += p[k];
  float mean = blockReduce<false>(s) / static_cast<float>(inner);
  float v = 0.f;
  for (int64_t k = threadIdx.x; k < inner; k += blockDim.x) {
    float d = p[k] - mean;
    v += d * d;
  }
  float inv = 1.f / sqrtf(blockReduce<false>(v) / static_cast<float>(inner) + eps);
  for (int64_t k = threadIdx.x; k < inner; k += blockDim.x) q[k] = (p[k] - mean) * inv * scale[k] + (bias ? bias[k] : 0.f);
}

struct ReduceDims {
  int nk = 0, nr = 0;
  int64_t keptSize[kMaxRank], keptStride[kMaxRank];
  int64_t redSize[kMaxRank], redStride[kMaxRank];
  int64_t R = 1;
  bool mean = false;
};

__device__ __forceinline__ int64_t keptOffset(const ReduceDims& d, int64_t o) {
  int64_t off = 0;
  for (int k = d.nk - 1; k >= 0; k--) {
    off += (o % d.keptSize[k]) * d.keptStride[k];
    o /= d.keptSize[k];
  }
  return off;
}

__device__ __forceinline__ int64_t reducedOffset(const ReduceDims& d, int64_t r) {
  int64_t off = 0;
  for (int k = d.nr - 1; k >= 0; k--) {
    off += (r % d.redSize[k]) * d.redStride[k];
    r /= d.redSize[k];
  }
  return off;
}

__global__ void reduceBlockKernel(const float* __restrict__ x, float* __restrict__ y, ReduceDims d) {
  const float* p = x + keptOffset(d, blockIdx.x);
  float s = 0.f;
  for (int64_t r = threadIdx.x; r < d.R; r += blockDim.x) s += p[reducedOffset(d, r)];
  s = blockReduce<false>(s);
  if (threadIdx.x == 0) y[blockIdx.x] = d.mean ? s / static_cast<float>(d.R) : s;
}

__global__ void reduceThreadKernel(const float* __restrict__ x, float* __restrict__ y, ReduceDims d, int64_t outN) {
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < outN; o += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const float* p = x + keptOffset(d, o);
    float s = 0.f;
    for (int64_t r = 0; r < d.R; r++) s += p[reducedOffset(d, r)];
    y[o] = d.mean ? s / static_cast<float>(d.R) : s;
  }
}

}  // namespace

void launchSoftmax(const float* x, float* y, int64_t outer, int64_t D, int64_t inner, cudaStream_t s) {
  if (outer <= 0 || D <= 0 || inner <= 0) return;
  if (inner == 1 && outer <= 0x7fffffffLL) softmaxRowKernel<<<static_cast<unsigned>(outer), kBlock, 0, s>>>(x, y, D);
  else softmaxColKernel<<<grid(outer * inner), kBlock, 0, s>>>(x, y, outer, D, inner);
}

void launchLayerNorm(const float* x, const float* scale, const float* bias, float* y, int64_t outer, int64_t inner, float eps, cudaStream_t s) {
  if (outer <= 0 || inner <= 0) return;
  layerNormKernel<<<static_cast<unsigned>(outer), kBlock, 0, s>>>(x, scale, bias, y, inner, eps);
}

void launchReduce(const float* x, float* y, const int64_t* shape, const bool* reduced, int rank, bool mean, cudaStream_t s) {
  ReduceDims d;
  int64_t stride = 1;
  int64_t keptStrides[kMaxRank], redStrides[kMaxRank], keptSizes[kMaxRank], redSizes[kMaxRank];
  int nk = 0, nr = 0;
  // Walk from the last dim to get row-major strides, then store in dim order.
  int64_t strides[kMaxRank];
  for (int i = rank - 1; i >= 0; i--) strides[i] = stride, stride *= shape[i];
  for (int i = 0; i < rank; i++) {
    if (reduced[i]) redSizes[nr] = shape[i], redStrides[nr++] = strides[i];
    else keptSizes[nk] = shape[i], keptStrides[nk++] = strides[i];
  }
  d.nk = nk, d.nr = nr;
  int64_t outN = 1;
  for (int i = 0; i < nk; i++) d.keptSize[i] = keptSizes[i], d.keptStride[i] = keptStrides[i], outN *= keptSizes[i];
  for (int i = 0; i < nr; i++) d.redSize[i] = redSizes[i], d.redStride[i] = redStrides[i], d.R *= redSizes[i];
  d.mean = mean;
  if (outN <= 0) return;
  if (d.R >= 256 && outN <= 0x7fffffffLL) reduceBlockKernel<<<static_cast<unsigned>(outN), kBlock, 0, s>>>(x, y, d);
  else reduceThreadKernel<<<grid(outN), kBlock, 0, s>>>(x, y, d, outN);
}

}  // namespace ts::cuda
